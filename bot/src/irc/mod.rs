//! Twitch chat over IRC: the twitch-irc client with our own connector, and the translation of
//! its messages into the [`Observed`](crate::observed::Observed) that identity resolution
//! consumes.
//!
//! # Layout
//! - [`connector`]: the process-global IRC address (`TWITCH_IRC_URL`), plain TCP or TLS, and the
//!   `CAP REQ :twitch.tv/membership` written on every new socket (the crate never asks for it).
//! - [`divert`]: the socket's reads cut into lines, chat lines read past twitch-irc
//!   ([`reader`], with [`scan`], the fast line scanner shared with the import) and their
//!   observations handed to the `irc` task, the rest to twitch-irc.
//! - [`translate`]: pure `ServerMessage` → [`Observed`](crate::observed::Observed) translation
//!   (tags, raids, bans, notices, login failures), tested on real captured lines.
//! - [`membership`]: which channels to (re)join, and when; it works around the crate's join
//!   bookkeeping, which another user's PART corrupts.
//! - [`client`]: the long-lived task ([`run`], [`IrcSession`]).
//! - `signals`: each message's emotes and moods, scanned once (by [`reader`], or the `irc`
//!   task for the crate's messages) with its channel's matcher; the text goes no further.
//! - [`sender`]: [`IrcSender`], for chat replies while the task runs.
//! - [`status`]: [`IrcStatus`], whether Twitch welcomed the login (for `/healthz`).
//! - [`pressure`]: back-pressure from the `irc` task to the sockets (bounded memory).
//! - [`error`] holds [`IrcError`].
//! - `fake` (feature `fake`): a fake Twitch IRC server for the tests and the `irc_load` example.
//!
//! This file only declares and re-exports: the children import each other, never it.
//!
//! # The path of a chat line
//! Tasks, in order, from the socket to the commit:
//! 1. twitch-irc's own connection tasks (one per pooled connection, plus its client loop; the
//!    crate gives no way around them) read the sockets. [`divert`] cuts what they read into
//!    lines: chat lines are read right there ([`reader`]: [`scan`], twitch-irc's parse and
//!    [`translate`] for the unusual ones, each message's emotes and moods scanned once) and
//!    their observations go, a chunk per read, to the `irc` task's own unbounded queue
//!    (**queue 1**); twitch-irc parses the others and queues them in the crate's unbounded
//!    channel (**queue 1'**). Both are bounded in effect by [`pressure`]: at 50,000 waiting
//!    lines the sockets are not read until the `irc` task has taken half of them.
//! 2. The `irc` task ([`IrcSession::run`]) takes them, translates the crate's messages, acts on
//!    what concerns the connection itself (a rejected login ends the session, which is retried
//!    with backoff; notices are logged; the
//!    bot's own USERSTATE role goes to [`ModeratorOf`](crate::observed::ModeratorOf), a
//!    permanent ban becomes a part, timeouts are dropped) and sends the rest to the observation
//!    queue (**queue 2**, bounded, `try_send` first).
//! 3. The `identity` task ([`crate::identity::run`]) resolves logins to ids in batches and
//!    sends the events to ingestion's bounded queue (**queue 3**); chat commands go to the
//!    commands task from there, once what came before them has been sent.
//!
//! Ingestion (`chatters_core::ingest`, the third task) then applies the events to the tracker
//! and commits each batch, one commit in flight beside the tracking.
//!
//! # One client per process
//! twitch-irc's `MakeConnection::new_socket()` takes no arguments, so the address lives in a
//! process-global ([`connector::set_target`], done by [`run`]). Production runs one client per
//! process; tests that start clients must hold a global lock for the whole test (see
//! `chatters_bot::irc::fake::exclusive`).

pub mod client;
pub mod connector;
pub mod divert;
pub mod error;
#[cfg(feature = "fake")]
#[doc(hidden)]
pub mod fake;
pub mod guard;
pub mod membership;
pub mod pressure;
pub mod reader;
pub mod scan;
pub mod sender;
mod signals;
pub mod status;
pub mod translate;

pub use client::{IrcConfig, IrcSession, anonymous, run};
pub use error::IrcError;
pub use sender::IrcSender;
pub use status::IrcStatus;
pub use translate::{translate, translate_chat, translate_irc};
