//! `!new [n]`: the newest new chatters of this stream, first-time chatters marked.

use super::reply::list;
use super::{Context, Reply};

pub(super) async fn answer(ctx: &Context<'_>, n: usize) -> anyhow::Result<Reply> {
    let Some(stream) = ctx.fresh.current_or_last_stream(ctx.channel).await? else {
        return Ok(Reply::new("No stream recorded yet."));
    };
    let limit = i64::try_from(n).unwrap_or(i64::MAX);
    let new = ctx.fresh.new_chatters(&stream, limit).await?;
    if new.is_empty() {
        return Ok(Reply::new("No new chatters this stream yet."));
    }
    let total = ctx.fresh.stream_stats(&stream).await?.new_chatters;
    let names: Vec<String> = new
        .iter()
        .map(|c| {
            if c.first_time {
                format!("{} (first message ever)", c.login)
            } else {
                c.login.to_string()
            }
        })
        .collect();
    let mut r = list(
        &format!("{total} new this stream, newest first: "),
        &names,
        ", ",
    );
    let hidden = total - i64::try_from(new.len()).unwrap_or(0);
    if hidden > 0 && !r.as_str().ends_with("more") {
        r = Reply::new(format!("{} +{hidden} more", r.as_str()));
    }
    Ok(r)
}
