//! [`IngestConfig`]: the tuning of the ingestion pipeline, and how the settings fill it.

use std::time::Duration;

use crate::tracker::TrackerConfig;

impl IngestConfig {
    /// The pipeline as the settings ask for it.
    pub fn from_settings(settings: &crate::settings::Settings) -> Self {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Self {
            tracker: TrackerConfig {
                bot_user: None,
                bot_login: settings.twitch_bot_login.clone(),
                presence_timeout: secs(settings.presence_timeout),
                // Two missed offline snapshots and the channel is tracked by IRC alone.
                snapshot_stale_after: secs(
                    settings
                        .offline_snapshot_interval
                        .max(settings.snapshot_interval),
                ) * 2
                    + 60,
                bots: crate::bots::KnownBots::shipped(),
            },
            ..Self::default()
        }
    }
}

/// Tuning of the ingestion pipeline.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Commands (events or event lists) the queue holds before senders wait.
    pub queue_capacity: usize,
    /// A batch is committed once it holds this many events.
    pub batch_events: u64,
    /// ... or once this much time has passed since the last commit.
    pub flush_interval: Duration,
    /// How often per-channel bot rules are re-read from the store.
    pub rules_reload: Duration,
    /// Emote counts are held in memory across batches and each stream's are written at most
    /// this often (and with any flush, a stream's end and the last batch): with many live
    /// channels a stream's emote rows change in every batch, and writing them every 100 ms
    /// cost as much as the rest of the commit.
    pub emotes_interval: Duration,
    /// The chatter-table totals of users already counted in a live stream are held in memory
    /// and each channel's written at most this often (and with any full flush and the last
    /// batch): each channel-row write also moves the row in four sort indexes, once per user
    /// and batch of a busy chat. Zero writes them with every batch.
    pub totals_interval: Duration,
    /// A channel's rows (chatters, stream rows, presence, chat minutes) are held in memory
    /// across batches and written at most this often (and with any flush, a stream's end and
    /// the last batch): a chatter rarely speaks twice within one 100 ms batch, so without it
    /// a busy chat costs one upsert per message. Chat commands read the held rows too; the
    /// web pages and API see a live stream's rows this late at most. Zero writes them with
    /// every batch (imports always do).
    pub rows_interval: Duration,
    /// Presence tracking settings.
    pub tracker: TrackerConfig,
    /// Resume from the store at start: close presence intervals left open by a crash and carry
    /// on the streams recorded as live. Off for `chatters import`, which must neither close a
    /// running bot's presence intervals nor attribute old log lines to the stream live now.
    pub resume: bool,
    /// Replay of old logs beside a running bot (`chatters import`): history only. Each
    /// channel's presence runs on its own clock (the latest event time of that channel, so
    /// archives walked channel by channel expire presence as if interleaved); no IRC-only
    /// series points and no open presence interval are written, and on stop every interval
    /// is closed at its timeout. The live bot's presence and series rows are never touched.
    pub history_only: bool,
    /// Channels are leased among several instances (`REDIS_URL`): presence left open is closed
    /// per channel when its lease is taken ([`Event::ChannelAcquired`]), never in every channel
    /// at start, where other instances' viewers are still present.
    ///
    /// [`Event::ChannelAcquired`]: crate::event::Event::ChannelAcquired
    pub leased: bool,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            batch_events: 500_000,
            flush_interval: Duration::from_millis(100),
            rules_reload: Duration::from_secs(10),
            emotes_interval: Duration::from_secs(15),
            totals_interval: Duration::from_secs(10),
            rows_interval: Duration::from_secs(2),
            tracker: TrackerConfig::default(),
            resume: true,
            history_only: false,
            leased: false,
        }
    }
}
