//! The `chatters` binary: everything lives in the `chatters` library.

use std::process::ExitCode;

/// mimalloc: with glibc's allocator the IRC pipeline ingests less than half as many messages a
/// second (many small, short-lived allocations per line; see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Crates in the tree enable both rustls providers; without a process default TLS panics.
    // A second install fails harmlessly, hence the ignored result.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    chatters::startup::main()
}
