//! `!raid`: the last raid: raider, viewers announced, retention.

use super::reply::percent;
use super::{Context, Reply, ago};

pub(super) async fn answer(ctx: &Context<'_>) -> anyhow::Result<Reply> {
    let Some(r) = ctx.fresh.last_raid(ctx.channel).await? else {
        return Ok(Reply::new("No raid recorded yet."));
    };
    let retention = match r.retention {
        Some(_) => format!(
            "{} of {} arrivals still here 30 min later",
            percent(r.retention),
            r.arrivals
        ),
        None => "no arrivals seen".to_owned(),
    };
    Ok(Reply::new(format!(
        "Last raid: {} with {} viewers, {} · {retention}",
        r.from_login,
        r.viewers,
        ago(r.at, ctx.now)
    )))
}
