//! README "Quick start", run as written: its five commands, taken from the README itself, in a
//! fresh directory against the fake Twitch (IRC, Helix, OAuth with the device code flow), until
//! the bot answers a `!stats` in the channel. `cargo install` is the one command not run: the
//! binary under test stands in for what it installs.

mod support;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chatters_bot::irc::fake::{FakeIrc, exclusive};
use chatters_bot::testing::fake_helix::{CLIENT_ID, FakeDevice, FakeHelix, FakeStream, FakeUser};
use support::live::{WAIT, rfc3339_now};
use support::process::{finish, free_port, signal};

/// The commands of the README's Quick start block (between `<!-- quickstart -->` markers).
fn quickstart_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .find("<!-- quickstart -->")
        .expect("quick start marker");
    let end = readme
        .find("<!-- /quickstart -->")
        .expect("quick start end marker");
    readme[start..end]
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// A shell in `dir` whose PATH finds the `chatters` under test first.
fn shell(dir: &Path, bin: &Path, line: &str, env: &[(&str, String)]) -> Command {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = Command::new("sh");
    command
        .args(["-c", line])
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[test]
fn the_readme_quick_start_has_five_commands() {
    let commands = quickstart_commands();
    assert_eq!(commands.len(), 5, "{commands:?}");
    assert!(commands[0].starts_with("cargo install"));
    assert!(commands.iter().any(|c| c == "chatters login"));
    assert_eq!(commands.last().map(String::as_str), Some("chatters run"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_start_gets_a_stats_answer_in_chat() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake IRC");
    let helix = FakeHelix::start().await.expect("fake Helix");
    let bot = FakeUser::new("900", "chattersbot");
    let chan = FakeUser::new("500", "chan");
    helix.add_user(bot.clone());
    helix.add_user(chan.clone());
    helix.set_device(FakeDevice::authorized_by(&bot));
    helix.set_moderated_channels("900", vec![chan.clone()]);

    let dir = tempfile::tempdir().expect("temp dir");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    symlink(env!("CARGO_BIN_EXE_chatters"), bin.join("chatters")).expect("symlink");
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("work dir");
    // Where "Twitch" is, and quicker polls; everything else is as the README says.
    let port = free_port();
    let env = [
        ("TWITCH_IRC_URL", irc.url().to_string()),
        ("TWITCH_HELIX_URL", helix.helix_url().to_string()),
        ("TWITCH_OAUTH2_URL", helix.oauth2_url().to_string()),
        ("WEB_ADDR", format!("127.0.0.1:{port}")),
        ("STREAM_POLL_INTERVAL", "300ms".to_owned()),
        ("HOME", dir.path().display().to_string()),
    ];

    let commands: Vec<String> = quickstart_commands()
        .into_iter()
        .skip(1)
        .map(|c| {
            c.replace("<your client id>", CLIENT_ID)
                .replace("<your channel>", "chan")
        })
        .collect();
    let (run, setup) = commands.split_last().expect("commands");
    for line in setup {
        let child = shell(&work, &bin, line, &env).spawn().expect("sh");
        let finished = tokio::task::spawn_blocking(move || finish(child, Duration::from_secs(60)))
            .await
            .expect("thread");
        assert!(finished.status.success(), "{line}: {finished:?}");
        if line == "chatters login" {
            assert!(
                finished.stdout.contains("ABCD"),
                "the code is shown: {finished:?}"
            );
        }
    }

    let child = shell(&work, &bin, &format!("exec {run}"), &env)
        .spawn()
        .expect("chatters run");
    assert!(
        irc.wait_for(WAIT, |s| !s.joined("chan").is_empty()).await,
        "the bot joined #chan"
    );
    helix.set_stream(FakeStream {
        id: "7001".into(),
        user: chan.clone(),
        title: "quick start".into(),
        started_at: rfc3339_now(),
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ask = format!(
        "@badge-info=;badges=broadcaster/1;color=;display-name=chan;emotes=;first-msg=0;flags=;id=ask-1;mod=0;returning-chatter=0;room-id=500;subscriber=0;tmi-sent-ts={};turbo=0;user-id=500;user-type= :chan!chan@chan.tmi.twitch.tv PRIVMSG #chan :!stats",
        chatters_core::domain::Timestamp::now().0 * 1000
    );
    irc.send_to_channel("chan", &ask);
    let answered = irc
        .wait_for(WAIT, |s| {
            s.sent.iter().any(|m| {
                m.line
                    .starts_with("@reply-parent-msg-id=ask-1 PRIVMSG #chan :")
            })
        })
        .await;

    signal(&child, "-TERM");
    let finished = tokio::task::spawn_blocking(move || finish(child, Duration::from_secs(30)))
        .await
        .expect("thread");
    assert!(answered, "no answer to !stats: {finished:?}");
    assert!(finished.status.success(), "{finished:?}");
}
