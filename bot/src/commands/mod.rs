//! Moderators' chat commands: a pure [`parse`]r, per-channel [`cooldowns`], safe [`reply`]
//! formatting, and one file per command computing its answer from the core figures (`answer`
//! picks the file, `context` is what each may use). Who may use a command is a channel setting
//! (`chatters_core::channel_settings`). This file only declares and re-exports.

pub mod cooldowns;
pub mod dispatch;
pub mod outbox;
pub mod parse;
pub mod reply;

mod accounts;
mod answer;
mod chart;
mod chatters;
mod context;
mod emotes;
mod lurkers;
mod mood;
mod new;
mod optout;
mod overlap;
mod raid;
mod regulars;
mod seen;
mod stats;
mod top;
mod viewers;
mod watchtime;

pub use crate::observed::ModeratorOf;
pub use answer::answer;
pub use context::{Context, ago};
pub use dispatch::{DispatchConfig, Dispatcher};
pub use outbox::{ChatOut, Limits, Outbox, Outgoing};
pub use parse::{Command, Usage, parse};
pub use reply::Reply;
