//! `!watchtime [user]`: a user's watch time this stream and over the last 30 days, to the
//! second.

use chatters_core::audience::watch_text;
use chatters_core::domain::Login;

use super::{Context, Reply};

pub(super) async fn answer(ctx: &Context<'_>, user: Option<&Login>) -> anyhow::Result<Reply> {
    let (id, login) = match user {
        None => (ctx.asker, ctx.asker_login.clone()),
        Some(login) => {
            // A user first seen in the last moments is known only to ingestion yet.
            let pending = ctx
                .fresh
                .overlay()
                .names
                .iter()
                .find(|(_, l)| *l == login)
                .map(|(id, _)| *id);
            let stored = match pending {
                Some(id) => vec![(login.clone(), id)],
                None => {
                    ctx.figures
                        .store()
                        .user_ids(std::slice::from_ref(login))
                        .await?
                }
            };
            match stored[..] {
                [(_, id), ..] => (id, login.clone()),
                [] => return Ok(Reply::new(format!("I have not seen {login} here."))),
            }
        }
    };
    let stream = ctx.fresh.current_or_last_stream(ctx.channel).await?;
    let (in_stream, window) = ctx
        .fresh
        .watch_time(ctx.channel, id, stream.as_ref(), ctx.now)
        .await?;
    let which = match &stream {
        Some(s) if s.ended_at.is_none() => "this stream",
        Some(_) => "last stream",
        None => return Ok(Reply::new("No stream recorded yet.")),
    };
    Ok(Reply::new(format!(
        "{login} watched {} {which}, {} over the last 30 days",
        watch_text(in_stream),
        watch_text(window)
    )))
}
