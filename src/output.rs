//! Command output on stdout.

use std::io::Write as _;

use anyhow::Context as _;

/// Prints to stdout; a closed pipe (`chatters channel list | head -1`) is not an error.
pub fn print_lines(lines: &[String]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = lines
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}
