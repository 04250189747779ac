//! The emote-set refresher against fake 7TV, BetterTTV and FrankerFaceZ APIs on 127.0.0.1:
//! sets are fetched when a channel is joined, precedence follows the SPEC, mood rules set with
//! `channel set` apply, and a failing provider is retried without stopping anything.

use std::collections::BTreeSet;
use std::time::Duration;

use chatters_bot::emote_sets::{EmoteSets, EmoteSetsConfig};
use chatters_bot::testing::fake_emotes::FakeEmotes;
use chatters_core::channel_settings::SettingChange;
use chatters_core::domain::{Login, UserId};
use chatters_core::signals::{Mood, Provider, Registry};
use chatters_core::testing::TestDb;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const CHAN_ID: &str = "111";

/// `(provider, id)` of each emote found in `text`, and the moods.
fn scan(registry: &Registry, text: &str) -> (Vec<(Provider, String)>, Vec<Mood>) {
    let s = registry.scan("chan", text, None);
    let emotes = s
        .emotes
        .iter()
        .map(|u| (u.emote.provider, u.emote.id.to_string()))
        .collect();
    (emotes, s.mood.iter().collect())
}

/// Waits up to 10 s for `check` to hold.
async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn config(fake: &FakeEmotes) -> EmoteSetsConfig {
    let mut config = EmoteSetsConfig::new(fake.providers());
    config.retry = Duration::from_millis(200);
    config.reload = Duration::from_millis(100);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sets_of_all_three_providers_are_fetched_with_the_specs_precedence() {
    let fake = FakeEmotes::start().await.expect("fake");
    fake.set_global(Provider::SevenTv, &[("7-ez", "EZ"), ("7-clash", "Clash")]);
    fake.set_global(Provider::Bttv, &[("b-clash", "Clash"), ("b-cat", "catJAM")]);
    fake.set_global(Provider::Ffz, &[("1", "Clash"), ("2", "LULW")]);
    fake.set_channel(
        Provider::Ffz,
        CHAN_ID,
        &[("3", "catJAM"), ("4", "chanEmote")],
    );
    fake.set_channel(Provider::Bttv, CHAN_ID, &[("b-chan", "chanEmote")]);
    let db = TestDb::sqlite().await;
    let store = db.store.clone();
    let chan = store
        .add_channel(&Login::parse("chan").expect("login"))
        .await
        .expect("add");
    store
        .set_channel_twitch_id(chan.key, UserId(111))
        .await
        .expect("id");
    SettingChange::parse("mood.hype.add", "chanEmote")
        .expect("valid")
        .save(&store, chan.key)
        .await
        .expect("save");

    let registry = Registry::default();
    let sets = EmoteSets::new(config(&fake), store.clone(), registry.clone()).expect("sets");
    let wanted: BTreeSet<Login> = [Login::parse("chan").expect("login")].into();
    let (_tx, rx) = watch::channel(wanted);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(sets.run(rx, cancel.clone()));

    assert!(
        eventually(|| scan(&registry, "chanEmote").0 == vec![(Provider::Bttv, "b-chan".into())])
            .await,
        "the channel's sets arrive"
    );
    // Global clash: 7TV beats BetterTTV beats FFZ.
    assert_eq!(
        scan(&registry, "Clash").0,
        vec![(Provider::SevenTv, "7-clash".into())]
    );
    // The channel's FFZ set beats the global BetterTTV set.
    assert_eq!(
        scan(&registry, "catJAM").0,
        vec![(Provider::Ffz, "3".into())]
    );
    // FFZ's global emotes are its default sets only.
    assert_eq!(scan(&registry, "LULW").0, vec![(Provider::Ffz, "2".into())]);
    assert_eq!(scan(&registry, "NotADefault").0, vec![]);
    // The channel's mood rule (an emote name: exact).
    assert_eq!(scan(&registry, "chanEmote").1, vec![Mood::Hype]);
    // Another channel gets the global sets only.
    let other = registry.scan("elsewhere", "chanEmote EZ", None);
    assert_eq!(other.emotes.len(), 1);

    cancel.cancel();
    task.await.expect("join").expect("clean stop");
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_is_retried_and_the_others_still_count() {
    let fake = FakeEmotes::start().await.expect("fake");
    fake.set_global(Provider::SevenTv, &[("7-ez", "EZ")]);
    fake.set_global(Provider::Bttv, &[("b-cat", "catJAM")]);
    fake.fail(Provider::SevenTv, true);
    let db = TestDb::sqlite().await;
    let store = db.store.clone();
    store
        .add_channel(&Login::parse("chan").expect("login"))
        .await
        .expect("add");

    let registry = Registry::default();
    let sets = EmoteSets::new(config(&fake), store.clone(), registry.clone()).expect("sets");
    let (_tx, rx) = watch::channel([Login::parse("chan").expect("login")].into());
    let cancel = CancellationToken::new();
    let task = tokio::spawn(sets.run(rx, cancel.clone()));

    // BetterTTV counts while 7TV fails (the channel's id is unknown: globals only).
    assert!(
        eventually(|| scan(&registry, "catJAM").0 == vec![(Provider::Bttv, "b-cat".into())]).await
    );
    assert_eq!(scan(&registry, "EZ").0, vec![]);
    assert!(
        eventually(|| fake.calls(Provider::SevenTv) >= 2).await,
        "retried"
    );
    fake.fail(Provider::SevenTv, false);
    assert!(
        eventually(|| scan(&registry, "EZ").0 == vec![(Provider::SevenTv, "7-ez".into())]).await,
        "7TV's set arrives once it answers again"
    );
    assert!(!task.is_finished(), "a failing provider stops nothing");
    cancel.cancel();
    task.await.expect("join").expect("clean stop");
    db.cleanup().await;
}
