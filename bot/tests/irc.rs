//! The IRC client against the fake Twitch IRC server: capabilities, joins and parts, messages
//! delivered exactly once across RECONNECT and dropped sockets, the re-assertion of channels,
//! login failure and anonymous login. Every test holds [`chatters_bot::irc::fake::exclusive`] (the IRC address
//! is process-global). `TEST_LOG=1` shows the logs.

use std::collections::BTreeSet;
use std::time::Duration;

use chatters_bot::irc::fake::{FakeIrc, corpus_line, corpus_line_in, exclusive};
use chatters_bot::irc::membership::MembershipConfig;
use chatters_bot::irc::{self, IrcConfig, IrcError, IrcSession, translate_irc};
use chatters_bot::observed::Observed;
use chatters_core::domain::{Login, Timestamp};
use chatters_core::event::Event;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use twitch_irc::login::StaticLoginCredentials;
use twitch_irc::message::IRCMessage;

const WAIT: Duration = Duration::from_secs(10);
const BOT: &str = "chattersbot";

fn login(s: &str) -> Login {
    Login::parse(s).expect("login")
}

fn channels(names: &[&str]) -> BTreeSet<Login> {
    names.iter().map(|n| login(n)).collect()
}

fn token() -> StaticLoginCredentials {
    StaticLoginCredentials::new(BOT.into(), Some("secret-token".into()))
}

fn config(fake: &FakeIrc) -> IrcConfig {
    IrcConfig {
        reassert_every: Duration::from_millis(100),
        membership: MembershipConfig {
            stale_after: Duration::from_secs(60),
            join_timeout: Duration::from_millis(500),
            max_backoff: Duration::from_secs(2),
        },
        new_connection_every: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(5),
        ..IrcConfig::new(fake.url())
    }
}

/// A running client and the ends of its channels.
struct Bot {
    events: mpsc::Receiver<Observed>,
    wanted: watch::Sender<BTreeSet<Login>>,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), IrcError>>,
}

async fn start(config: IrcConfig, credentials: StaticLoginCredentials, wanted: &[&str]) -> Bot {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,twitch_irc=info")
            .try_init();
    }
    let (wanted_tx, wanted_rx) = watch::channel(channels(wanted));
    let (events_tx, events) = mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(irc::run(
        config,
        credentials,
        wanted_rx,
        events_tx,
        cancel.clone(),
    ));
    Bot {
        events,
        wanted: wanted_tx,
        cancel,
        task,
    }
}

impl Bot {
    /// The next `n` events, or fails after [`WAIT`].
    async fn next(&mut self, n: usize) -> Vec<Observed> {
        let mut out = Vec::new();
        while out.len() < n {
            match tokio::time::timeout(WAIT, self.events.recv()).await {
                Ok(Some(event)) => out.push(event),
                other => panic!("expected {n} events, got {out:?} then {other:?}"),
            }
        }
        out
    }

    /// Whatever arrives within `d`.
    async fn quiet(&mut self, d: Duration) -> Vec<Observed> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            out.push(event);
        }
        out
    }

    async fn stop(self) {
        self.cancel.cancel();
        let result = self.task.await.expect("task");
        assert_eq!(result, Ok(()));
    }
}

/// The ids of the chat messages among `events`.
fn message_ids(events: &[Observed]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Observed::Event(Event::Message(m)) => m.id.clone(),
            _ => None,
        })
        .collect()
}

/// Corpus line 20 (a PRIVMSG in #pajlada) in `channel` with message id `id`.
fn chat(channel: &str, id: &str) -> String {
    corpus_line_in(20, "pajlada", channel).replace("e9d998c3-36f1-430f-89ec-6b887c28af36", id)
}

async fn joined(fake: &FakeIrc, channel: &str) -> u64 {
    assert!(
        fake.wait_for(WAIT, |s| s.joined(channel).len() == 1).await,
        "#{channel} joined"
    );
    fake.state().joined(channel)[0]
}

#[tokio::test]
async fn membership_capability_is_requested_on_every_connection() {
    let _guard = exclusive().await;
    let fake = FakeIrc::start().await.expect("fake");
    let config = IrcConfig {
        max_channels_per_connection: 2,
        ..config(&fake)
    };
    let bot = start(config, token(), &["a", "b", "c", "d", "e"]).await;

    for c in ["a", "b", "c", "d", "e"] {
        joined(&fake, c).await;
    }

    {
        let state = fake.state();
        assert_eq!(state.logins(), 3, "5 channels, 2 per connection");
        for (id, conn) in state.conns.iter().filter(|(_, c)| c.nick.is_some()) {
            let lines = state.sent_on(*id);
            assert_eq!(lines[0], "CAP REQ :twitch.tv/membership", "connection {id}");
            assert!(lines.contains(&"CAP REQ :twitch.tv/tags twitch.tv/commands"));
            assert!(lines.contains(&"PASS oauth:secret-token"));
            assert_eq!(conn.nick.as_deref(), Some(BOT));
        }
    }
    bot.stop().await;
}

#[tokio::test]
async fn joins_every_wanted_channel_and_leaves_removed_ones() {
    let _guard = exclusive().await;
    let fake = FakeIrc::start().await.expect("fake");
    let bot = start(config(&fake), token(), &["a", "b", "c"]).await;
    for c in ["a", "b", "c"] {
        joined(&fake, c).await;
    }

    bot.wanted.send_replace(channels(&["b", "c", "d"]));

    joined(&fake, "d").await;
    assert!(fake.wait_for(WAIT, |s| s.joined("a").is_empty()).await);
    {
        let state = fake.state();
        assert_eq!(state.count_sent(|l| l == "PART #a"), 1);
        for c in ["b", "c", "d"] {
            let join = format!("JOIN #{c}");
            assert_eq!(state.count_sent(|l| l == join), 1, "{join} once");
        }
    }
    bot.stop().await;
}

#[tokio::test]
async fn each_line_arrives_once_with_its_tags() {
    let _guard = exclusive().await;
    let fake = FakeIrc::start().await.expect("fake");
    let mut bot = start(config(&fake), token(), &["pajlada", "xqcow"]).await;
    joined(&fake, "pajlada").await;
    joined(&fake, "xqcow").await;
    let lines = [
        corpus_line(20),
        corpus_line(21),
        corpus_line(25),
        corpus_line(10),
        corpus_line(14),
        corpus_line(41),
    ];

    for line in &lines[..5] {
        assert_eq!(fake.send_to_channel("pajlada", line), 1);
    }
    assert_eq!(fake.send_to_channel("xqcow", &lines[5]), 1);

    let events = bot.next(7).await;
    let own = login(BOT);
    let expected: Vec<Observed> = lines
        .iter()
        .flat_map(|l| translate_irc(&IRCMessage::parse(l).expect("irc"), Timestamp(0), &own))
        .collect();
    for (got, want) in events.iter().zip(&expected) {
        match (got, want) {
            (Observed::Join { channel, login, .. }, Observed::Join { .. })
            | (Observed::Part { channel, login, .. }, Observed::Part { .. }) => {
                assert_eq!(
                    (channel.as_str(), login.as_str()),
                    ("pajlada", "randers811")
                );
            }
            // The irc task also scans a message's emotes and moods (`translate_irc` does not).
            (Observed::Event(Event::Message(m)), _) => {
                let mut bare = m.clone();
                bare.signals = Default::default();
                assert_eq!(&Observed::Event(Event::Message(bare)), want);
            }
            _ => assert_eq!(got, want),
        }
    }
    assert_eq!(events.len(), expected.len());
    assert_eq!(bot.quiet(Duration::from_millis(300)).await, vec![]);
    bot.stop().await;
}

/// Shared by the RECONNECT and dropped-socket tests: 5 lines, the disruption, 5 more.
async fn survives(disrupt: impl FnOnce(&FakeIrc, u64)) {
    let fake = FakeIrc::start().await.expect("fake");
    let mut bot = start(config(&fake), token(), &["pajlada"]).await;
    let first = joined(&fake, "pajlada").await;
    for i in 0..5 {
        fake.send_to_channel("pajlada", &chat("pajlada", &format!("before-{i}")));
    }
    let mut events = bot.next(5).await;

    disrupt(&fake, first);

    assert!(
        fake.wait_for(WAIT, |s| !s.conns[&first].open
            && s.joined("pajlada").len() == 1
            && s.joined("pajlada")[0] != first)
            .await,
        "rejoined on a new connection"
    );
    for i in 0..5 {
        assert_eq!(
            fake.send_to_channel("pajlada", &chat("pajlada", &format!("after-{i}"))),
            1
        );
    }
    events.extend(bot.quiet(Duration::from_secs(1)).await);
    let expected: Vec<String> = (0..5)
        .map(|i| format!("before-{i}"))
        .chain((0..5).map(|i| format!("after-{i}")))
        .collect();
    assert_eq!(message_ids(&events), expected, "each line exactly once");
    assert_eq!(fake.state().count_sent(|l| l == "JOIN #pajlada"), 2);
    bot.stop().await;
}

#[tokio::test]
async fn reconnect_mid_stream_rejoins_and_neither_loses_nor_doubles() {
    let _guard = exclusive().await;
    survives(|fake, conn| assert!(fake.reconnect(conn))).await;
}

#[tokio::test]
async fn dropped_socket_rejoins_and_neither_loses_nor_doubles() {
    let _guard = exclusive().await;
    survives(|fake, conn| fake.drop_connection(conn)).await;
}

#[tokio::test]
async fn another_users_part_does_not_lose_the_channel() {
    let _guard = exclusive().await;
    let fake = FakeIrc::start().await.expect("fake");
    let mut cfg = config(&fake);
    cfg.membership.stale_after = Duration::from_millis(800);
    let mut bot = start(cfg, token(), &["pajlada"]).await;
    let conn = joined(&fake, "pajlada").await;

    // Another user leaves: twitch-irc now believes we are not in #pajlada. Chat goes on, and
    // no JOIN is re-sent while it does (Twitch limits JOINs).
    fake.send_to_channel("pajlada", &corpus_line(14));
    for i in 0..12 {
        fake.send_to_channel("pajlada", &chat("pajlada", &format!("m-{i}")));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = bot.next(13).await;
    assert_eq!(message_ids(&events).len(), 12);
    assert_eq!(fake.state().count_sent(|l| l == "JOIN #pajlada"), 1);

    // Twitch silently drops the membership: the channel goes quiet, the bot joins again.
    fake.forget(conn, "pajlada");
    assert!(
        fake.wait_for(WAIT, |s| s.count_sent(|l| l == "JOIN #pajlada") == 2)
            .await
    );
    joined(&fake, "pajlada").await;
    fake.send_to_channel("pajlada", &chat("pajlada", "after"));
    assert_eq!(message_ids(&bot.next(1).await), vec!["after".to_owned()]);
    bot.stop().await;
}

#[tokio::test]
async fn bytes_that_are_not_utf8_lose_only_themselves() {
    let _guard = exclusive().await;
    let fake = FakeIrc::start().await.expect("fake");
    let mut bot = start(config(&fake), token(), &["pajlada"]).await;
    let conn = joined(&fake, "pajlada").await;
    let sender = fake.sender(conn).expect("the connection");
    // twitch-irc's reader failed on such a line and closed the connection with what it had
    // read; now the chat line counts (the bad byte replaced) and so does everything after it.
    let mut bytes = chat("pajlada", "bad-byte").into_bytes();
    bytes.extend_from_slice(b" caf\xe9\r\n:tmi.twitch.tv NOTICE #pajlada :caf\xe9\r\n");
    bytes.extend_from_slice(format!("{}\r\n", chat("pajlada", "after")).as_bytes());
    assert!(sender.send(bytes::Bytes::from(bytes)));
    let events = bot.next(2).await;
    assert_eq!(message_ids(&events), ["bad-byte", "after"]);
    assert_eq!(bot.quiet(Duration::from_millis(300)).await, vec![]);
    assert!(fake.state().conns[&conn].open, "the connection stays open");
    assert_eq!(fake.state().count_sent(|l| l == "JOIN #pajlada"), 1);
    bot.stop().await;
}

#[tokio::test]
async fn rejected_login_ends_the_task_without_retrying() {
    let _guard = exclusive().await;
    let fake = FakeIrc::start().await.expect("fake");
    fake.set_fail_logins(true);
    let config = IrcConfig {
        new_connection_every: Duration::from_secs(1),
        ..config(&fake)
    };
    let bot = start(config, token(), &["pajlada"]).await;

    let result = tokio::time::timeout(WAIT, bot.task).await.expect("ends");
    let error = result.expect("task").expect_err("login failure");

    assert_eq!(
        error,
        IrcError::LoginFailed {
            login: BOT.into(),
            notice: "Login authentication failed".into()
        }
    );
    assert!(!error.to_string().contains("secret-token"), "{error}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let state = fake.state();
    assert_eq!((state.logins(), state.conns.len()), (1, 1), "no retry");
}

#[tokio::test]
async fn anonymous_login_uses_a_justinfan_nick_and_no_password() {
    let _guard = exclusive().await;
    let fake = FakeIrc::start().await.expect("fake");
    let bot = start(config(&fake), irc::anonymous(), &["pajlada"]).await;
    joined(&fake, "pajlada").await;

    {
        let state = fake.state();
        let nick = state.conns[&0].nick.clone().expect("nick");
        let digits = nick.strip_prefix("justinfan").expect("justinfan nick");
        assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(state.count_sent(|l| l.starts_with("PASS")), 0);
        assert_eq!(state.sent_on(0)[0], "CAP REQ :twitch.tv/membership");
    }
    bot.stop().await;
}

#[tokio::test]
async fn server_pings_are_answered_and_replies_are_threaded() {
    let _guard = exclusive().await;
    let fake = FakeIrc::start().await.expect("fake");
    let session = IrcSession::start(config(&fake), token())
        .await
        .expect("start");
    let sender = session.sender();
    let (_wanted_tx, wanted) = watch::channel(channels(&["pajlada"]));
    let (events, _events_rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(session.run(wanted, events, cancel.clone()));
    let conn = joined(&fake, "pajlada").await;

    assert!(fake.ping(conn));
    assert!(fake.wait_for(WAIT, |s| s.conns[&conn].pongs == 1).await);
    sender
        .say_in_reply_to(&login("pajlada"), "abc-123", "hello")
        .await
        .expect("say");
    let is_reply = |l: &str| {
        IRCMessage::parse(l).is_ok_and(|m| {
            m.command == "PRIVMSG"
                && m.params == ["#pajlada", "hello"]
                && m.tags.0.get("reply-parent-msg-id").map(String::as_str) == Some("abc-123")
        })
    };
    assert!(
        fake.wait_for(WAIT, |s| s.count_sent(is_reply) == 1).await,
        "{:?}",
        fake.state().sent
    );

    cancel.cancel();
    assert_eq!(task.await.expect("task"), Ok(()));
    assert_eq!(
        sender.say(&login("pajlada"), "late").await,
        Err(IrcError::Closed)
    );
}

/// Ingestion stalls while chat keeps coming: twitch-irc's queue stops growing at the
/// back-pressure limit (the sockets are no longer read), and once ingestion takes events
/// again every message arrives, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consumer_pauses_reading_and_loses_nothing() {
    use chatters_bot::irc::pressure;

    let _lock = exclusive().await;
    let fake = FakeIrc::start().await.expect("fake");
    let mut bot = start(config(&fake), token(), &["chan"]).await;
    let conn = joined(&fake, "chan").await;
    let total = pressure::HIGH * 3;
    let sender = fake.sender(conn).expect("connection");
    for n in 0..total {
        let line = chat("chan", &format!("00000000-0000-0000-0000-{n:012}"));
        assert!(sender.send(format!("{line}\r\n").into()), "sent");
    }

    // Nobody takes the events: reading pauses with the backlog at the limit.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !pressure::paused() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pressure::paused(), "reading paused");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let backlog = pressure::backlog();
    assert!(
        (pressure::HIGH as u64..pressure::HIGH as u64 + 2_000).contains(&backlog),
        "backlog {backlog}, limit {}",
        pressure::HIGH
    );
    assert!(pressure::paused(), "still paused");

    // Ingestion resumes: every message arrives exactly once, in order.
    let mut ids = Vec::with_capacity(total);
    while ids.len() < total {
        let events = bot.next(1).await;
        ids.extend(message_ids(&events));
    }
    assert_eq!(ids.len(), total);
    assert!(
        ids.iter()
            .enumerate()
            .all(|(n, id)| *id == format!("00000000-0000-0000-0000-{n:012}")),
        "in order, none lost"
    );
    assert!(!pressure::paused(), "reading resumed");
    bot.stop().await;
}
