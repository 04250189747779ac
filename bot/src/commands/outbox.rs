//! The one way replies leave the bot: a queue in front of the IRC session that keeps within
//! Twitch's chat limits and drops the oldest stale replies rather than getting the bot blocked.
//!
//! Twitch counts the messages an account sent in the last 30 seconds: at most 20 when sending
//! to a channel where it is neither moderator nor broadcaster, at most 100 where it is. Every
//! message counts towards both (a conservative reading: a moderator channel's replies also use
//! up the small budget). Where the bot is not a moderator Twitch also wants a second between
//! two messages in the same channel. The limit is a sliding window, kept here as a log of send
//! times: a token bucket (GCRA) with a burst of 20 would let 40 through in some 30-second
//! windows.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chatters_core::domain::Login;
use chatters_core::metrics::{Histogram, latency_histogram};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use twitch_irc::login::LoginCredentials;

use super::Reply;
use crate::irc::{IrcError, IrcSender};
use crate::observed::ModeratorOf;

/// Twitch refuses a message identical to the account's previous one in a channel within this.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(30);

/// Appended (after a space) to make a repeated reply differ; invisible in chat, and what chat
/// clients append for the same reason.
const DISAMBIGUATOR: char = '\u{E0000}';

/// The text to send after `last` (the previous text sent in the channel and when): `text`, or
/// when that would repeat `last` within [`DUPLICATE_WINDOW`], `text` with [`DISAMBIGUATOR`]
/// (still within 500 characters).
fn undoubled(text: &str, last: Option<&(String, Instant)>, now: Instant) -> String {
    let repeated =
        last.is_some_and(|(previous, at)| previous == text && now < *at + DUPLICATE_WINDOW);
    if !repeated {
        return text.to_owned();
    }
    let keep = super::reply::MAX_CHARS - 2;
    let mut out: String = text.chars().take(keep).collect();
    out.push(' ');
    out.push(DISAMBIGUATOR);
    out
}

/// Where replies are written: the IRC session (a recorder in tests).
#[async_trait]
pub trait ChatOut: Send + Sync + 'static {
    /// Sends `text` in `channel` as a reply to the message `reply_to`.
    async fn reply(&self, channel: &Login, reply_to: &str, text: &str) -> Result<(), IrcError>;
}

#[async_trait]
impl<L: LoginCredentials> ChatOut for IrcSender<L> {
    async fn reply(&self, channel: &Login, reply_to: &str, text: &str) -> Result<(), IrcError> {
        self.say_in_reply_to(channel, reply_to, text).await
    }
}

/// Twitch's limits and the queue's bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The window Twitch counts in (30 s, plus a margin for clock and network jitter).
    pub window: Duration,
    /// Messages per window when the channel is not moderated by the bot.
    pub normal: usize,
    /// Messages per window in channels where the bot is a moderator or the broadcaster.
    pub moderator: usize,
    /// Least time between two messages in one channel where the bot is not a moderator.
    pub channel_gap: Duration,
    /// A reply still unsent this long after it was queued is dropped (the asker moved on).
    pub stale_after: Duration,
    /// Replies held at most; a new one beyond this drops the oldest.
    pub capacity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            window: Duration::from_millis(30_500),
            normal: 20,
            moderator: 100,
            channel_gap: Duration::from_millis(1_100),
            stale_after: Duration::from_secs(30),
            capacity: 200,
        }
    }
}

/// One reply waiting to be sent.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The channel.
    pub channel: Login,
    /// The Twitch id of the message answered.
    pub reply_to: String,
    /// The text.
    pub reply: Reply,
    /// When the asking line arrived (for the latency metric).
    pub arrived: std::time::Instant,
}

/// Counters of the outbox.
#[derive(Debug)]
pub struct OutboxMetrics {
    /// Replies written to the socket.
    pub sent: AtomicU64,
    /// Replies dropped unsent because they went stale or the queue overflowed.
    pub dropped: AtomicU64,
    /// Replies the IRC session refused.
    pub failed: AtomicU64,
    /// Arrival-to-socket latencies of sent replies, in seconds.
    pub latency: Histogram,
}

impl Default for OutboxMetrics {
    fn default() -> Self {
        Self {
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latency: latency_histogram(),
        }
    }
}

/// The send-time log, and per channel the last text sent and when.
#[derive(Debug)]
struct Budget {
    limits: Limits,
    sent: VecDeque<Instant>,
    last: HashMap<Login, (String, Instant)>,
}

impl Budget {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            sent: VecDeque::new(),
            last: HashMap::new(),
        }
    }

    /// When a message to `channel` may go: `now`, or the earliest later time.
    fn next_slot(&mut self, channel: &Login, moderator: bool, now: Instant) -> Instant {
        while self
            .sent
            .front()
            .is_some_and(|t| *t + self.limits.window <= now)
        {
            self.sent.pop_front();
        }
        let limit = if moderator {
            self.limits.moderator
        } else {
            self.limits.normal
        };
        let mut at = now;
        if self.sent.len() >= limit {
            // The oldest sends that must leave the window first.
            let index = self.sent.len() - limit;
            at = at.max(self.sent[index] + self.limits.window);
        }
        if !moderator && let Some((_, last)) = self.last.get(channel) {
            at = at.max(*last + self.limits.channel_gap);
        }
        at
    }

    /// Records a send of `text` (made to differ from a repeat, see [`undoubled`]) and returns
    /// the text to send.
    fn record(&mut self, channel: &Login, text: &str, at: Instant) -> String {
        self.sent.push_back(at);
        let text = undoubled(text, self.last.get(channel), at);
        if self.last.len() > 10_000 {
            let horizon = self.limits.channel_gap.max(DUPLICATE_WINDOW);
            self.last.retain(|_, (_, t)| *t + horizon > at);
        }
        self.last.insert(channel.clone(), (text.clone(), at));
        text
    }
}

/// The queue and its sender task.
#[derive(Debug)]
pub struct Outbox {
    budget: Budget,
    queue: VecDeque<(Instant, Outgoing)>,
    moderator_of: ModeratorOf,
    metrics: Arc<OutboxMetrics>,
}

impl Outbox {
    /// An empty outbox.
    pub fn new(limits: Limits, moderator_of: ModeratorOf) -> Self {
        Self {
            budget: Budget::new(limits),
            queue: VecDeque::new(),
            moderator_of,
            metrics: Arc::default(),
        }
    }

    /// Its counters.
    pub fn metrics(&self) -> Arc<OutboxMetrics> {
        self.metrics.clone()
    }

    fn push(&mut self, reply: Outgoing, now: Instant) {
        if self.queue.len() >= self.budget.limits.capacity.max(1)
            && let Some((_, dropped)) = self.queue.pop_front()
        {
            self.metrics.dropped.fetch_add(1, Ordering::Relaxed);
            debug!(channel = %dropped.channel, "reply dropped: the outbox is full");
        }
        self.queue.push_back((now, reply));
    }

    fn drop_stale(&mut self, now: Instant) {
        let stale_after = self.budget.limits.stale_after;
        let before = self.queue.len();
        self.queue.retain(|(queued, _)| *queued + stale_after > now);
        let dropped = before - self.queue.len();
        if dropped > 0 {
            self.metrics
                .dropped
                .fetch_add(dropped as u64, Ordering::Relaxed);
            debug!(dropped, "stale replies dropped");
        }
    }

    /// The first queued reply that may go now (its index), else when the earliest may.
    fn ready(&mut self, now: Instant) -> Result<usize, Option<Instant>> {
        let mut earliest: Option<Instant> = None;
        for (i, (_, out)) in self.queue.iter().enumerate() {
            let moderator = self.moderator_of.contains(&out.channel);
            let at = self.budget.next_slot(&out.channel, moderator, now);
            if at <= now {
                return Ok(i);
            }
            earliest = Some(earliest.map_or(at, |e| e.min(at)));
        }
        Err(earliest)
    }

    /// Sends queued replies through `out` as the limits allow, until `cancel` fires or every
    /// sender of `replies` is gone.
    pub async fn run(
        mut self,
        mut replies: mpsc::Receiver<Outgoing>,
        out: Arc<dyn ChatOut>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut open = true;
        loop {
            let now = Instant::now();
            self.drop_stale(now);
            let wait = match self.ready(now) {
                Ok(i) => {
                    if let Some((_, reply)) = self.queue.remove(i) {
                        self.send(out.as_ref(), reply).await;
                    }
                    continue;
                }
                Err(wait) => wait,
            };
            if !open && self.queue.is_empty() {
                return Ok(());
            }
            let sleep = async {
                match wait {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                reply = replies.recv(), if open => match reply {
                    Some(reply) => self.push(reply, Instant::now()),
                    None => open = false,
                },
                () = sleep => {}
            }
        }
    }

    async fn send(&mut self, out: &dyn ChatOut, reply: Outgoing) {
        let text = self
            .budget
            .record(&reply.channel, reply.reply.as_str(), Instant::now());
        match out.reply(&reply.channel, &reply.reply_to, &text).await {
            Ok(()) => {
                self.metrics.sent.fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .latency
                    .observe(reply.arrived.elapsed().as_secs_f64());
            }
            Err(error) => {
                self.metrics.failed.fetch_add(1, Ordering::Relaxed);
                warn!(channel = %reply.channel, %error, "reply not sent");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Records what was sent, and when.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(Instant, Login, String, String)>>);

    #[async_trait]
    impl ChatOut for Recorder {
        async fn reply(&self, channel: &Login, reply_to: &str, text: &str) -> Result<(), IrcError> {
            self.0.lock().expect("lock").push((
                Instant::now(),
                channel.clone(),
                reply_to.to_owned(),
                text.to_owned(),
            ));
            Ok(())
        }
    }

    fn login(s: &str) -> Login {
        Login::parse(s).expect("login")
    }

    fn outgoing(channel: &str, n: usize) -> Outgoing {
        Outgoing {
            channel: login(channel),
            reply_to: format!("msg-{n}"),
            reply: Reply::new(format!("answer {n}")),
            arrived: std::time::Instant::now(),
        }
    }

    /// The most sends in any window of `window` starting at a send.
    fn max_in_window(times: &[Instant], window: Duration) -> usize {
        times
            .iter()
            .map(|start| {
                times
                    .iter()
                    .filter(|t| **t >= *start && **t < *start + window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    async fn drive(
        limits: Limits,
        moderated: &[&str],
        replies: Vec<Outgoing>,
        run_for: Duration,
    ) -> Vec<(Instant, Login, String, String)> {
        let moderator_of = ModeratorOf::default();
        for m in moderated {
            moderator_of.set(login(m), true);
        }
        let recorder = Arc::new(Recorder::default());
        let (tx, rx) = mpsc::channel(1_000);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(Outbox::new(limits, moderator_of).run(
            rx,
            recorder.clone(),
            cancel.clone(),
        ));
        for r in replies {
            tx.send(r).await.expect("queued");
        }
        tokio::time::sleep(run_for).await;
        cancel.cancel();
        task.await.expect("joined").expect("ran");
        recorder.0.lock().expect("lock").clone()
    }

    #[tokio::test(start_paused = true)]
    async fn twenty_per_thirty_seconds_where_not_moderator() {
        let limits = Limits {
            stale_after: Duration::from_secs(3_600),
            ..Limits::default()
        };
        // 60 replies over 6 channels at once.
        let replies = (0..60)
            .map(|n| outgoing(&format!("chan{}", n % 6), n))
            .collect();
        let sent = drive(limits.clone(), &[], replies, Duration::from_secs(120)).await;
        assert_eq!(sent.len(), 60);
        let times: Vec<Instant> = sent.iter().map(|s| s.0).collect();
        assert_eq!(max_in_window(&times, Duration::from_secs(30)), 20);
        // Within one channel, at least the gap between two replies.
        for chan in 0..6 {
            let mine: Vec<Instant> = sent
                .iter()
                .filter(|s| s.1.as_str() == format!("chan{chan}"))
                .map(|s| s.0)
                .collect();
            assert!(mine.windows(2).all(|w| w[1] - w[0] >= limits.channel_gap));
        }
        // Threaded to the asking message, in order within a channel.
        assert_eq!(sent[0].2, "msg-0");
        assert_eq!(sent[0].3, "answer 0");
    }

    #[tokio::test(start_paused = true)]
    async fn a_hundred_per_thirty_seconds_where_moderator() {
        let limits = Limits {
            stale_after: Duration::from_secs(3_600),
            ..Limits::default()
        };
        let replies = (0..250).map(|n| outgoing("modchan", n)).collect();
        let sent = drive(limits, &["modchan"], replies, Duration::from_secs(100)).await;
        let times: Vec<Instant> = sent.iter().map(|s| s.0).collect();
        assert_eq!(max_in_window(&times, Duration::from_secs(30)), 100);
        // 100 at once, 100 more when the window has passed, then the last 50.
        assert_eq!(sent.len(), 250);
        let t0 = times[0];
        assert_eq!(times.iter().filter(|t| **t == t0).count(), 100);
    }

    #[test]
    fn a_repeated_reply_is_made_to_differ() {
        let t0 = Instant::now();
        let mark = format!(" {DISAMBIGUATOR}");
        let last = ("8 present now".to_owned(), t0);
        assert_eq!(undoubled("9 present now", Some(&last), t0), "9 present now");
        assert_eq!(
            undoubled("8 present now", Some(&last), t0 + Duration::from_secs(5)),
            format!("8 present now{mark}")
        );
        // The third in a row differs from the second as it is.
        let second = (format!("8 present now{mark}"), t0);
        assert_eq!(
            undoubled("8 present now", Some(&second), t0),
            "8 present now"
        );
        assert_eq!(
            undoubled("8 present now", Some(&last), t0 + DUPLICATE_WINDOW),
            "8 present now"
        );
        // A full-length reply stays within the limit.
        let long = "x".repeat(500);
        let last = (long.clone(), t0);
        let out = undoubled(&long, Some(&last), t0);
        assert_eq!(out.chars().count(), 500);
        assert!(out.ends_with(&mark));
    }

    #[tokio::test(start_paused = true)]
    async fn overflow_and_stale_replies_are_dropped_oldest_first() {
        let limits = Limits {
            normal: 2,
            stale_after: Duration::from_secs(40),
            capacity: 5,
            channel_gap: Duration::ZERO,
            ..Limits::default()
        };
        // Two go out at once; of the six waiting, the oldest is dropped to keep five; when the
        // window frees up (30.5 s) two more go; the last three would have to wait until 61 s,
        // past the 40 s staleness, and are dropped.
        let replies = (0..8).map(|n| outgoing("chan", n)).collect();
        let sent = drive(limits, &[], replies, Duration::from_secs(120)).await;
        let ids: Vec<&str> = sent.iter().map(|s| s.2.as_str()).collect();
        assert_eq!(ids, vec!["msg-0", "msg-1", "msg-3", "msg-4"]);
    }
}
