//! `!chart`: the link to the channel's shared chart page.

use super::{Context, Reply};

pub(super) fn answer(ctx: &Context<'_>) -> Reply {
    Reply::new(format!("{}/c/{}", ctx.public_base_url, ctx.channel.login))
}
