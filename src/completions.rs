//! `chatters completions bash|zsh|fish`: the shell completion script on stdout (clap_complete),
//! printed before any setting is read.

use std::io::Write as _;

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_complete::Shell as Target;

use crate::cli::{Cli, Shell};

/// Prints the completion script for `shell`.
pub fn print(shell: Shell) -> anyhow::Result<()> {
    let target = match shell {
        Shell::Bash => Target::Bash,
        Shell::Zsh => Target::Zsh,
        Shell::Fish => Target::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(target, &mut Cli::command(), "chatters", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}
