//! `!accounts`: account-age clusters of this stream's chatters, flagged days first.

use super::reply::list;
use super::{Context, Reply};

pub(super) async fn answer(ctx: &Context<'_>) -> anyhow::Result<Reply> {
    let Some(stream) = ctx.fresh.current_or_last_stream(ctx.channel).await? else {
        return Ok(Reply::new("No stream recorded yet."));
    };
    let c = ctx.fresh.accounts_stream(&stream).await?;
    if c.days.is_empty() {
        return Ok(Reply::new(format!(
            "{} chatters, no account creation dates known yet.",
            c.total
        )));
    }
    let flagged = c.days.iter().filter(|d| d.flagged).count();
    let items: Vec<String> = c
        .days
        .iter()
        .map(|d| {
            if d.flagged {
                format!("{} ({}, flagged)", d.date, d.count)
            } else {
                format!("{} ({})", d.date, d.count)
            }
        })
        .collect();
    Ok(list(
        &format!(
            "{} chatters, {flagged} flagged day{} (≥{} accounts): ",
            c.total,
            if flagged == 1 { "" } else { "s" },
            c.threshold
        ),
        &items,
        ", ",
    ))
}
