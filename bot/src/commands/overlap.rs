//! `!overlap <channel>`: chatters shared with another tracked channel over the last 30 days.

use chatters_core::domain::Login;

use super::{Context, Reply};

const WINDOW: i64 = 30 * 86_400;

pub(super) async fn answer(ctx: &Context<'_>, other: &Login) -> anyhow::Result<Reply> {
    let Some(b) = ctx.figures.store().channel(other).await? else {
        return Ok(Reply::new(format!("{other} is not tracked.")));
    };
    let o = ctx
        .figures
        .overlap(ctx.channel, &b, ctx.now.plus(-WINDOW), ctx.now)
        .await?;
    Ok(Reply::new(format!(
        "Last 30 days: {} chatters both here and in {other} ({} here, {} there)",
        o.shared, o.a, o.b
    )))
}
