//! The Twitch side of `chatters run | bot`: credentials and Helix ([`connect`]), then the IRC
//! client, identity resolution, the scheduler and token upkeep as named tasks ([`spawn`]).
//!
//! Data flow: IRC lines → [`Observed`] (the `irc` task) → identity (ids resolved, in order)
//! → ingestion; the tasks and queues are listed in [`crate::irc`]. The scheduler publishes the wanted channels to IRC and feeds snapshots
//! and stream transitions to ingestion directly.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, UserId};
use chatters_core::ingest::IngestHandle;
use chatters_core::metrics::Metrics;
use chatters_core::settings::Settings;
use chatters_core::stats::Figures;
use chatters_core::store::Store;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use twitch_irc::login::LoginCredentials;

use crate::api::{Account, Api, ApiError, ChatterList, LiveInfo};
use crate::auth::{Auth, AuthConfig, AuthMode, BotAccount};
use crate::commands::dispatch::DispatchMetrics;
use crate::commands::outbox::OutboxMetrics;
use crate::commands::{ChatOut, DispatchConfig, Dispatcher, Limits, ModeratorOf, Outbox};
use crate::emote_sets::{EmoteSets, EmoteSetsConfig};
use crate::error::ConfigError;
use crate::helix::{Helix, HelixError, HelixUser};
use crate::identity::{self, Identity};
use crate::irc::{self, IrcConfig, IrcSession};
use crate::lease::{LeaseConfig, LeaseMetrics, Leases};
use crate::observed::Observed;
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::tasks::Tasks;
use crate::twitch_http::{HttpConfig, TwitchHttp};

/// Helix scope needed for snapshots.
pub const SCOPE_CHATTERS: &str = "moderator:read:chatters";
/// Helix scope needed to read the moderated channels.
pub const SCOPE_MODERATED: &str = "user:read:moderated_channels";

/// Credentials and Helix, ready before ingestion starts (the bot account is never counted).
#[derive(Debug, Clone)]
pub struct Twitch {
    /// Credentials.
    pub auth: Auth,
    /// Helix, unless anonymous.
    pub helix: Option<Helix>,
    /// The bot account of the user token.
    pub bot: Option<BotAccount>,
}

/// Validates the credentials of `settings` (an invalid token is a [`ConfigError`]: exit 2).
pub async fn connect(settings: &Settings, store: &Arc<Store>) -> anyhow::Result<Twitch> {
    let http = TwitchHttp::new(HttpConfig::from_settings(settings))?;
    let auth = match Auth::start(
        AuthConfig::from_settings(settings),
        http,
        Some(store.clone()),
    )
    .await
    {
        Ok(auth) => auth,
        Err(e) if e.is_config() => return Err(ConfigError(e.to_string()).into()),
        Err(e) => return Err(anyhow::Error::new(e).context("checking the Twitch credentials")),
    };
    let helix = (auth.mode() != AuthMode::Anonymous).then(|| Helix::new(auth.clone()));
    let bot = auth.bot_account();
    for scope in auth.missing_scopes() {
        warn!(
            scope,
            "the bot token lacks this scope: the features needing it are off"
        );
    }
    Ok(Twitch { auth, helix, bot })
}

/// [`Api`] over Helix, with the bot account as the moderator of Get Chatters.
#[derive(Debug, Clone)]
pub struct HelixApi {
    helix: Helix,
    bot: Option<UserId>,
}

fn api_error(e: HelixError) -> ApiError {
    match e {
        HelixError::Forbidden { .. } => ApiError::Forbidden,
        other => ApiError::Unavailable(other.to_string()),
    }
}

fn account(u: HelixUser) -> Account {
    Account {
        user: chatters_core::event::UserRef {
            id: u.id,
            login: u.login,
            display_name: Some(u.display_name),
        },
        created_at: u.created_at,
    }
}

#[async_trait]
impl Api for HelixApi {
    async fn users_by_login(&self, logins: &[Login]) -> Result<Vec<Account>, ApiError> {
        let users = self.helix.users_by_login(logins).await.map_err(api_error)?;
        Ok(users.into_iter().map(account).collect())
    }

    async fn users_by_id(&self, ids: &[UserId]) -> Result<Vec<Account>, ApiError> {
        let users = self.helix.users_by_id(ids).await.map_err(api_error)?;
        Ok(users.into_iter().map(account).collect())
    }

    async fn chatters(&self, broadcaster: UserId) -> Result<ChatterList, ApiError> {
        let moderator = self.bot.ok_or(ApiError::Forbidden)?;
        let c = self
            .helix
            .chatters(broadcaster, moderator)
            .await
            .map_err(api_error)?;
        Ok(ChatterList {
            users: c.users,
            total: c.total,
        })
    }

    async fn streams(&self, broadcasters: &[UserId]) -> Result<Vec<LiveInfo>, ApiError> {
        let live = self.helix.streams(broadcasters).await.map_err(api_error)?;
        Ok(live
            .into_iter()
            .map(|s| LiveInfo {
                user_id: s.user_id,
                login: s.login,
                id: s.id,
                started_at: s.started_at,
                title: s.title,
                viewers: s.viewers,
                game_id: s.game_id,
                game_name: s.game_name,
            })
            .collect())
    }

    async fn moderated_channels(&self) -> Result<Vec<(UserId, Login)>, ApiError> {
        let bot = self.bot.ok_or(ApiError::Forbidden)?;
        self.helix.moderated_channels(bot).await.map_err(api_error)
    }
}

/// Observations queued between IRC and identity resolution.
const OBSERVED_QUEUE: usize = 65_536;
/// Chat commands (and replies) queued; beyond this the bot is far behind and drops asks.
const COMMAND_QUEUE: usize = 1_024;

/// Counters of the Twitch side, for `/metrics`.
#[derive(Debug, Clone)]
pub struct TwitchMetrics {
    /// Helix calls by endpoint and status (when Helix is in use).
    pub helix: Option<Helix>,
    /// Snapshots and stream polls.
    pub scheduler: Arc<crate::scheduler::SchedulerMetrics>,
    /// Login resolution.
    pub identity: Arc<crate::identity::IdentityMetrics>,
    /// Chat commands and their replies, when the bot answers commands.
    pub commands: Option<(Arc<DispatchMetrics>, Arc<OutboxMetrics>)>,
    /// Whether Twitch IRC accepted the login (for `/healthz`).
    pub irc: irc::IrcStatus,
    /// Channel leases, when `REDIS_URL` is set.
    pub leases: Option<Arc<LeaseMetrics>>,
}

impl TwitchMetrics {
    /// Registers these counters in the process's registry.
    pub fn register(self, metrics: &Metrics) {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(helix) = &self.helix {
            helix.http_metrics().register(metrics);
        }
        if let Some(leases) = &self.leases {
            leases.register(metrics);
        }
        if let Some((_, outbox)) = &self.commands {
            metrics.register(
                "chatters_reply_latency_seconds",
                "From a command's arrival to its reply being written to the socket.",
                outbox.latency.clone(),
            );
        }
        metrics.source(move |w| {
            let s = &self.scheduler;
            w.counters(
                "chatters_snapshot_results",
                "Helix Get Chatters snapshots, stored or failed after retries.",
                [
                    ([("result", "ok")], s.snapshots_ok.load(Relaxed)),
                    ([("result", "failed")], s.snapshots_failed.load(Relaxed)),
                ],
            )?;
            w.counter(
                "chatters_stream_polls_failed",
                "Get Streams polls that failed (nothing ends on a failed poll).",
                s.polls_failed.load(Relaxed),
            )?;
            w.gauge(
                "chatters_irc_backlog",
                "Chat messages read from Twitch and not yet taken by the irc task (the lag).",
                i64::try_from(irc::pressure::backlog()).unwrap_or(i64::MAX),
            )?;
            w.gauge(
                "chatters_irc_reading_paused",
                "1 while the Twitch sockets are not read because ingestion is behind (until the backlog is down to half the limit).",
                i64::from(irc::pressure::paused()),
            )?;
            w.counter(
                "chatters_logins_unresolved",
                "JOIN/PART observations dropped because the login could not be resolved.",
                self.identity.unresolved.load(Relaxed),
            )?;
            let Some((dispatch, outbox)) = &self.commands else {
                return Ok(());
            };
            w.counters(
                "chatters_commands",
                "Chat commands asked, by outcome (denied and coalesced asks get no reply).",
                [
                    ("answered", dispatch.answered.load(Relaxed)),
                    ("denied", dispatch.denied.load(Relaxed)),
                    ("coalesced", dispatch.coalesced.load(Relaxed)),
                    ("failed", dispatch.failed.load(Relaxed)),
                    ("dropped", self.identity.commands_dropped.load(Relaxed)),
                ]
                .map(|(outcome, n)| ([("outcome", outcome)], n)),
            )?;
            w.counters(
                "chatters_command_reads",
                "How answers read the figures: with ingestion's uncommitted rows added, after \
                 waiting for the asking message's commit, or again because a commit landed \
                 during the reads.",
                [
                    ("uncommitted_added", dispatch.fresh.load(Relaxed)),
                    ("waited_for_commit", dispatch.waited.load(Relaxed)),
                    ("reread", dispatch.reread.load(Relaxed)),
                ]
                .map(|(read, n)| ([("read", read)], n)),
            )?;
            w.counters(
                "chatters_replies",
                "Chat replies by result (dropped: stale or over the queue bound, never sent).",
                [
                    ("sent", outbox.sent.load(Relaxed)),
                    ("dropped", outbox.dropped.load(Relaxed)),
                    ("failed", outbox.failed.load(Relaxed)),
                ]
                .map(|(result, n)| ([("result", result)], n)),
            )
        });
    }
}

/// Starts IRC, identity, the scheduler and token upkeep as tasks of `tasks`; returns their
/// counters.
pub fn spawn(
    twitch: Twitch,
    settings: &Settings,
    store: Arc<Store>,
    ingest: IngestHandle,
    cancel: &CancellationToken,
    tasks: &mut Tasks,
) -> TwitchMetrics {
    let user_token = twitch.auth.mode() == AuthMode::User;
    let api: Option<Arc<dyn Api>> = twitch.helix.clone().map(|helix| {
        Arc::new(HelixApi {
            helix,
            bot: twitch.bot.as_ref().map(|b| b.id),
        }) as Arc<dyn Api>
    });
    let (wanted_tx, wanted_rx) = watch::channel(BTreeSet::new());
    let (observed_tx, observed_rx) = mpsc::channel(OBSERVED_QUEUE);
    let learn_tx = observed_tx.clone();
    let moderator_of = ModeratorOf::default();

    // Commands need a logged-in bot (anonymous sessions cannot send).
    let answering = user_token.then_some(twitch.bot.as_ref()).flatten();
    let mut irc_config = IrcConfig::new(settings.twitch_irc_url.clone());
    irc_config.command_prefix = answering.map(|_| settings.command_prefix.clone());
    irc_config.roles = moderator_of.clone();
    let irc_status = irc_config.status.clone();
    // Chat signals: the IRC task scans with the matchers the emote-set refresher publishes.
    let signals = chatters_core::signals::Registry::default();
    irc_config.signals = signals.clone();
    match EmoteSets::new(
        EmoteSetsConfig::from_settings(settings),
        store.clone(),
        signals,
    ) {
        Ok(sets) => tasks.spawn("emote_sets", sets.run(wanted_rx.clone(), cancel.clone())),
        Err(error) => {
            warn!(%error, "no emote sets (HTTP client); only Twitch emotes and the mood lexicon count")
        }
    }
    let chat = Arc::new(SessionChat::default());
    let irc_cancel = cancel.clone();
    if user_token {
        let credentials = twitch.auth.irc_credentials();
        let auth = twitch.auth.clone();
        tasks.spawn(
            "irc",
            run_irc(
                irc_config,
                move || credentials.clone(),
                Some(auth),
                wanted_rx,
                observed_tx,
                chat.clone(),
                irc_cancel,
            ),
        );
    } else {
        tasks.spawn(
            "irc",
            run_irc(
                irc_config,
                irc::anonymous,
                None,
                wanted_rx,
                observed_tx,
                chat.clone(),
                irc_cancel,
            ),
        );
    }

    let mut commands_tx = None;
    let mut commands_metrics = None;
    if let Some(bot) = answering {
        let (lines_tx, lines_rx) = mpsc::channel(COMMAND_QUEUE);
        let (outbox_tx, outbox_rx) = mpsc::channel(COMMAND_QUEUE);
        let figures = Figures::new(store.clone(), KnownBots::shipped(), Some(bot.id));
        let config = DispatchConfig {
            prefix: settings.command_prefix.clone(),
            public_base_url: settings.public_base_url.clone(),
            bot_login: bot.login.clone(),
        };
        let dispatcher = Dispatcher::new(config, figures, ingest.clone(), outbox_tx);
        let outbox = Outbox::new(Limits::default(), moderator_of);
        commands_metrics = Some((dispatcher.metrics(), outbox.metrics()));
        tasks.spawn("commands", dispatcher.run(lines_rx, cancel.clone()));
        tasks.spawn(
            "replies",
            outbox.run(outbox_rx, chat as Arc<dyn ChatOut>, cancel.clone()),
        );
        commands_tx = Some(lines_tx);
    }

    let identity = Identity::new(api.clone(), store.clone());
    let identity_metrics = identity.metrics();
    tasks.spawn(
        "identity",
        identity::run(
            identity,
            observed_rx,
            ingest.clone(),
            commands_tx,
            cancel.clone(),
        ),
    );

    let config = SchedulerConfig {
        snapshot_interval: settings.snapshot_interval,
        offline_snapshot_interval: settings.offline_snapshot_interval,
        stream_poll_interval: settings.stream_poll_interval,
        moderated_refresh: Duration::from_secs(600),
        store_refresh: Duration::from_secs(10),
        extra_channels: settings.channels.clone(),
        snapshots: user_token && twitch.auth.has_scope(SCOPE_CHATTERS),
        moderated: user_token && twitch.auth.has_scope(SCOPE_MODERATED),
        concurrency: 8,
    };
    if !config.snapshots {
        info!("no snapshots (needs a bot token with {SCOPE_CHATTERS}): presence follows IRC only");
    }
    let mut lease_metrics = None;
    let scheduler = match &settings.redis_url {
        None => Scheduler::new(api, store, ingest, wanted_tx, config),
        Some(url) => {
            // The scheduler's wanted set goes to the lease task, which publishes the leased
            // channels to IRC and back to the scheduler.
            let (all_tx, all_rx) = watch::channel(BTreeSet::new());
            let leased_rx = wanted_tx.subscribe();
            match Leases::connect(url, LeaseConfig::default()) {
                Ok(leases) => {
                    info!(
                        instance = leases.id(),
                        "REDIS_URL set: tracking only the channels leased by this instance"
                    );
                    lease_metrics = Some(leases.metrics());
                    tasks.spawn("leases", leases.run(all_rx, wanted_tx, cancel.clone()));
                }
                // Settings validated the URL, so this does not happen in practice; tracking
                // without leases would double-count next to the other instances.
                Err(error) => tasks.spawn("leases", async move {
                    drop((all_rx, wanted_tx));
                    Err(ConfigError(error.to_string()).into())
                }),
            }
            Scheduler::new(api, store, ingest, all_tx, config).following(leased_rx)
        }
    };
    let scheduler = scheduler.learning(learn_tx);
    let metrics = TwitchMetrics {
        helix: twitch.helix.clone(),
        scheduler: scheduler.metrics(),
        identity: identity_metrics,
        commands: commands_metrics,
        leases: lease_metrics,
        irc: irc_status,
    };
    tasks.spawn("scheduler", scheduler.run(cancel.clone()));

    let auth = twitch.auth.clone();
    let upkeep = cancel.clone();
    tasks.spawn("token", async move {
        // Nothing to maintain when anonymous: the task then just waits for the stop.
        auth.maintain(upkeep.clone()).await;
        upkeep.cancelled().await;
        Ok(())
    });
    metrics
}

/// Where replies go: the sender of the IRC session running now (none between sessions, when a
/// reply fails as if the connection were closed).
#[derive(Default)]
struct SessionChat(std::sync::RwLock<Option<Arc<dyn ChatOut>>>);

impl SessionChat {
    fn set(&self, out: Option<Arc<dyn ChatOut>>) {
        if let Ok(mut current) = self.0.write() {
            *current = out;
        }
    }
}

#[async_trait]
impl ChatOut for SessionChat {
    async fn reply(
        &self,
        channel: &Login,
        reply_to: &str,
        text: &str,
    ) -> Result<(), irc::IrcError> {
        let out = self
            .0
            .read()
            .ok()
            .and_then(|current| current.clone())
            .ok_or(irc::IrcError::Closed)?;
        out.reply(channel, reply_to, text).await
    }
}

/// Runs IRC sessions until `cancel` fires. A login Twitch rejects (a revoked or expired token)
/// stops nothing else: the token is refreshed when it can be, and the session is started again
/// after a backoff ([`irc::connector::backoff`]), with one warning per streak of failures and `/healthz`
/// reporting IRC degraded meanwhile (through the config's status).
async fn run_irc<L: LoginCredentials>(
    config: IrcConfig,
    credentials: impl Fn() -> L + Send + 'static,
    auth: Option<Auth>,
    wanted: watch::Receiver<BTreeSet<Login>>,
    events: mpsc::Sender<Observed>,
    chat: Arc<SessionChat>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let status = config.status.clone();
    let mut backoff = irc::connector::backoff();
    let mut failures = 0u32;
    loop {
        let session = async {
            let session = IrcSession::start(config.clone(), credentials()).await?;
            chat.set(Some(Arc::new(session.sender())));
            session
                .run(wanted.clone(), events.clone(), cancel.clone())
                .await
        };
        let ended = session.await;
        chat.set(None);
        match ended {
            Ok(()) => return Ok(()),
            Err(irc::IrcError::LoginFailed { login, notice }) => {
                if status.problem().is_none() {
                    // This session had logged in: a new streak starts.
                    failures = 0;
                    backoff = irc::connector::backoff();
                }
                failures += 1;
                status.set_problem(format!("login rejected ({notice}), retrying"));
                if failures == 1 {
                    warn!(%login, %notice, "Twitch IRC rejected the login; refreshing the token and retrying with backoff (chat is paused, nothing else stops)");
                }
                if let Some(auth) = &auth
                    && let Err(error) = auth.refresh().await
                {
                    tracing::debug!(%error, "refreshing the token after a rejected chat login failed");
                }
                let delay = backoff.next().unwrap_or(Duration::from_secs(300));
                tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    () = tokio::time::sleep(delay) => {}
                }
            }
            Err(e) => return Err(anyhow::Error::new(e).context("Twitch IRC")),
        }
    }
}
