//! The `chatters` binary.
//!
//! Layout: [`cli`] parses the command line; [`startup`] loads `.env` and the settings, sets up
//! logging and maps failures to exit codes; [`app`] dispatches a subcommand; [`run`] runs the
//! long-lived halves (ingestion, web) until a signal; [`channel`] manages tracked channels.

mod app;
mod channel;
mod cli;
mod run;
mod startup;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Crates in the tree enable both rustls providers; without a process default TLS panics.
    // A second install fails harmlessly, hence the ignored result.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    startup::main()
}
