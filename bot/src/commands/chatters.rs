//! `!chatters`: present now, unique and new this stream.

use super::{Context, Reply};

pub(super) async fn answer(ctx: &Context<'_>) -> anyhow::Result<Reply> {
    let present = ctx
        .ingest
        .present_count(&ctx.channel.login)
        .await?
        .unwrap_or(0);
    let stream = ctx.fresh.current_or_last_stream(ctx.channel).await?;
    Ok(Reply::new(match stream {
        Some(s) if s.ended_at.is_none() => {
            let f = ctx.fresh.stream_stats(&s).await?;
            format!(
                "{present} present now · {} unique this stream · {} new",
                f.unique_chatters, f.new_chatters
            )
        }
        Some(s) => {
            let f = ctx.fresh.stream_stats(&s).await?;
            format!(
                "{present} present now · offline (last stream: {} unique, {} new)",
                f.unique_chatters, f.new_chatters
            )
        }
        None => format!("{present} present now · no stream recorded yet"),
    }))
}
