//! From a chat line to a queued reply: parse, check who may ask, coalesce repeated asks,
//! add what ingestion has not committed yet (or wait until it is), answer, queue for the
//! [`super::outbox`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chatters_core::channel_settings::{ChannelSettings, Role};
use chatters_core::domain::{Login, Timestamp};
use chatters_core::ingest::IngestHandle;
use chatters_core::stats::Figures;
use chatters_core::store::{Channel, Overlay, Store};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::cooldowns::Cooldowns;
use super::outbox::Outgoing;
use super::{Context, Reply, answer, parse};
use crate::observed::CommandLine;

/// Settings of the dispatcher.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// `COMMAND_PREFIX`.
    pub prefix: String,
    /// `PUBLIC_BASE_URL` (links in replies).
    pub public_base_url: String,
    /// The bot's login: its own lines are never commands.
    pub bot_login: Login,
}

/// Counters of the dispatcher.
#[derive(Debug, Default)]
pub struct DispatchMetrics {
    /// Lines that asked for one of our commands.
    pub asked: AtomicU64,
    /// Answers queued for sending.
    pub answered: AtomicU64,
    /// Asks refused for lack of permission (no reply).
    pub denied: AtomicU64,
    /// Asks coalesced into an answer given within the cooldown (no reply).
    pub coalesced: AtomicU64,
    /// Answers that failed to compute (an apology is sent).
    pub failed: AtomicU64,
    /// Answers that added ingestion's uncommitted rows (no wait for a commit).
    pub fresh: AtomicU64,
    /// Answers given once the asking message was committed.
    pub waited: AtomicU64,
    /// Answers read again because a commit landed during their reads.
    pub reread: AtomicU64,
}

/// Answers chat commands.
#[derive(Debug)]
pub struct Dispatcher {
    config: DispatchConfig,
    figures: Figures,
    ingest: IngestHandle,
    cooldowns: Cooldowns,
    outbox: mpsc::Sender<Outgoing>,
    metrics: Arc<DispatchMetrics>,
}

impl Dispatcher {
    /// A dispatcher queueing its replies on `outbox`.
    pub fn new(
        config: DispatchConfig,
        figures: Figures,
        ingest: IngestHandle,
        outbox: mpsc::Sender<Outgoing>,
    ) -> Self {
        Self {
            config,
            figures,
            ingest,
            cooldowns: Cooldowns::default(),
            outbox,
            metrics: Arc::default(),
        }
    }

    /// Its counters.
    pub fn metrics(&self) -> Arc<DispatchMetrics> {
        self.metrics.clone()
    }

    fn store(&self) -> &Arc<Store> {
        self.figures.store()
    }

    /// Answers every line of `lines` until `cancel` fires or the senders are gone.
    pub async fn run(
        mut self,
        mut lines: mpsc::Receiver<Box<CommandLine>>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        loop {
            let line = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                line = lines.recv() => match line {
                    Some(line) => line,
                    None => return Ok(()),
                },
            };
            if let Some(reply) = self.handle(&line).await {
                let out = Outgoing {
                    channel: line.channel.clone(),
                    reply_to: line.message_id.clone(),
                    reply,
                    arrived: line.received,
                };
                if self.outbox.send(out).await.is_err() {
                    return Ok(());
                }
            }
        }
    }

    /// The reply to one line, if it gets one.
    pub async fn handle(&mut self, line: &CommandLine) -> Option<Reply> {
        let prefix = self.config.prefix.as_str();
        let name = parse::name_of(prefix, &line.text)?;
        if line.login == self.config.bot_login {
            return None;
        }
        self.metrics.asked.fetch_add(1, Ordering::Relaxed);
        let channel = match self.store().channel(&line.channel).await {
            Ok(Some(channel)) => channel,
            Ok(None) => return None,
            Err(error) => {
                warn!(channel = %line.channel, %error, "command not answered: the store failed");
                self.metrics.failed.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        let mut role = Role::from_badges(&line.badges);
        if channel.twitch_id == Some(line.user) {
            role = Role::Broadcaster;
        }
        let settings = match ChannelSettings::load(self.store().as_ref(), channel.key).await {
            Ok(settings) => settings,
            Err(error) => {
                warn!(channel = %channel.login, %error, "channel settings unreadable: defaults apply");
                ChannelSettings::default()
            }
        };
        if !settings.access(name).allows(role) {
            self.metrics.denied.fetch_add(1, Ordering::Relaxed);
            debug!(channel = %line.channel, command = name, ?role, "command not allowed");
            return None;
        }
        let command = match parse::parse(prefix, &line.text)? {
            Ok(command) => command,
            // No cooldown: the corrected ask right after gets its answer.
            Err(usage) => return Some(Reply::new(usage.0.replacen('!', prefix, 1))),
        };
        let now = Instant::now();
        if !self
            .cooldowns
            .ready(&channel.login, name, now, settings.cooldown)
        {
            self.metrics.coalesced.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        // From the ask, so that asks arriving while this one is answered are coalesced.
        self.cooldowns.answered(&channel.login, name, now);
        let reply = self.answer(&command, &channel, line).await;
        self.metrics.answered.fetch_add(1, Ordering::Relaxed);
        Some(reply)
    }

    async fn answer(
        &self,
        command: &parse::Command,
        channel: &Channel,
        line: &CommandLine,
    ) -> Reply {
        // The asking message counts in the figures. Answers add what ingestion has not
        // committed yet; `!overlap` (another channel's rows too) and the others when commits
        // keep landing during their reads wait until it is committed (emote counts held for
        // their interval only for `!emotes`, the one answer made of them).
        if reads_fresh(command) {
            match self.answer_fresh(command, channel, line).await {
                Ok(Some(reply)) => return reply,
                Ok(None) => {}
                Err(error) => warn!(%error, "ingestion stopped before a command's answer"),
            }
        }
        let flushed = if matches!(command, parse::Command::Emotes) {
            self.ingest.flush().await
        } else {
            self.ingest.flush_rows().await
        };
        if let Err(error) = flushed {
            warn!(%error, "ingestion flush before a command failed");
        }
        self.metrics.waited.fetch_add(1, Ordering::Relaxed);
        let nothing = Overlay::default();
        let result = Box::pin(answer(command, &self.context(channel, line, &nothing))).await;
        self.finish(command, result, line)
    }

    /// The answer from the committed rows plus the uncommitted ones, once the reads are known
    /// to have seen exactly the batches committed when they started (`None`: a commit landed
    /// during each of three attempts).
    async fn answer_fresh(
        &self,
        command: &parse::Command,
        channel: &Channel,
        line: &CommandLine,
    ) -> Result<Option<Reply>, chatters_core::ingest::IngestClosed> {
        let started = std::time::Instant::now();
        let mut held = self.ingest.uncommitted(channel).await?;
        let held_at = started.elapsed();
        let mut watch = self.store().commit_watch();
        for tries in 1..=3 {
            let Some(committed) = watch.steady(COMMIT_PATIENCE).await else {
                continue;
            };
            let steady_at = started.elapsed();
            let Some(overlay) = held.after(committed) else {
                // The batch open when asked is committed, with rows held until then or not.
                held = self.ingest.uncommitted(channel).await?;
                self.metrics.reread.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            // Boxed: the answers' futures nest deep enough to overflow rustc's layout query depth
            // in a release build when inlined here.
            let result = Box::pin(answer(command, &self.context(channel, line, &overlay))).await;
            if watch.unchanged() {
                self.metrics.fresh.fetch_add(1, Ordering::Relaxed);
                debug!(
                    command = command.name(),
                    tries,
                    rows = overlay.rows.len(),
                    held_ms = held_at.as_secs_f64() * 1e3,
                    steady_ms = (steady_at - held_at).as_secs_f64() * 1e3,
                    answer_ms = (started.elapsed() - steady_at).as_secs_f64() * 1e3,
                    "answered from the committed and uncommitted rows"
                );
                return Ok(Some(self.finish(command, result, line)));
            }
            self.metrics.reread.fetch_add(1, Ordering::Relaxed);
        }
        Ok(None)
    }

    fn context<'a>(
        &'a self,
        channel: &'a Channel,
        line: &'a CommandLine,
        overlay: &'a Overlay,
    ) -> Context<'a> {
        Context {
            figures: &self.figures,
            fresh: self.figures.fresh(overlay),
            ingest: &self.ingest,
            channel,
            asker: line.user,
            asker_login: &line.login,
            public_base_url: &self.config.public_base_url,
            now: Timestamp::now(),
        }
    }

    fn finish(
        &self,
        command: &parse::Command,
        result: anyhow::Result<Reply>,
        line: &CommandLine,
    ) -> Reply {
        match result {
            Ok(reply) => reply,
            Err(error) => {
                self.metrics.failed.fetch_add(1, Ordering::Relaxed);
                warn!(channel = %line.channel, command = command.name(), error = format!("{error:#}"), "command failed");
                Reply::new(format!(
                    "@{} sorry, I cannot answer that right now; please try again in a minute.",
                    line.login
                ))
            }
        }
    }
}

/// How long an answer waits for a `COMMIT` in progress before reading anyway (and checking).
const COMMIT_PATIENCE: std::time::Duration = std::time::Duration::from_millis(250);

/// Commands whose answer adds ingestion's uncommitted rows ([`chatters_core::stats::fresh::Fresh`]);
/// the others wait for the commit.
fn reads_fresh(command: &parse::Command) -> bool {
    use parse::Command as C;
    matches!(
        command,
        C::Chatters
            | C::New(_)
            | C::Seen(_)
            | C::Stats
            | C::Top(_)
            | C::Lurkers
            | C::Raid
            | C::Accounts
            | C::Chart
            | C::Viewers
            | C::Watchtime(_)
            | C::Regulars
            | C::Emotes
            | C::Mood
    )
}
