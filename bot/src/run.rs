//! `chatters run | bot | web`: the long-lived process. Starts the named tasks (ingestion,
//! Twitch, recaps, web) under one [`CancellationToken`], waits for SIGINT/SIGTERM, then cancels
//! and waits for every task to finish (the ingestion writer flushes first) before closing the
//! store. A task that ends unasked stops the process with a failure.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chatters_core::bots::KnownBots;
use chatters_core::ingest::{Ingest, IngestConfig, IngestHandle};
use chatters_core::metrics::Metrics;
use chatters_core::settings::Settings;
use chatters_core::stats::Figures;
use chatters_core::store::Store;
use chatters_web::AppState;
use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::recap::{RecapConfig, Recaps};

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

/// Runs until SIGINT/SIGTERM (exit 0 after a clean shutdown) or until a task fails.
pub async fn run(settings: Settings, halves: Halves) -> anyhow::Result<()> {
    // Handlers first: a signal during start-up is then handled once everything runs.
    let mut signals = Signals::new()?;
    let store = crate::app::open_store(&settings).await?;
    let cancel = CancellationToken::new();
    let (mut tasks, ingest_handle) = match start(&settings, halves, &store, &cancel).await {
        Ok(started) => started,
        Err(error) => {
            cancel.cancel();
            store.close().await;
            return Err(error);
        }
    };
    info!(?halves, backend = ?settings.database_backend(), "chatters started");

    let mut failure = tokio::select! {
        name = signals.recv() => {
            info!(signal = name, "shutting down");
            None
        }
        Some((name, result)) = tasks.join_next() => {
            let error = match result {
                Ok(()) => anyhow::anyhow!("the {name} task stopped unexpectedly"),
                Err(error) => error.context(format!("the {name} task stopped")),
            };
            error!(task = name, error = format!("{error:#}"), "task died, shutting down");
            Some(error)
        }
    };
    cancel.cancel();
    drop(ingest_handle);
    if let Some(error) = shut_down(tasks, &mut signals).await {
        failure.get_or_insert(error);
    }
    store.close().await;
    match failure {
        None => {
            info!("stopped");
            Ok(())
        }
        Some(error) => Err(error),
    }
}

/// Starts the tasks of `halves`. The web listener is bound first, so a taken port fails before
/// ingestion starts. The ingestion handle (what the bot half feeds) is kept until shutdown.
async fn start(
    settings: &Settings,
    halves: Halves,
    store: &Arc<dyn Store>,
    cancel: &CancellationToken,
) -> anyhow::Result<(Tasks, Option<IngestHandle>)> {
    let mut tasks = Tasks::default();
    let listener = if halves.web() {
        let bound = TcpListener::bind(settings.web_addr).await;
        Some(bound.with_context(|| format!("listening on {} (WEB_ADDR)", settings.web_addr))?)
    } else {
        None
    };
    let mut ingest_handle = None;
    let metrics = Metrics::default();
    let mut bot_user = None;
    if halves.bot() {
        // Credentials first: an invalid token stops start-up, and the bot account's id is
        // needed so it never counts as a chatter.
        let twitch = crate::twitch::connect(settings, store).await?;
        let mut config = IngestConfig::from_settings(settings);
        config.tracker.bot_user = twitch.bot.as_ref().map(|b| b.id);
        bot_user = config.tracker.bot_user;
        let figures = Figures::new(store.clone(), KnownBots::shipped(), config.tracker.bot_user);
        let recaps = Recaps::new(figures, RecapConfig::from_settings(settings))?;
        recaps.metrics().register(&metrics);
        let stop = cancel.clone();
        tasks.spawn("recaps", recaps.run(stop));
        let (handle, writer) = Ingest::start(store.clone(), config, cancel.clone())
            .await
            .context("starting ingestion")?;
        handle.register_metrics(&metrics);
        crate::twitch::spawn(
            twitch,
            settings,
            store.clone(),
            handle.clone(),
            cancel,
            &mut tasks,
        )
        .register(&metrics);
        ingest_handle = Some(handle);
        tasks.spawn("ingest", async move {
            match writer.await {
                Ok(result) => result.context("ingestion writer failed"),
                Err(join) => Err(anyhow::anyhow!("ingestion writer panicked: {join}")),
            }
        });
    }
    if let Some(listener) = listener {
        let config = chatters_web::WebConfig {
            public_base_url: settings.public_base_url.clone(),
            redis_url: settings.redis_url.clone(),
            // Known when the bot half runs here; the tracker never counts it either way.
            bot_user,
        };
        let mut state = AppState::with_config(store.clone(), config);
        state.metrics = metrics;
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

/// Waits for the (cancelled) tasks to finish, for at most [`SHUTDOWN_GRACE`] or until a second
/// signal. Returns the first failure.
async fn shut_down(tasks: Tasks, signals: &mut Signals) -> Option<anyhow::Error> {
    tokio::select! {
        stopped = tokio::time::timeout(SHUTDOWN_GRACE, tasks.join_all()) => match stopped {
            Ok(errors) => errors.into_iter().next(),
            Err(_) => {
                warn!("tasks did not stop within {SHUTDOWN_GRACE:?}");
                Some(anyhow::anyhow!(
                    "tasks did not stop within {} s",
                    SHUTDOWN_GRACE.as_secs()
                ))
            }
        },
        name = signals.recv() => {
            warn!(signal = name, "second signal, stopping without waiting");
            Some(anyhow::anyhow!("stopped by a second {name} before shutdown finished"))
        }
    }
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

/// The named long-lived tasks: one that ends unasked stops the process.
#[derive(Default)]
pub struct Tasks(JoinSet<(&'static str, anyhow::Result<()>)>);

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks")
            .field("running", &self.0.len())
            .finish()
    }
}

impl Tasks {
    /// Starts a task under `name`.
    pub fn spawn(
        &mut self,
        name: &'static str,
        task: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        self.0.spawn(async move { (name, task.await) });
    }

    /// The next task to finish, with its name (`None` once all have).
    async fn join_next(&mut self) -> Option<(&'static str, anyhow::Result<()>)> {
        let joined = self.0.join_next().await?;
        Some(joined.unwrap_or_else(|join| ("a", Err(anyhow::anyhow!("task panicked: {join}")))))
    }

    /// Waits for every task; returns the failures, each logged.
    async fn join_all(mut self) -> Vec<anyhow::Error> {
        let mut errors = Vec::new();
        while let Some((name, result)) = self.join_next().await {
            match result {
                Ok(()) => info!(task = name, "stopped"),
                Err(error) => {
                    error!(
                        task = name,
                        error = format!("{error:#}"),
                        "task failed while stopping"
                    );
                    errors.push(error);
                }
            }
        }
        errors
    }
}
