//! `chatters run | bot | web`: the long-lived process. [`run_until`] starts the named tasks
//! (ingestion, Twitch, recaps, web) under one [`CancellationToken`] and, once it fires, waits
//! for every task to finish (the ingestion writer flushes first); [`run`] opens the store and
//! fires the token on SIGINT/SIGTERM. A task that ends unasked stops the process with a failure.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chatters_core::bots::KnownBots;
use chatters_core::health::{self, Health};
use chatters_core::ingest::{Ingest, IngestConfig, IngestHandle};
use chatters_core::metrics::Metrics;
use chatters_core::retention::Retention;
use chatters_core::settings::Settings;
use chatters_core::stats::Figures;
use chatters_core::store::Store;
use chatters_web::AppState;
use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use chatters_bot::recap::{RecapConfig, Recaps};
use chatters_bot::tasks::Tasks;

/// How long the tasks get to finish after cancellation.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Which halves of chatters this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halves {
    /// Bot and web (`chatters run`).
    Both,
    /// Ingestion only (`chatters bot`).
    Bot,
    /// Web only (`chatters web`).
    Web,
}

impl Halves {
    fn bot(self) -> bool {
        matches!(self, Halves::Both | Halves::Bot)
    }

    fn web(self) -> bool {
        matches!(self, Halves::Both | Halves::Web)
    }
}

/// Runs until SIGINT/SIGTERM (exit 0 after a clean shutdown) or until a task fails. A second
/// signal during the shutdown stops without waiting.
pub async fn run(settings: Settings, halves: Halves) -> anyhow::Result<()> {
    // Handlers first: a signal during start-up is then handled once everything runs.
    let mut signals = Signals::new()?;
    let store = crate::open::open_store(&settings).await?;
    let cancel = CancellationToken::new();
    let running = run_until(&settings, halves, store.clone(), cancel.clone());
    tokio::pin!(running);
    let result = tokio::select! {
        result = &mut running => result,
        name = signals.recv() => {
            info!(signal = name, "shutting down");
            cancel.cancel();
            tokio::select! {
                result = &mut running => result,
                name = signals.recv() => {
                    warn!(signal = name, "second signal, stopping without waiting");
                    Err(anyhow::anyhow!("stopped by a second {name} before shutdown finished"))
                }
            }
        }
    };
    store.close().await;
    if result.is_ok() {
        info!("stopped");
    }
    result
}

/// Runs `halves` over `store` until `cancel` fires, then stops every task (the ingestion
/// writer flushes first), waiting at most [`SHUTDOWN_GRACE`]. A task that ends unasked cancels
/// the others and its failure is returned. The store is left open (the caller owns it).
///
/// This is the one way to run the real thing: `chatters run`, the end-to-end tests and the
/// load examples all call it.
pub async fn run_until(
    settings: &Settings,
    halves: Halves,
    store: Arc<Store>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    run_with(settings, halves, store, cancel, Metrics::default()).await
}

/// [`run_until`] with every series of the process registered into `metrics`, which the caller
/// may also feed and read (tests scrape it without going through `/metrics`).
pub async fn run_with(
    settings: &Settings,
    halves: Halves,
    store: Arc<Store>,
    cancel: CancellationToken,
    metrics: Metrics,
) -> anyhow::Result<()> {
    let (mut tasks, ingest_handle) = match start(settings, halves, &store, &cancel, metrics).await {
        Ok(started) => started,
        Err(error) => {
            cancel.cancel();
            return Err(error);
        }
    };
    info!(?halves, backend = ?settings.database_backend(), "chatters started");

    let mut failure = tokio::select! {
        // Cancellation first: once it fires, tasks end on their own and that is no failure.
        biased;
        () = cancel.cancelled() => None,
        Some((name, result)) = tasks.join_next() => match result {
            Ok(()) if cancel.is_cancelled() => None,
            result => {
                let error = match result {
                    Ok(()) => anyhow::anyhow!("the {name} task stopped unexpectedly"),
                    Err(error) => error.context(format!("the {name} task stopped")),
                };
                error!(task = name, error = format!("{error:#}"), "task died, shutting down");
                Some(error)
            }
        },
    };
    cancel.cancel();
    drop(ingest_handle);
    match tokio::time::timeout(SHUTDOWN_GRACE, tasks.join_all()).await {
        Ok(errors) => {
            if let Some(error) = errors.into_iter().next() {
                failure.get_or_insert(error);
            }
        }
        Err(_) => {
            warn!("tasks did not stop within {SHUTDOWN_GRACE:?}");
            failure.get_or_insert(anyhow::anyhow!(
                "tasks did not stop within {} s",
                SHUTDOWN_GRACE.as_secs()
            ));
        }
    }
    match failure {
        None => Ok(()),
        Some(error) => Err(error),
    }
}

/// Starts the tasks of `halves`. The web listener is bound first, so a taken port fails before
/// ingestion starts. The ingestion handle (what the bot half feeds) is kept until shutdown.
async fn start(
    settings: &Settings,
    halves: Halves,
    store: &Arc<Store>,
    cancel: &CancellationToken,
    metrics: Metrics,
) -> anyhow::Result<(Tasks, Option<IngestHandle>)> {
    let mut tasks = Tasks::default();
    // What `/healthz` reports. The bot half sets `irc` and `helix` (`Health::set_irc`,
    // `Health::set_helix`); the integrity check sets `database`.
    let health = Health::new();
    let listener = if halves.web() {
        let bound = TcpListener::bind(settings.web_addr).await;
        Some(bound.with_context(|| format!("listening on {} (WEB_ADDR)", settings.web_addr))?)
    } else {
        None
    };
    let metrics_listener = match settings.operations.metrics_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} (METRICS_ADDR)"))?,
        ),
        None => None,
    };
    let mut ingest_handle = None;
    let mut bot_user = None;
    if halves.bot() {
        // Credentials first: an invalid token stops start-up, and the bot account's id is
        // needed so it never counts as a chatter.
        let twitch = chatters_bot::twitch::connect(settings, store).await?;
        if twitch.helix.is_some() {
            health.set_helix(None);
        }
        let mut config = IngestConfig::from_settings(settings);
        // With Redis, channels are leased among instances (see chatters_bot::lease).
        config.leased = settings.redis_url.is_some();
        config.tracker.bot_user = twitch.bot.as_ref().map(|b| b.id);
        bot_user = config.tracker.bot_user;
        if let Some(id) = bot_user {
            store
                .set_bot_user(id)
                .await
                .context("recording the bot account's id")?;
        }
        let figures = Figures::new(store.clone(), KnownBots::shipped(), config.tracker.bot_user);
        if let Some(keep) = settings.operations.retention {
            let retention = Retention::new(figures.clone(), keep);
            tasks.spawn("retention", {
                let stop = cancel.clone();
                async move {
                    retention.run(stop).await;
                    Ok(())
                }
            });
        }
        let recaps = Recaps::new(figures, RecapConfig::from_settings(settings))?;
        recaps.metrics().register(&metrics);
        let stop = cancel.clone();
        tasks.spawn("recaps", recaps.run(stop));
        let (handle, writer) = Ingest::start(store.clone(), config, cancel.clone())
            .await
            .context("starting ingestion")?;
        handle.register_metrics(&metrics);
        let twitch_metrics = chatters_bot::twitch::spawn(
            twitch,
            settings,
            store.clone(),
            handle.clone(),
            cancel,
            &mut tasks,
        );
        // Chat is degraded until Twitch welcomes the login, and while it cannot (see
        // chatters_bot::irc::IrcStatus).
        let irc_status = twitch_metrics.irc.clone();
        health.watch_irc(move || irc_status.problem());
        twitch_metrics.register(&metrics);
        ingest_handle = Some(handle);
        tasks.spawn("ingest", async move {
            match writer.await {
                Ok(result) => result.context("ingestion writer failed"),
                Err(join) => Err(anyhow::anyhow!("ingestion writer panicked: {join}")),
            }
        });
    }
    let integrity = health::integrity_task(store.clone(), health.clone(), cancel.clone());
    tasks.spawn("integrity", async move {
        integrity.await;
        Ok(())
    });
    let config = chatters_web::WebConfig {
        public_base_url: settings.public_base_url.clone(),
        redis_url: settings.redis_url.clone(),
        // Known when the bot half runs here; the tracker never counts it either way.
        bot_user,
    };
    let mut state = AppState::with_config(store.clone(), config);
    state.metrics = metrics;
    state.health = health;
    state.dashboard = Arc::new(chatters_web::dashboard::Dashboard::from_settings(
        store.clone(),
        settings,
    ));
    if let Some(listener) = metrics_listener {
        state.metrics_route = false;
        let (state, shutdown) = (state.clone(), cancel.clone());
        tasks.spawn("metrics", async move {
            chatters_web::serve_metrics(listener, state, shutdown)
                .await
                .context("metrics server failed")
        });
        if let Some(addr) = settings.operations.metrics_addr {
            info!(%addr, "metrics endpoint listening");
        }
    }
    if let Some(listener) = listener {
        let shutdown = cancel.clone();
        tasks.spawn("web", async move {
            chatters_web::serve(listener, state, shutdown)
                .await
                .context("web server failed")
        });
        info!(addr = %settings.web_addr, "web endpoint listening");
    }
    Ok((tasks, ingest_handle))
}

/// SIGINT and SIGTERM.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            terminate: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
        })
    }

    /// The name of the next signal received.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
