//! Import speed: generates a realistic justlog archive and measures twitch-irc's parser alone
//! on it (the same-run reference for `chatters import`; see BENCHMARKS.md, "Import").
//!
//! ```text
//! cargo run --release --example import_speed -- generate /tmp/archive 5000000
//! DATABASE_URL=sqlite:///tmp/import.db /usr/bin/time -v target/release/chatters import /tmp/archive
//! cargo run --release --example import_speed -- reference /tmp/archive
//! ```
//!
//! The archive: `<room id>/<year>/<month>/<day>/channel.txt.gz` as justlog writes it, 20
//! channels of very different sizes (a few hundred to 60,000 chatters, a few users writing
//! most lines), one 4-hour stream a day each, 25 days; lines as Twitch sends them today (every
//! tag): 93% PRIVMSG, 5% USERNOTICE (subs, half with a message, a few raids), 2% CLEARCHAT.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use twitch_irc::message::{IRCMessage, ServerMessage};

const CHANNELS: u64 = 20;
const DAYS: u64 = 25;
/// 2024-03-01T00:00:00Z.
const START: u64 = 1_709_251_200;

/// A small deterministic generator (the archive is the same on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Skewed towards 0: a few users write most lines.
    fn skewed(&mut self, n: u64) -> u64 {
        let r = self.below(1 << 20) as f64 / f64::from(1 << 20);
        ((r * r * r) * n as f64) as u64
    }
}

const WORDS: &[&str] = &[
    "KEKW",
    "LUL",
    "PogChamp",
    "that",
    "was",
    "so",
    "good",
    "lol",
    "what",
    "is",
    "happening",
    "chat",
    "<3",
    "monkaS",
    "Sadge",
    "nice",
    "gg",
    "clip",
    "it",
    "no",
    "way",
    "@streamer",
    "hi",
];

fn text(rng: &mut Lcg) -> String {
    let n = 1 + rng.below(12);
    (0..n)
        .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

fn login_of(user: u64) -> String {
    format!("viewer_{user:x}")
}

fn line(rng: &mut Lcg, channel: &str, room: u64, users: u64, ms: u64) -> String {
    let user = 10_000_000 + room * 7 + rng.skewed(users) * 13;
    let login = login_of(user);
    let months = rng.below(40);
    let badges = if months > 0 {
        format!("badge-info=subscriber/{months};badges=subscriber/{months},premium/1")
    } else {
        "badge-info=;badges=".to_owned()
    };
    let id = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        rng.next(),
        rng.below(65536),
        rng.below(65536),
        rng.below(65536),
        rng.next()
    );
    let kind = rng.below(100);
    if kind < 93 {
        let first = u8::from(rng.below(200) == 0);
        format!(
            "@{badges};client-nonce={:016x}{:016x};color=#{:06X};display-name={login};emotes=;\
             first-msg={first};flags=;id={id};mod=0;returning-chatter=0;room-id={room};\
             subscriber={};tmi-sent-ts={ms};turbo=0;user-id={user};user-type= \
             :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #{channel} :{}",
            rng.next(),
            rng.next(),
            rng.below(0xFF_FFFF),
            u8::from(months > 0),
            text(rng)
        )
    } else if kind < 98 {
        let raid = rng.below(50) == 0;
        let (msg_id, params, body) = if raid {
            (
                "raid",
                format!(
                    "msg-param-displayName={login};msg-param-login={login};\
                     msg-param-viewerCount={}",
                    rng.below(500)
                ),
                String::new(),
            )
        } else {
            let body = if rng.below(2) == 0 {
                format!(" :{}", text(rng))
            } else {
                String::new()
            };
            (
                "resub",
                format!(
                    "msg-param-cumulative-months={months};msg-param-months=0;\
                     msg-param-should-share-streak=0;msg-param-sub-plan=1000"
                ),
                body,
            )
        };
        format!(
            "@{badges};color=;display-name={login};emotes=;flags=;id={id};login={login};mod=0;\
             msg-id={msg_id};{params};room-id={room};subscriber=1;\
             system-msg={login}\\ssubscribed\\sat\\sTier\\s1.;tmi-sent-ts={ms};user-id={user};\
             user-type= :tmi.twitch.tv USERNOTICE #{channel}{body}"
        )
    } else {
        let duration = if rng.below(10) == 0 {
            String::new()
        } else {
            format!("ban-duration={};", 60 * (1 + rng.below(10)))
        };
        format!(
            "@{duration}room-id={room};target-user-id={user};tmi-sent-ts={ms} \
             :tmi.twitch.tv CLEARCHAT #{channel} :{login}"
        )
    }
}

fn generate(dir: &Path, total: u64) -> std::io::Result<()> {
    let mut rng = Lcg(42);
    // Channel c gets a share of lines proportional to 1/(c+1).
    let weights: Vec<f64> = (0..CHANNELS).map(|c| 1.0 / (c + 1) as f64).collect();
    let sum: f64 = weights.iter().sum();
    let mut written = 0u64;
    for c in 0..CHANNELS {
        let room = 20_000_000 + c * 1_111;
        let channel = format!("channel{c}");
        let users = (60_000 / (c + 1)).max(300);
        let lines = (total as f64 * weights[c as usize] / sum) as u64;
        let per_day = lines / DAYS;
        for day in 0..DAYS {
            let at = START + day * 86_400;
            // justlog's folders: year, month and day without leading zeros.
            let date = chatters_core::domain::Timestamp(at as i64).date();
            let mut folder = dir.join(room.to_string());
            for part in date.split('-') {
                folder = folder.join(part.trim_start_matches('0'));
            }
            std::fs::create_dir_all(&folder)?;
            let file = std::fs::File::create(folder.join("channel.txt.gz"))?;
            let mut gz = GzEncoder::new(std::io::BufWriter::new(file), Compression::fast());
            // A 4-hour stream from 18:00 UTC.
            let stream_start = (at + 18 * 3600) * 1000;
            let span = 4 * 3600 * 1000;
            for i in 0..per_day {
                let ms = stream_start + i * span / per_day.max(1) + rng.below(500);
                gz.write_all(line(&mut rng, &channel, room, users, ms).as_bytes())?;
                gz.write_all(b"\n")?;
            }
            gz.finish()?.flush()?;
            written += per_day;
        }
    }
    println!("{written} lines in {}", dir.display());
    Ok(())
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// twitch-irc's parser alone (raw parse and typed message) on one core, decompression not
/// counted.
fn reference(dir: &Path) -> std::io::Result<()> {
    let mut all = Vec::new();
    files(dir, &mut all)?;
    all.sort();
    let mut lines = 0u64;
    let mut parsing = Duration::ZERO;
    for path in all {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&path)?).read_to_string(&mut text)?;
        let started = Instant::now();
        for line in text.lines() {
            if let Ok(msg) = IRCMessage::parse(line) {
                std::hint::black_box(ServerMessage::try_from(msg).is_ok());
            }
            lines += 1;
        }
        parsing += started.elapsed();
    }
    println!(
        "twitch-irc parse + typed message, one core: {lines} lines in {:.2} s = {:.0} lines/s",
        parsing.as_secs_f64(),
        lines as f64 / parsing.as_secs_f64()
    );
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") => {
            let dir = PathBuf::from(args.get(2).map_or("/tmp/archive", String::as_str));
            let total = args
                .get(3)
                .and_then(|n| n.parse().ok())
                .unwrap_or(5_000_000);
            generate(&dir, total)
        }
        Some("reference") => reference(Path::new(
            args.get(2).map_or("/tmp/archive", String::as_str),
        )),
        _ => {
            eprintln!("usage: import_speed generate <dir> [lines] | reference <dir>");
            std::process::exit(2);
        }
    }
}
