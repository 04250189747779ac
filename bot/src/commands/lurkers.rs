//! `!lurkers`: lurker count and share.

use super::reply::percent;
use super::{Context, Reply};

pub(super) async fn answer(ctx: &Context<'_>) -> anyhow::Result<Reply> {
    let Some(stream) = ctx.fresh.current_or_last_stream(ctx.channel).await? else {
        return Ok(Reply::new("No stream recorded yet."));
    };
    let f = ctx.fresh.stream_stats(&stream).await?;
    let share = (f.unique_chatters > 0).then(|| f.lurkers as f64 / f.unique_chatters as f64);
    Ok(Reply::new(format!(
        "{} lurkers of {} chatters ({})",
        f.lurkers,
        f.unique_chatters,
        percent(share)
    )))
}
