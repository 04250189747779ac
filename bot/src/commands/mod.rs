//! Moderators' chat commands: a pure [`parse`]r, per-channel [`cooldowns`], safe [`reply`]
//! formatting, and one file per command computing its answer from the core figures. Who may
//! use a command is a channel setting (`chatters_core::channel_settings`).

pub mod cooldowns;
pub mod dispatch;
pub mod outbox;
pub mod parse;
pub mod reply;

mod accounts;
mod chart;
mod chatters;
mod lurkers;
mod new;
mod optout;
mod overlap;
mod raid;
mod seen;
mod stats;
mod top;

use chatters_core::domain::{Login, Timestamp, UserId};
use chatters_core::ingest::IngestHandle;
use chatters_core::stats::Figures;
use chatters_core::store::Channel;

pub use dispatch::{DispatchConfig, Dispatcher};
pub use outbox::{ChatOut, Limits, ModeratorOf, Outbox, Outgoing};
pub use parse::{Command, Usage, parse};
pub use reply::Reply;

/// What a command's answer may use.
#[derive(Debug)]
pub struct Context<'a> {
    /// The figures over the store.
    pub figures: &'a Figures,
    /// Ingestion (present count, opt-outs).
    pub ingest: &'a IngestHandle,
    /// The channel asked in.
    pub channel: &'a Channel,
    /// Who asked.
    pub asker: UserId,
    /// Their login.
    pub asker_login: &'a Login,
    /// `PUBLIC_BASE_URL`.
    pub public_base_url: &'a str,
    /// Now.
    pub now: Timestamp,
}

/// Computes the answer to a command.
pub async fn answer(command: &Command, ctx: &Context<'_>) -> anyhow::Result<Reply> {
    match command {
        Command::Chatters => chatters::answer(ctx).await,
        Command::New(n) => new::answer(ctx, *n).await,
        Command::Seen(user) => seen::answer(ctx, user).await,
        Command::Stats => stats::answer(ctx).await,
        Command::Top(n) => top::answer(ctx, *n).await,
        Command::Lurkers => lurkers::answer(ctx).await,
        Command::Overlap(other) => overlap::answer(ctx, other).await,
        Command::Raid => raid::answer(ctx).await,
        Command::Accounts => accounts::answer(ctx).await,
        Command::Chart => Ok(chart::answer(ctx)),
        Command::OptOut => optout::opt_out(ctx).await,
        Command::OptIn => optout::opt_in(ctx).await,
    }
}

/// "3h ago", "2d ago", "just now".
pub(crate) fn ago(then: Timestamp, now: Timestamp) -> String {
    let secs = (now.0 - then.0).max(0);
    match secs {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let now = Timestamp(1_000_000);
        assert_eq!(ago(Timestamp(999_990), now), "just now");
        assert_eq!(ago(Timestamp(1_000_000 - 125), now), "2m ago");
        assert_eq!(ago(Timestamp(1_000_000 - 7_300), now), "2h ago");
        assert_eq!(ago(Timestamp(1_000_000 - 3 * 86_400), now), "3d ago");
    }
}
