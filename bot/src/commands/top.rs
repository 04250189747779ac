//! `!top [n]`: top chatters by messages this stream.

use super::reply::list;
use super::{Context, Reply};

pub(super) async fn answer(ctx: &Context<'_>, n: usize) -> anyhow::Result<Reply> {
    let Some(stream) = ctx.fresh.current_or_last_stream(ctx.channel).await? else {
        return Ok(Reply::new("No stream recorded yet."));
    };
    let top = ctx
        .fresh
        .top_chatters(&stream, i64::try_from(n).unwrap_or(i64::MAX))
        .await?;
    if top.is_empty() {
        return Ok(Reply::new("No messages this stream yet."));
    }
    let items: Vec<String> = top
        .iter()
        .map(|u| format!("{} ({})", u.login, u.count))
        .collect();
    Ok(list("Top chatters: ", &items, ", "))
}
