//! `!seen <user>`: first and last seen, streams attended, messages, account age, former names.

use chatters_core::domain::Login;

use super::{Context, Reply, ago};

pub(super) async fn answer(ctx: &Context<'_>, user: &Login) -> anyhow::Result<Reply> {
    let Some(seen) = ctx.fresh.seen(ctx.channel, user).await? else {
        return Ok(Reply::new(format!("I have not seen {user} here.")));
    };
    let Some(r) = seen.record else {
        return Ok(Reply::new(format!("I have not seen {user} here.")));
    };
    let mut text = format!(
        "{}: first seen {} ({}), last seen {}, {} stream{}, {} message{}",
        r.login,
        r.first_seen.date(),
        ago(r.first_seen, ctx.now),
        ago(r.last_seen, ctx.now),
        r.streams_attended,
        if r.streams_attended == 1 { "" } else { "s" },
        r.messages,
        if r.messages == 1 { "" } else { "s" },
    );
    if let Some(created) = seen.created_at {
        let days = (ctx.now.0 - created.0).max(0) / 86_400;
        let age = if days >= 365 {
            format!("{} years", days / 365)
        } else {
            format!("{days} days")
        };
        text.push_str(&format!(", account {age} old"));
    }
    let former: Vec<String> = seen
        .names
        .iter()
        .filter(|n| n.login != r.login)
        .map(|n| n.login.to_string())
        .collect();
    if !former.is_empty() {
        text.push_str(&format!(", formerly {}", former.join(", ")));
    }
    Ok(Reply::new(text))
}
