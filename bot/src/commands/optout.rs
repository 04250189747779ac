//! `!optout` / `!optin`: any viewer can have everything about them deleted and never recorded
//! again, or lift that (history stays deleted).

use chatters_core::event::Event;

use super::{Context, Reply};

pub(super) async fn opt_out(ctx: &Context<'_>) -> anyhow::Result<Reply> {
    ctx.ingest
        .send(Event::OptOut {
            user: ctx.asker,
            at: ctx.now,
        })
        .await?;
    ctx.ingest.flush().await?;
    Ok(Reply::new(format!(
        "@{} you are opted out: everything about you is deleted and nothing is recorded anymore (type !optin to undo).",
        ctx.asker_login
    )))
}

pub(super) async fn opt_in(ctx: &Context<'_>) -> anyhow::Result<Reply> {
    ctx.ingest.send(Event::OptIn { user: ctx.asker }).await?;
    ctx.ingest.flush().await?;
    Ok(Reply::new(format!(
        "@{} you are opted in again: from now on you count in the figures.",
        ctx.asker_login
    )))
}
