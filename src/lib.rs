//! The `chatters` binary's library: the command line and the wiring of the two halves, `bot`
//! (Twitch: IRC, Helix, commands, recaps) and `web` (charts, share page, API), which never
//! import each other. `src/main.rs` only calls [`startup::main`].
//!
//! # Layout
//! - [`startup`]: `.env`, settings, logging, exit codes; [`cli`]: the command line (clap);
//!   [`app`]: dispatches a subcommand.
//! - [`run`]: `chatters run | bot | web`: [`run::run_until`] starts the halves' tasks over one
//!   store until a cancellation token fires (the binary cancels it on SIGINT/SIGTERM; tests and
//!   load examples cancel it themselves).
//! - One file per other subcommand: [`channel`], [`apikey`], [`export`], [`import`],
//!   [`login`] (device code sign-in), [`doctor`] (setup checks), [`backup`] (SQLite copy).
//! - [`logging`]: the tracing subscriber (`LOG`, `LOG_FORMAT`).
//! - [`open`]: opens and migrates the store; [`output`]: command output on stdout.

pub mod apikey;
pub mod app;
pub mod backup;
pub mod channel;
pub mod cli;
pub mod completions;
pub mod doctor;
pub mod export;
pub mod import;
pub mod logging;
pub mod login;
pub mod open;
pub mod output;
pub mod run;
pub mod startup;
