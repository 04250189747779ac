//! `!regulars`: how many regulars there are (unique chatters of at least 3 of the last 5 ended
//! streams, as of this stream's start) and how many of them are here this stream.

use super::{Context, Reply};

pub(super) async fn answer(ctx: &Context<'_>) -> anyhow::Result<Reply> {
    let Some(stream) = ctx.fresh.current_or_last_stream(ctx.channel).await? else {
        return Ok(Reply::new("No stream recorded yet."));
    };
    let (regulars, here) = ctx.fresh.stream_regulars(&stream).await?;
    let which = if stream.ended_at.is_none() {
        "this stream"
    } else {
        "last stream"
    };
    Ok(Reply::new(format!(
        "{regulars} regular{} (chatters of 3 of the last 5 streams), {here} of them here {which}",
        if regulars == 1 { "" } else { "s" }
    )))
}
