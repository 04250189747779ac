use std::time::Duration;

use super::*;
use crate::domain::Login;
use crate::event::Badge;
use crate::store::BotRule;

fn login(s: &str) -> Login {
    Login::parse(s).expect("valid login")
}

fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

const DISCORD: &str = "https://discord.com/api/webhooks/1/s3cr3t";

#[test]
fn every_key_parses_its_good_values() {
    use SettingChange as C;
    let cases: Vec<(&str, &str, SettingChange, &str)> = vec![
        ("public_page", "on", C::PublicPage(true), "public_page = on"),
        (
            "public_page",
            "OFF",
            C::PublicPage(false),
            "public_page = off",
        ),
        (
            "Public_Page",
            " yes ",
            C::PublicPage(true),
            "public_page = on",
        ),
        (
            "public_page",
            "false",
            C::PublicPage(false),
            "public_page = off",
        ),
        (
            "weekly_digest",
            "true",
            C::WeeklyDigest(true),
            "weekly_digest = on",
        ),
        (
            "weekly_digest",
            "no",
            C::WeeklyDigest(false),
            "weekly_digest = off",
        ),
        (
            "commands.stats",
            "everyone",
            C::Command("stats", Access::Everyone),
            "commands.stats = everyone",
        ),
        (
            "commands.chart",
            "off",
            C::Command("chart", Access::Off),
            "commands.chart = off",
        ),
        (
            "COMMANDS.Optout",
            "moderators",
            C::Command("optout", Access::Mods),
            "commands.optout = mods",
        ),
        (
            "commands.cooldown",
            "30s",
            C::Cooldown(Duration::from_secs(30)),
            "commands.cooldown = 30s",
        ),
        (
            "commands.cooldown",
            "0s",
            C::Cooldown(Duration::ZERO),
            "commands.cooldown = 0s",
        ),
        (
            "commands.cooldown",
            "90s",
            C::Cooldown(Duration::from_secs(90)),
            "commands.cooldown = 1m 30s",
        ),
        (
            "commands.cooldown",
            "1h",
            C::Cooldown(MAX_COOLDOWN),
            "commands.cooldown = 1h",
        ),
        (
            "discord_webhook",
            DISCORD,
            C::Webhook(WebhookKind::Discord, Some(WebhookUrl::new(DISCORD))),
            "discord_webhook set (hidden)",
        ),
        (
            "slack_webhook",
            " http://hooks.example/x ",
            C::Webhook(
                WebhookKind::Slack,
                Some(WebhookUrl::new("http://hooks.example/x")),
            ),
            "slack_webhook set (hidden)",
        ),
        (
            "discord_webhook",
            "None",
            C::Webhook(WebhookKind::Discord, None),
            "discord_webhook cleared",
        ),
        (
            "bots.add",
            "@MyBot",
            C::Bot(login("mybot"), Some(BotRule::Add)),
            "mybot is a known bot here",
        ),
        (
            "bots.allow",
            "nightbot",
            C::Bot(login("nightbot"), Some(BotRule::Allow)),
            "nightbot counts as a chatter here",
        ),
        (
            "bots.remove",
            "mybot",
            C::Bot(login("mybot"), None),
            "mybot no longer added as a bot here",
        ),
    ];
    for (key, value, change, line) in cases {
        let parsed = SettingChange::parse(key, value);
        assert_eq!(parsed.as_ref(), Ok(&change), "{key} {value}");
        assert_eq!(change.describe(), line, "{key} {value}");
    }
    for name in COMMAND_NAMES {
        let key = format!("commands.{name}");
        assert_eq!(
            SettingChange::parse(&key, "mods"),
            Ok(SettingChange::Command(name, Access::Mods))
        );
    }
}

#[test]
fn bad_values_get_the_errors_users_see() {
    let cases = [
        (
            "public_page",
            "maybe",
            r#"public_page: expected on or off, got "maybe""#,
        ),
        (
            "weekly_digest",
            "",
            r#"weekly_digest: expected on or off, got """#,
        ),
        (
            "commands.stats",
            "sometimes",
            r#"commands.stats: expected off, mods or everyone, got "sometimes""#,
        ),
        (
            "commands.nope",
            "off",
            "commands.nope: no command \"nope\" (one of chatters, new, seen, stats, top, \
             lurkers, overlap, raid, accounts, chart, optout, optin, viewers, watchtime, regulars, \
             emotes, mood, or commands.cooldown)",
        ),
        (
            "commands.cooldown",
            "2h",
            r#"commands.cooldown: expected a duration up to 1h such as 5s, 30s or 0s, got "2h""#,
        ),
        (
            "commands.cooldown",
            "soon",
            r#"commands.cooldown: expected a duration up to 1h such as 5s, 30s or 0s, got "soon""#,
        ),
        (
            "discord_webhook",
            "ftp://secret-token@x",
            "discord_webhook: expected an http(s) webhook URL or none",
        ),
        (
            "slack_webhook",
            "not a url",
            "slack_webhook: expected an http(s) webhook URL or none",
        ),
        (
            "bots.add",
            "no way",
            r#"bots.add: "no way" is not a Twitch login"#,
        ),
        (
            "bots.remove",
            "",
            r#"bots.remove: "" is not a Twitch login"#,
        ),
        (
            "Colour",
            "blue",
            "unknown setting \"colour\": expected public_page, weekly_digest, commands.<name>, \
             commands.cooldown, discord_webhook, slack_webhook, bots.add, bots.remove, bots.allow or \
             mood.<mood>.add|remove",
        ),
    ];
    for (key, value, text) in cases {
        let error = SettingChange::parse(key, value).expect_err(key);
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn nothing_echoes_a_webhook_url() {
    let refused = SettingChange::parse("slack_webhook", "ftp://secret-token@x").expect_err("bad");
    assert!(!refused.to_string().contains("secret-token"));
    let change = SettingChange::parse("discord_webhook", DISCORD).expect("valid");
    assert!(!format!("{change:?}").contains("s3cr3t"));
    assert!(!change.describe().contains("s3cr3t"));
}

#[test]
fn nothing_stored_means_the_defaults() {
    let settings = ChannelSettings::from_rows(Vec::new());
    assert_eq!(settings, ChannelSettings::default());
    assert!(settings.public_page);
    assert!(!settings.weekly_digest);
    assert_eq!(settings.cooldown, Duration::from_secs(5));
    assert_eq!(settings.access("stats"), Access::Mods);
    assert_eq!(settings.access("optout"), Access::Everyone);
    assert_eq!(settings.access("optin"), Access::Everyone);
    assert_eq!(settings.webhook(WebhookKind::Discord), None);
}

#[test]
fn stored_rows_load_typed() {
    let settings = ChannelSettings::from_rows(rows(&[
        ("commands.chart", "off"),
        ("commands.cooldown", "1m 30s"),
        ("commands.lurkers", "everyone"),
        ("discord_webhook", DISCORD),
        ("public_page", "off"),
        ("slack_webhook", "  "),
        ("weekly_digest", "on"),
    ]));
    assert_eq!(
        settings,
        ChannelSettings {
            public_page: false,
            weekly_digest: true,
            commands: [
                ("chart".to_owned(), Access::Off),
                ("lurkers".to_owned(), Access::Everyone),
            ]
            .into(),
            cooldown: Duration::from_secs(90),
            discord_webhook: Some(WebhookUrl::new(DISCORD)),
            slack_webhook: None,
            mood: Vec::new(),
        }
    );
    assert_eq!(settings.access("chart"), Access::Off);
    assert_eq!(settings.access("stats"), Access::Mods);
}

#[test]
fn unreadable_stored_values_keep_the_defaults() {
    let settings = ChannelSettings::from_rows(rows(&[
        ("commands.stats", "sometimes"),
        ("commands.cooldown", "soon"),
        ("weekly_digest", "yes"),
        ("public_page", "maybe"),
        ("colour", "blue"),
    ]));
    assert_eq!(settings, ChannelSettings::default());
}

#[test]
fn stored_command_rules_accept_older_synonyms() {
    for (value, access) in [
        ("disabled", Access::Off),
        ("false", Access::Off),
        ("on", Access::Mods),
        ("moderators", Access::Mods),
        ("all", Access::Everyone),
        (" Everyone ", Access::Everyone),
    ] {
        let settings = ChannelSettings::from_rows(rows(&[("commands.top", value)]));
        assert_eq!(settings.access("top"), access, "{value:?}");
    }
}

#[test]
fn off_values_switch_the_public_page_off() {
    for off in ["off", "OFF", " false", "no", "0", "disabled"] {
        let settings = ChannelSettings::from_rows(rows(&[("public_page", off)]));
        assert!(!settings.public_page, "{off:?}");
    }
    for on in ["on", "true", "yes", "1", ""] {
        let settings = ChannelSettings::from_rows(rows(&[("public_page", on)]));
        assert!(settings.public_page, "{on:?}");
    }
}

#[test]
fn a_saved_change_loads_back() {
    let changes = [
        "public_page off",
        "weekly_digest on",
        "commands.stats everyone",
        "commands.cooldown 90s",
    ];
    let mut stored = Vec::new();
    for line in changes {
        let (key, value) = line.split_once(' ').expect("pair");
        let change = SettingChange::parse(key, value).expect("valid");
        let (name, value) = change.row().expect("a settings row");
        stored.push((name, value.expect("a value")));
    }
    let settings = ChannelSettings::from_rows(stored);
    assert!(!settings.public_page);
    assert!(settings.weekly_digest);
    assert_eq!(settings.access("stats"), Access::Everyone);
    assert_eq!(settings.cooldown, Duration::from_secs(90));
}

#[test]
fn the_listing_masks_webhooks_and_keeps_the_rest_as_stored() {
    let listed = listing(rows(&[
        ("discord_webhook", DISCORD),
        ("public", "true"),
        ("slack_webhook", "not a url s3cr3t"),
    ]));
    let shown: Vec<String> = listed
        .iter()
        .map(|l| format!("{}={}", l.name, l.shown))
        .collect();
    assert_eq!(
        shown,
        [
            "discord_webhook=https://discord.com/***",
            "public=true",
            "slack_webhook=***"
        ]
    );
    assert_eq!(
        listed[0].webhook,
        Some((WebhookKind::Discord, WebhookUrl::new(DISCORD)))
    );
    assert_eq!(listed[1].webhook, None);
    assert_eq!(
        format!("{:?}", listed[0].webhook),
        "Some((Discord, WebhookUrl(<redacted>)))"
    );
}

fn badge(name: &str) -> Badge {
    Badge {
        name: name.into(),
        version: "1".into(),
    }
}

#[test]
fn roles_come_from_badges() {
    assert_eq!(Role::from_badges(&[]), Role::Viewer);
    assert_eq!(
        Role::from_badges(&[badge("subscriber"), badge("moderator")]),
        Role::Moderator
    );
    assert_eq!(
        Role::from_badges(&[badge("lead_moderator")]),
        Role::Moderator
    );
    assert_eq!(
        Role::from_badges(&[badge("broadcaster"), badge("subscriber")]),
        Role::Broadcaster
    );
    assert_eq!(Role::from_badges(&[badge("vip")]), Role::Viewer);
}

#[test]
fn defaults_let_moderators_in_and_everyone_opt_out() {
    assert!(!Access::default_for("stats").allows(Role::Viewer));
    assert!(Access::default_for("stats").allows(Role::Moderator));
    assert!(Access::default_for("stats").allows(Role::Broadcaster));
    assert!(Access::default_for("optout").allows(Role::Viewer));
    assert!(!Access::Off.allows(Role::Broadcaster));
    assert_eq!(Access::parse("Everyone"), Some(Access::Everyone));
    assert_eq!(Access::parse("nope"), None);
}

#[test]
fn mood_rules_parse_save_as_one_row_per_word_and_load_back() {
    use crate::signals::{Mood, MoodRule};
    let add = SettingChange::parse("mood.hype.add", " LETSGOOO ").expect("valid");
    assert_eq!(
        add,
        SettingChange::Mood(MoodRule {
            mood: Mood::Hype,
            word: "LETSGOOO".into(),
            add: true
        })
    );
    assert_eq!(add.describe(), "LETSGOOO counts as hype here");
    assert_eq!(
        add.row(),
        Some(("mood.hype.LETSGOOO".to_owned(), Some("add".to_owned())))
    );
    let remove = SettingChange::parse("MOOD.Laughter.remove", "lol").expect("valid");
    assert_eq!(remove.describe(), "lol no longer counts as laughter here");
    for (key, value) in [
        ("mood.joy.add", "yay"),
        ("mood.hype.toggle", "pog"),
        ("mood.hype", "pog"),
        ("mood.hype.add", "two words"),
        ("mood.hype.add", ""),
        ("mood.hype.add", &"x".repeat(41)),
    ] {
        let error = SettingChange::parse(key, value).expect_err(key);
        assert!(
            matches!(error, SettingError::NotAMoodRule { .. }),
            "{key} {value}: {error}"
        );
    }
    let settings = ChannelSettings::from_rows(rows(&[
        ("mood.hype.LETSGOOO", "add"),
        ("mood.laughter.lol", "remove"),
        ("mood.nonsense.x", "add"),
    ]));
    assert_eq!(
        settings.mood,
        vec![
            MoodRule {
                mood: Mood::Hype,
                word: "LETSGOOO".into(),
                add: true
            },
            MoodRule {
                mood: Mood::Laughter,
                word: "lol".into(),
                add: false
            },
        ]
    );
}
