//! `!mood`: the last 10 minutes, the top 3 moods as shares of the messages carrying any mood.

use super::reply::percent;
use super::{Context, Reply};

pub(super) async fn answer(ctx: &Context<'_>) -> anyhow::Result<Reply> {
    let shares = ctx.fresh.mood_now(ctx.channel, ctx.now).await?;
    if shares.top.is_empty() {
        return Ok(Reply::new(format!(
            "No mood in the last 10 minutes ({} messages).",
            shares.messages
        )));
    }
    let list: Vec<String> = shares
        .top
        .iter()
        .map(|(mood, share)| format!("{mood} {}", percent(Some(*share))))
        .collect();
    Ok(Reply::new(format!(
        "Mood, last 10 min: {} (of {} messages with a mood)",
        list.join(", "),
        shares.mood_messages
    )))
}
