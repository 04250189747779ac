//! What tests driving [`super::FakeIrc`] need besides the server:
//!
//! - [`exclusive`]: **hold it for the whole test** whenever a test starts an IRC client. The
//!   twitch-irc connector reads its address from a process-global (the crate's `new_socket()`
//!   takes no arguments), so two clients in one test binary at once would reach each other's
//!   fake server.
//! - real corpus lines (`testdata/corpus/twitch-irc-real.txt`, a copy of the shared corpus),
//!   moved to the test's channel.

use tokio::sync::{Mutex, MutexGuard};

static IRC_CLIENT: Mutex<()> = Mutex::const_new(());

/// Serializes the tests that start an IRC client (see the module docs).
pub async fn exclusive() -> MutexGuard<'static, ()> {
    IRC_CLIENT.lock().await
}

/// The real IRC lines of the corpus, one per line.
pub const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/corpus/twitch-irc-real.txt"
);

/// Line `n` (1-based) of the real corpus; panics when the corpus is missing (a test fixture).
pub fn corpus_line(n: usize) -> String {
    let text = std::fs::read_to_string(CORPUS).expect("the corpus (testdata/corpus)");
    text.lines()
        .nth(n - 1)
        .expect("a line of the corpus")
        .to_owned()
}

/// Corpus line `n` with its channel `#from` replaced by `#to`.
pub fn corpus_line_in(n: usize, from: &str, to: &str) -> String {
    corpus_line(n).replacen(&format!(" #{from}"), &format!(" #{to}"), 1)
}
