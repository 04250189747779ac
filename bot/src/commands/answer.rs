//! [`answer`]: a parsed command to the file that computes its answer.

use super::context::Context;
use super::parse::Command;
use super::reply::Reply;
use super::{
    accounts, chart, chatters, emotes, lurkers, mood, new, optout, overlap, raid, regulars, seen,
    stats, top, viewers, watchtime,
};

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
        Command::Viewers => viewers::answer(ctx).await,
        Command::Watchtime(user) => watchtime::answer(ctx, user.as_ref()).await,
        Command::Regulars => regulars::answer(ctx).await,
        Command::Emotes => emotes::answer(ctx).await,
        Command::Mood => mood::answer(ctx).await,
    }
}
