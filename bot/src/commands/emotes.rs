//! `!emotes`: the stream's top 5 emotes with their counts.

use super::{Context, Reply};

/// Emotes listed.
const TOP: i64 = 5;

pub(super) async fn answer(ctx: &Context<'_>) -> anyhow::Result<Reply> {
    let Some(stream) = ctx.fresh.current_or_last_stream(ctx.channel).await? else {
        return Ok(Reply::new("No stream recorded yet."));
    };
    let top = ctx.fresh.stream_emotes(&stream, TOP).await?;
    if top.is_empty() {
        return Ok(Reply::new("No emotes used this stream yet."));
    }
    let list: Vec<String> = top
        .iter()
        .map(|e| format!("{} ×{}", e.name, e.count))
        .collect();
    Ok(Reply::new(format!("Top emotes: {}", list.join(", "))))
}
