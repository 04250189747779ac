//! The `chatters` binary: everything lives in the `chatters_bot` library.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Crates in the tree enable both rustls providers; without a process default TLS panics.
    // A second install fails harmlessly, hence the ignored result.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    chatters_bot::startup::main()
}
