//! `!stats`: unique, new, returning, peak, messages, lurkers, and the stream chart's link.

use super::{Context, Reply};

pub(super) async fn answer(ctx: &Context<'_>) -> anyhow::Result<Reply> {
    let Some(stream) = ctx.fresh.current_or_last_stream(ctx.channel).await? else {
        return Ok(Reply::new("No stream recorded yet."));
    };
    let f = ctx.fresh.stream_stats(&stream).await?;
    let which = if stream.ended_at.is_none() {
        "This stream"
    } else {
        "Last stream"
    };
    Ok(Reply::new(format!(
        "{which}: {} unique ({} new, {} returning), peak {}, {} messages, {} lurkers · {}/c/{}/streams/{}.png",
        f.unique_chatters,
        f.new_chatters,
        f.returning_chatters,
        f.peak_chatters,
        f.messages,
        f.lurkers,
        ctx.public_base_url,
        ctx.channel.login,
        stream.id,
    )))
}
