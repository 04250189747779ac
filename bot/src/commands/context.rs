//! [`Context`]: what a command's answer may use, and small helpers shared by the answers.

use chatters_core::domain::{Login, Timestamp, UserId};
use chatters_core::ingest::IngestHandle;
use chatters_core::stats::Figures;
use chatters_core::stats::fresh::Fresh;
use chatters_core::store::Channel;

/// What a command's answer may use.
#[derive(Debug)]
pub struct Context<'a> {
    /// The figures over the store.
    pub figures: &'a Figures,
    /// The same with ingestion's uncommitted rows of the channel added (what every answer but
    /// `!overlap` reads; empty when the answer waited for the commit instead).
    pub fresh: Fresh<'a>,
    /// Ingestion (present count, opt-outs).
    pub ingest: &'a IngestHandle,
    /// The channel asked in.
    pub channel: &'a Channel,
    /// Who asked.
    pub asker: UserId,
    /// Their login.
    pub asker_login: &'a Login,
    /// `PUBLIC_BASE_URL`.
    pub public_base_url: &'a str,
    /// Now.
    pub now: Timestamp,
}

/// "3h ago", "2d ago", "just now".
pub fn ago(then: Timestamp, now: Timestamp) -> String {
    let secs = (now.0 - then.0).max(0);
    match secs {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let now = Timestamp(1_000_000);
        assert_eq!(ago(Timestamp(999_990), now), "just now");
        assert_eq!(ago(Timestamp(1_000_000 - 125), now), "2m ago");
        assert_eq!(ago(Timestamp(1_000_000 - 7_300), now), "2h ago");
        assert_eq!(ago(Timestamp(1_000_000 - 3 * 86_400), now), "3d ago");
    }
}
