//! The real Twitch wiring (credentials, Helix, IRC, identity, scheduler, ingestion) against the
//! fake Twitch: a stream from online to offline with a snapshot, joins, messages, a rename and
//! a JOIN-only user resolved through Helix gives exactly the SPEC figures; a channel the bot
//! does not moderate (403 on Get Chatters) falls back to IRC-only presence.

#[allow(dead_code)]
#[path = "support/fake_irc.rs"]
mod fake_irc;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chatters_bot::run::Tasks;
use chatters_bot::testing::fake_helix::{
    CLIENT_ID, CLIENT_SECRET, Endpoint, FakeHelix, FakeStream, FakeToken, FakeUser,
};
use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, StreamId, UserId};
use chatters_core::ingest::{Ingest, IngestConfig};
use chatters_core::settings::Settings;
use chatters_core::stats::Figures;
use chatters_core::store::{self, Store};
use fake_irc::{FakeIrc, exclusive};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(20);
const TOKEN: &str = "bot-access-token";
const SCOPES: &[&str] = &[
    "moderator:read:chatters",
    "user:read:moderated_channels",
    "chat:read",
    "chat:edit",
];

fn login(s: &str) -> Login {
    Login::parse(s).expect("login")
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn rfc3339_now() -> String {
    chatters_core::domain::Timestamp::now().to_rfc3339()
}

/// A PRIVMSG exactly as Twitch sends it.
fn privmsg(channel: &str, room: u64, user_id: u64, user: &str, first: bool, text: &str) -> String {
    format!(
        "@badge-info=;badges=;client-nonce=0;color=#1E90FF;display-name={user};emotes=;first-msg={};flags=;id=00000000-0000-0000-0000-{:012};mod=0;returning-chatter=0;room-id={room};subscriber=0;tmi-sent-ts={};turbo=0;user-id={user_id};user-type= :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #{channel} :{text}",
        u8::from(first),
        now_ms() % 1_000_000_000_000,
        now_ms(),
    )
}

async fn eventually<F, Fut>(what: &str, mut check: F)
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

struct Bot {
    metrics: chatters_web::metrics::Metrics,
    store: Arc<dyn Store>,
    figures: Figures,
    cancel: CancellationToken,
    tasks: Tasks,
    ingest_task: tokio::task::JoinHandle<Result<(), store::StoreError>>,
    _dir: tempfile::TempDir,
}

async fn start_bot(irc: &FakeIrc, helix: &FakeHelix, extra: &[(&str, String)]) -> Bot {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/chatters.db", dir.path().display());
    let store = store::open(&url, &Default::default()).await.expect("open");
    store.migrate().await.expect("migrate");
    let mut vars = vec![
        ("DATABASE_URL".to_owned(), url),
        ("TWITCH_IRC_URL".to_owned(), irc.url().to_string()),
        ("TWITCH_HELIX_URL".to_owned(), helix.helix_url().to_string()),
        (
            "TWITCH_OAUTH2_URL".to_owned(),
            helix.oauth2_url().to_string(),
        ),
        ("TWITCH_CLIENT_ID".to_owned(), CLIENT_ID.to_owned()),
        ("TWITCH_CLIENT_SECRET".to_owned(), CLIENT_SECRET.to_owned()),
        ("TWITCH_BOT_LOGIN".to_owned(), "chattersbot".to_owned()),
        ("TWITCH_BOT_TOKEN".to_owned(), TOKEN.to_owned()),
        (
            "TWITCH_BOT_REFRESH_TOKEN".to_owned(),
            "bot-refresh".to_owned(),
        ),
        ("SNAPSHOT_INTERVAL".to_owned(), "1h".to_owned()),
        ("OFFLINE_SNAPSHOT_INTERVAL".to_owned(), "1h".to_owned()),
        ("STREAM_POLL_INTERVAL".to_owned(), "300ms".to_owned()),
    ];
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let settings = Settings::from_vars(vars).expect("settings");
    let cancel = CancellationToken::new();
    let twitch = chatters_bot::twitch::connect(&settings, &store)
        .await
        .expect("credentials");
    let bot_user = twitch.bot.as_ref().map(|b| b.id);
    assert_eq!(bot_user, Some(UserId(900)));
    let mut config = IngestConfig::from_settings(&settings);
    config.tracker.bot_user = bot_user;
    let (ingest, ingest_task) = Ingest::start(store.clone(), config, cancel.clone())
        .await
        .expect("ingest");
    let mut tasks = Tasks::default();
    let metrics = chatters_web::metrics::Metrics::default();
    let counters = chatters_bot::twitch::spawn(
        twitch,
        &settings,
        store.clone(),
        ingest,
        &cancel,
        &mut tasks,
    );
    counters.register(&metrics);
    let figures = Figures::new(store.clone(), KnownBots::shipped(), bot_user);
    Bot {
        metrics,
        store,
        figures,
        cancel,
        tasks,
        ingest_task,
        _dir: dir,
    }
}

impl Bot {
    async fn stream_counts(&self, id: &str) -> Option<[i64; 4]> {
        let stream = self.store.stream(&StreamId::parse(id).ok()?).await.ok()??;
        let f = self.figures.stream(&stream).await.ok()?;
        Some([
            f.unique_chatters,
            f.messages,
            f.new_chatters,
            f.peak_chatters,
        ])
    }

    async fn stop(self) {
        self.cancel.cancel();
        drop(self.tasks);
        self.ingest_task.await.expect("join").expect("final flush");
    }
}

fn fake_twitch_users(helix: &FakeHelix) -> (FakeUser, FakeUser) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_from_online_to_offline_gives_the_spec_figures() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let (_, chan) = fake_twitch_users(&helix);
    helix.set_chatters(
        "500",
        vec![
            FakeUser::new("1", "alice"),
            FakeUser::new("2", "bob"),
            FakeUser::new("900", "chattersbot"),
        ],
    );
    let bot = start_bot(&irc, &helix, &[]).await;

    // The moderated channel is joined (with the membership capability).
    assert!(
        irc.wait_for(WAIT, |s| !s.joined("chan").is_empty()).await,
        "joined #chan"
    );
    assert!(
        irc.state()
            .count_sent(|l| l == "CAP REQ :twitch.tv/membership")
            >= 1
    );

    // Online: the stream is recorded and its first snapshot taken at once.
    helix.set_stream(FakeStream {
        id: "1001".into(),
        user: chan.clone(),
        title: "first stream".into(),
        started_at: rfc3339_now(),
    });
    eventually("the stream and its snapshot", || async {
        bot.stream_counts("1001").await.is_some_and(|c| c[0] == 2)
    })
    .await;

    // Chat: a first-time chatter, a JOIN-only user (resolved through Helix), and alice renamed.
    irc.send_to_channel("chan", &privmsg("chan", 500, 3, "carol", true, "hi all"));
    irc.send_to_channel("chan", ":dave!dave@dave.tmi.twitch.tv JOIN #chan");
    irc.send_to_channel(
        "chan",
        &privmsg("chan", 500, 1, "alicia", false, "new name"),
    );
    irc.send_to_channel("chan", &privmsg("chan", 500, 1, "alicia", false, "again"));
    // An old-format PRIVMSG naming its sender only by login: resolved through Get Users.
    irc.send_to_channel(
        "chan",
        "@badges=;color=;display-name=Bob;emotes=;subscriber=0;turbo=0;user-type= :bob!bob@bob.tmi.twitch.tv PRIVMSG #chan :old format",
    );
    eventually("the chat to be ingested", || async {
        bot.stream_counts("1001").await == Some([4, 4, 4, 2])
    })
    .await;

    // Offline: the next poll ends the stream.
    helix.end_stream("500");
    eventually("the stream to end", || async {
        let s = bot
            .store
            .stream(&StreamId::parse("1001").expect("id"))
            .await;
        s.ok().flatten().is_some_and(|s| s.ended_at.is_some())
    })
    .await;

    let stream = bot
        .store
        .stream(&StreamId::parse("1001").expect("id"))
        .await
        .expect("read")
        .expect("stream");
    let f = bot.figures.stream(&stream).await.expect("figures");
    // unique: alice (snapshot, then as alicia), bob (snapshot), carol (message), dave (JOIN);
    // all new; returning 0; first-time: carol; peak: the snapshot's 2 (the bot account is not
    // counted); messages: carol 1 + alicia 2 + bob 1; lurkers: dave.
    assert_eq!(
        (
            f.unique_chatters,
            f.new_chatters,
            f.returning_chatters,
            f.first_time_chatters,
            f.peak_chatters,
            f.messages,
            f.lurkers,
            f.retention,
        ),
        (4, 4, 0, 1, 2, 4, 1, None)
    );
    assert_eq!(f.title, "first stream");
    let dave = bot
        .store
        .user(UserId(4))
        .await
        .expect("read")
        .expect("dave resolved to his id");
    assert_eq!(dave.login, login("dave"));
    assert!(
        dave.created_at.is_some(),
        "account creation time from Get Users"
    );
    let names = bot.store.name_history(UserId(1)).await.expect("names");
    let names: Vec<String> = names.iter().map(|n| n.login.to_string()).collect();
    assert_eq!(names, vec!["alice".to_owned(), "alicia".to_owned()]);
    let channel = bot
        .store
        .channel(&login("chan"))
        .await
        .expect("read")
        .expect("channel");
    assert_eq!(channel.twitch_id, Some(UserId(500)));
    assert_eq!(
        helix.calls_to(Endpoint::Chatters).len(),
        1,
        "one snapshot while live"
    );
    assert_eq!(helix.answered(429), 0);
    // The same counters reach /metrics.
    let text = bot.metrics.render();
    assert!(
        text.contains("chatters_snapshot_results_total{result=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("chatters_snapshot_results_total{result=\"failed\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("chatters_helix_calls_total{endpoint=\"chat/chatters\",status=\"200\"} 1"),
        "{text}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_the_bot_does_not_moderate_falls_back_to_irc_only() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    fake_twitch_users(&helix);
    let other = FakeUser::new("600", "other");
    let bot = start_bot(&irc, &helix, &[("CHATTERS_CHANNELS", "other".to_owned())]).await;
    assert!(
        irc.wait_for(WAIT, |s| !s.joined("other").is_empty()).await,
        "joined #other"
    );
    helix.set_stream(FakeStream {
        id: "2001".into(),
        user: other,
        title: "not a mod here".into(),
        started_at: rfc3339_now(),
    });
    eventually("the stream row", || async {
        bot.stream_counts("2001").await.is_some()
    })
    .await;
    eventually("the 403 on Get Chatters", || async {
        helix.answered(403) >= 1
    })
    .await;
    irc.send_to_channel("other", ":erin!erin@erin.tmi.twitch.tv JOIN #other");
    irc.send_to_channel("other", &privmsg("other", 600, 3, "carol", false, "hello"));
    // IRC-only: unique erin and carol, one message, peak 2 from JOIN/message tracking.
    eventually("IRC-only figures", || async {
        bot.stream_counts("2001").await == Some([2, 1, 2, 2])
    })
    .await;
    assert_eq!(
        helix.calls_to(Endpoint::Chatters).len(),
        1,
        "not retried before the next moderated-channels read"
    );
    bot.stop().await;
}
