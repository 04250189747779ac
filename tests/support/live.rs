//! A whole bot (credentials, Helix, IRC, identity, scheduler, ingestion, commands) started
//! against the fake Twitch, for the end-to-end tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chatters::run::{Halves, run_with};
use chatters_bot::irc::fake::FakeIrc;
use chatters_bot::testing::fake_helix::{CLIENT_ID, CLIENT_SECRET, FakeHelix, FakeToken, FakeUser};
use chatters_bot::testing::process_vars;
use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, StreamId, UserId};
use chatters_core::metrics::Metrics;
use chatters_core::settings::Settings;
use chatters_core::stats::Figures;
use chatters_core::store::{self, Store};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);
pub const TOKEN: &str = "bot-access-token";
pub const SCOPES: &[&str] = &[
    "moderator:read:chatters",
    "user:read:moderated_channels",
    "chat:read",
    "chat:edit",
];

pub fn login(s: &str) -> Login {
    Login::parse(s).expect("login")
}

pub fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

pub fn rfc3339_now() -> String {
    chatters_core::domain::Timestamp::now().to_rfc3339()
}

/// A PRIVMSG exactly as Twitch sends it.
pub fn privmsg(
    channel: &str,
    room: u64,
    user_id: u64,
    user: &str,
    first: bool,
    text: &str,
) -> String {
    format!(
        "@badge-info=;badges=;client-nonce=0;color=#1E90FF;display-name={user};emotes=;first-msg={};flags=;id=00000000-0000-0000-0000-{:012};mod=0;returning-chatter=0;room-id={room};subscriber=0;tmi-sent-ts={};turbo=0;user-id={user_id};user-type= :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #{channel} :{text}",
        u8::from(first),
        now_ms() % 1_000_000_000_000,
        now_ms(),
    )
}

pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The whole process (bot and web halves) running over a fresh SQLite file.
pub struct Bot {
    /// The store the process runs over (shared with the test).
    pub store: Arc<Store>,
    /// Figures over the same store, as the process computes them.
    pub figures: Figures,
    /// The process's metrics registry (what `/metrics` serves).
    pub metrics: Metrics,
    /// The web half's address (`/metrics`, charts, API).
    pub web_addr: SocketAddr,
    /// Stops the process.
    pub cancel: CancellationToken,
    /// The process: [`chatters::run::run_with`].
    pub process: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub _dir: tempfile::TempDir,
}

/// A free port on 127.0.0.1 (bound then released: the process binds it again).
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// Starts `chatters run` (both halves) against the fakes, with the settings of a bot account
/// `chattersbot` (id 900) plus `extra`.
pub async fn start_bot(irc: &FakeIrc, helix: &FakeHelix, extra: &[(&str, String)]) -> Bot {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/chatters.db", dir.path().display());
    let store = store::open(&url, &Default::default()).await.expect("open");
    store.migrate().await.expect("migrate");
    let web_addr = free_addr();
    let mut vars = process_vars(irc, helix, "chattersbot", TOKEN);
    vars.extend(
        [
            ("DATABASE_URL", url),
            ("WEB_ADDR", web_addr.to_string()),
            ("TWITCH_BOT_REFRESH_TOKEN", "bot-refresh".to_owned()),
            ("SNAPSHOT_INTERVAL", "1h".to_owned()),
            ("OFFLINE_SNAPSHOT_INTERVAL", "1h".to_owned()),
            ("STREAM_POLL_INTERVAL", "300ms".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let settings = Settings::from_vars(vars).expect("settings");
    let cancel = CancellationToken::new();
    let metrics = Metrics::default();
    let process = tokio::spawn({
        let (store, cancel, metrics) = (store.clone(), cancel.clone(), metrics.clone());
        async move { run_with(&settings, Halves::Both, store, cancel, metrics).await }
    });
    let bot = Bot {
        figures: Figures::new(store.clone(), KnownBots::shipped(), Some(UserId(900))),
        store,
        metrics,
        web_addr,
        cancel,
        process,
        _dir: dir,
    };
    let url = format!("http://{web_addr}/healthz");
    eventually("the web half to answer", || async {
        reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    bot
}

impl Bot {
    pub async fn stream_counts(&self, id: &str) -> Option<[i64; 4]> {
        let stream = self.store.stream(&StreamId::parse(id).ok()?).await.ok()??;
        let f = self.figures.stream(&stream).await.ok()?;
        Some([
            f.unique_chatters,
            f.messages,
            f.new_chatters,
            f.peak_chatters,
        ])
    }

    /// The `/metrics` text, as Prometheus would scrape it.
    pub async fn scrape(&self) -> String {
        let url = format!("http://{}/metrics", self.web_addr);
        let response = reqwest::get(&url).await.expect("GET /metrics");
        assert!(response.status().is_success(), "{}", response.status());
        response.text().await.expect("metrics text")
    }

    /// Stops the process and checks it stopped cleanly (the ingestion writer flushed).
    pub async fn stop(self) {
        self.cancel.cancel();
        self.process
            .await
            .expect("join")
            .expect("a clean stop with the final flush");
    }
}

pub fn fake_twitch_users(helix: &FakeHelix) -> (FakeUser, FakeUser) {
    let bot = FakeUser::new("900", "chattersbot");
    let chan = FakeUser::new("500", "chan");
    for u in [
        bot.clone(),
        chan.clone(),
        FakeUser::new("1", "alice"),
        FakeUser::new("2", "bob"),
        FakeUser::new("3", "carol"),
        FakeUser::new("4", "dave"),
        FakeUser::new("600", "other"),
        FakeUser::new("7", "erin"),
    ] {
        helix.add_user(u);
    }
    helix.set_client(CLIENT_ID, CLIENT_SECRET);
    helix.add_token(FakeToken::user(TOKEN, "bot-refresh", &bot, SCOPES));
    helix.set_moderated_channels("900", vec![chan.clone()]);
    (bot, chan)
}
