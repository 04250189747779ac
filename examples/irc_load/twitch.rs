//! The load tools' common set-up: the fake Twitch (IRC, Helix, OAuth) on its own thread and
//! runtime, as a remote server would be, with `channels` live channels the bot moderates, and
//! the whole process ([`chatters::run::run_with`]) over a fresh SQLite file, started and
//! waited for until every channel is joined and its stream recorded. With a `chatters` binary
//! given, the process is that binary (`chatters run`) as a child process instead, so its
//! memory is its own, read off `/proc`, and its figures come from its `/metrics`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chatters::run::{Halves, run_with};
use chatters_bot::irc::fake::FakeIrc;
use chatters_bot::testing::fake_emotes::FakeEmotes;
use chatters_bot::testing::fake_helix::{
    CLIENT_ID, CLIENT_SECRET, FakeHelix, FakeStream, FakeToken, FakeUser,
};
use chatters_bot::testing::process_vars;
use chatters_core::domain::Timestamp;
use chatters_core::metrics::Metrics;
use chatters_core::settings::Settings;
use chatters_core::signals::Provider;
use chatters_core::store::{self, Store};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The bot account's login and token in the fake.
const BOT_LOGIN: &str = "chattersbot";
const TOKEN: &str = "load-token";

pub fn channel_name(c: u64) -> String {
    format!("chan{c:04}")
}

/// The fake Twitch and the process running against it.
pub struct Running {
    /// The fake Twitch's own runtime (generators run on it too).
    pub server: tokio::runtime::Runtime,
    pub irc: Arc<FakeIrc>,
    /// Kept alive for the process's Helix calls.
    pub _helix: FakeHelix,
    /// Kept alive for the process's emote-set fetches (7TV, BetterTTV, FFZ).
    pub _emotes: FakeEmotes,
    pub names: Vec<String>,
    pub store: Arc<Store>,
    /// Where its figures are read.
    pub source: Source,
    process: Process,
    _dir: tempfile::TempDir,
}

/// The process under load: in this one, or the `chatters` binary as a child.
enum Process {
    Inside {
        cancel: CancellationToken,
        task: JoinHandle<anyhow::Result<()>>,
    },
    Child(ChildGuard),
}

/// Where the process's figures are read.
#[derive(Clone)]
pub enum Source {
    /// Its registry, in this process.
    Inside(Metrics),
    /// The child's `/metrics`, and its id.
    Child {
        url: String,
        http: reqwest::Client,
        #[allow(
            dead_code,
            reason = "read by irc_load, not by command_latency, which shares this file"
        )]
        pid: u32,
    },
}

impl Source {
    /// The process's `/metrics` text.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        match self {
            Self::Inside(metrics) => Ok(metrics.encode()),
            Self::Child { url, http, .. } => Ok(http
                .get(url)
                .timeout(Duration::from_secs(5))
                .send()
                .await?
                .error_for_status()?
                .text()
                .await?),
        }
    }

    /// The child's process id (`None`: the process runs in this one).
    #[allow(
        dead_code,
        reason = "read by irc_load, not by command_latency, which shares this file"
    )]
    pub fn pid(&self) -> Option<u32> {
        match self {
            Self::Inside(_) => None,
            Self::Child { pid, .. } => Some(*pid),
        }
    }
}

/// Starts the fake Twitch with `channels` live channels and the whole process against it,
/// then waits until every channel is joined and every stream is recorded.
pub async fn start(channels: u64, binary: Option<&Path>) -> anyhow::Result<Running> {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fake-twitch")
        .enable_all()
        .build()?;
    let irc = Arc::new(server.spawn(FakeIrc::start()).await??);
    let helix = server.spawn(FakeHelix::start()).await??;
    let emotes = server.spawn(FakeEmotes::start()).await??;
    for (provider, (global, channel)) in Provider::THIRD_PARTY
        .into_iter()
        .zip(super::vocab::provider_sets())
    {
        let global: Vec<(&str, &str)> = global
            .iter()
            .map(|(i, n)| (i.as_str(), n.as_str()))
            .collect();
        emotes.set_global(provider, &global);
        emotes.set_any_channel(provider, channel);
    }
    let bot = FakeUser::new("900", BOT_LOGIN);
    helix.add_user(bot.clone());
    helix.set_client(CLIENT_ID, CLIENT_SECRET);
    helix.add_token(FakeToken::user(
        TOKEN,
        "load-refresh",
        &bot,
        &[
            "moderator:read:chatters",
            "user:read:moderated_channels",
            "chat:read",
            "chat:edit",
        ],
    ));
    let names: Vec<String> = (0..channels).map(channel_name).collect();
    let users: Vec<FakeUser> = names
        .iter()
        .enumerate()
        .map(|(c, n)| FakeUser::new(&(1_000_000 + c).to_string(), n))
        .collect();
    for (c, user) in users.iter().enumerate() {
        helix.add_user(user.clone());
        irc.state().moderator_in.insert(user.login.clone());
        helix.set_stream(FakeStream {
            id: (1_500_000 + c).to_string(),
            user: user.clone(),
            title: "load".into(),
            started_at: Timestamp::now().plus(-60).to_rfc3339(),
        });
    }
    helix.set_moderated_channels("900", users);

    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/load.db", dir.path().display());
    let web_addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut vars = process_vars(&irc, &helix, BOT_LOGIN, TOKEN);
    // Emote counting on, against the fake providers (every channel has full sets).
    vars.extend(emotes.vars());
    vars.extend(
        [
            ("DATABASE_URL", url.clone()),
            ("WEB_ADDR", web_addr.to_string()),
            ("SNAPSHOT_INTERVAL", "1h".to_owned()),
            ("OFFLINE_SNAPSHOT_INTERVAL", "1h".to_owned()),
            ("STREAM_POLL_INTERVAL", "10s".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    // `IRC_LOAD_SQLITE_CACHE_KIB`: the page cache per connection (default: the product's).
    let mut options = store::ConnectOptions::default();
    let cache_kib = std::env::var("IRC_LOAD_SQLITE_CACHE_KIB")
        .ok()
        .and_then(|v| v.parse().ok());
    if let Some(kib) = cache_kib {
        options.sqlite_cache_kib = kib;
    }
    let store = store::open(&url, &options).await?;
    store.migrate().await?;
    let (process, source) = match binary {
        None => {
            let settings = Settings::from_vars(vars).map_err(|e| anyhow::anyhow!("{e}"))?;
            let cancel = CancellationToken::new();
            let metrics = Metrics::default();
            let task = tokio::spawn({
                let (store, cancel, metrics) = (store.clone(), cancel.clone(), metrics.clone());
                async move { run_with(&settings, Halves::Both, store, cancel, metrics).await }
            });
            (Process::Inside { cancel, task }, Source::Inside(metrics))
        }
        Some(binary) => {
            if cache_kib.is_some() {
                bail!("IRC_LOAD_SQLITE_CACHE_KIB applies to the process in this one only");
            }
            let child = std::process::Command::new(binary)
                .arg("run")
                .env_clear()
                .envs(vars)
                .env("METRICS_ADDR", metrics_addr.to_string())
                .env("LOG", "warn")
                // No `.env` of the caller's directory.
                .current_dir(dir.path())
                .spawn()
                .with_context(|| format!("starting {}", binary.display()))?;
            let child = ChildGuard(child);
            let pid = child.0.id();
            let source = Source::Child {
                url: format!("http://{metrics_addr}/metrics"),
                http: reqwest::Client::new(),
                pid,
            };
            (Process::Child(child), source)
        }
    };

    let all_joined = irc
        .wait_for(Duration::from_secs(180), |s| {
            names.iter().all(|n| !s.joined(n).is_empty())
        })
        .await;
    if !all_joined {
        bail!("not every channel was joined within 3 minutes");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.live_streams().await?.len() < names.len() {
        if Instant::now() > deadline {
            bail!("the streams were not all recorded within a minute");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(Running {
        server,
        irc,
        _helix: helix,
        _emotes: emotes,
        names,
        store,
        source,
        process,
        _dir: dir,
    })
}

impl Running {
    /// Stops the process (which commits what it holds) and the fake Twitch.
    pub async fn stop(self) -> anyhow::Result<()> {
        let stopped = match self.process {
            Process::Inside { cancel, task, .. } => {
                cancel.cancel();
                task.await.context("the process").and_then(|r| r)
            }
            Process::Child(mut child) => terminate(&mut child.0).await,
        };
        self.store.close().await;
        // Before any error returns: a runtime dropped inside this one panics.
        self.server.shutdown_background();
        stopped
    }
}

/// The child process, killed if it is still running when dropped (an error on the way; a
/// child already waited for is left alone).
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIGTERM, then the exit, which must be a clean one within 60 s.
async fn terminate(child: &mut std::process::Child) -> anyhow::Result<()> {
    let pid = child.id();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    if !sent.success() {
        bail!("kill -TERM {pid} failed");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            bail!("the child did not exit within 60 s of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if !status.success() {
        bail!("the child exited with {status}");
    }
    Ok(())
}
