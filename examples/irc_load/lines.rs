//! The load's chat lines: PRIVMSGs with the tag set Twitch sends today, from a skewed
//! population of chatters (a few very active), mostly in their home channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use chatters_bot::irc::fake::{ConnSender, FakeIrc};
use chatters_core::domain::Timestamp;

use super::vocab;

/// Renders PRIVMSG lines with the tags Twitch sends today.
pub struct Lines {
    args: (u64, u64),
    seq: u64,
    rng: u64,
}

impl Lines {
    pub fn new(channels: u64, users: u64) -> Self {
        Self {
            args: (channels, users),
            seq: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn next_rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Picks the next chatter and channel (a few heavy chatters, most in their home channel).
    pub fn pick(&mut self) -> (u64, u64) {
        let (channels, users) = self.args;
        let r = (self.next_rand() % 1_000_000) as f64 / 1_000_000.0;
        let u = ((r * r) * users as f64) as u64 % users;
        let home = u.wrapping_mul(2_654_435_761) % channels;
        let c = if self.next_rand() % 100 < 85 {
            home
        } else {
            (home + 1 + u % 7) % channels
        };
        (u, c)
    }

    /// The PRIVMSG of user `u` in channel `c`, appended to `out`: emote-heavy text
    /// ([`vocab::message`]) with its `emotes` tag.
    pub fn render(&mut self, (u, c): (u64, u64), now_ms: u64, out: &mut BytesMut) {
        use std::fmt::Write as _;
        self.seq += 1;
        let (sub, first) = (u.is_multiple_of(5), self.next_rand().is_multiple_of(1000));
        let (mut text, mut tag) = (String::with_capacity(96), String::with_capacity(48));
        vocab::message(&mut || self.next_rand(), &mut text, &mut tag);
        let mut w = Writer(out);
        let _ = write!(
            w,
            "@badge-info={bi};badges={b};client-nonce={n:032x};color=#1E90FF;display-name=User{u};\
             emotes={tag};first-msg={f};flags=;id={s:08x}-aaaa-4bbb-8ccc-{s:012x};mod=0;\
             returning-chatter=0;room-id={room};subscriber={sb};tmi-sent-ts={now_ms};turbo=0;\
             user-id={uid};user-type= :user{u}!user{u}@user{u}.tmi.twitch.tv PRIVMSG #chan{c:04} \
             :{text}\r\n",
            bi = if sub { "subscriber/14" } else { "" },
            b = if sub { "subscriber/12,premium/1" } else { "" },
            n = self.seq.wrapping_mul(0x2545_F491_4F6C_DD1D),
            f = u8::from(first),
            s = self.seq,
            room = 1_000_000 + c,
            sb = u8::from(sub),
            uid = 10_000_000 + u,
        );
    }
}

struct Writer<'a>(&'a mut BytesMut);

impl std::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

/// Sends `rate` lines a second for `seconds` over `channels` channels and `users` chatters,
/// batched per connection every millisecond, to the connection that has joined the line's
/// channel now (re-read every 250 ms and whenever a connection is gone: the client reconnects
/// when it misses a PONG, which the fake queues behind the chat it has not written yet);
/// counts the bytes handed to the fake server. Returns the lines sent and the lines lost: sent
/// to a connection that closed, or for a channel no connection had joined (Twitch too delivers
/// nothing to a client that is not there).
pub async fn generate(
    (rate, seconds, channels, users): (u64, u64, u64, u64),
    fake: Arc<FakeIrc>,
    names: Vec<String>,
    bytes: Arc<AtomicU64>,
) -> (u64, u64) {
    let mut lines = Lines::new(channels, users);
    let (mut routes, mut senders) = routes(&fake, &names);
    let mut buffers: Vec<(BytesMut, u64)> = senders.iter().map(|_| (BytesMut::new(), 0)).collect();
    let started = Instant::now();
    let mut routed_at = Instant::now();
    let total = rate * seconds;
    let (mut sent, mut lost) = (0u64, 0u64);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    while sent < total {
        tick.tick().await;
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        let now_ms = u64::try_from(Timestamp::now().0).unwrap_or(0) * 1000;
        while sent < due {
            let (u, c) = lines.pick();
            sent += 1;
            match routes[c as usize] {
                Some(r) => {
                    let (buf, n) = &mut buffers[r];
                    lines.render((u, c), now_ms, buf);
                    *n += 1;
                }
                None => {
                    lines.seq += 1;
                    lost += 1;
                }
            }
        }
        let mut gone = false;
        for ((buf, n), sender) in buffers.iter_mut().zip(&senders) {
            if !buf.is_empty() {
                bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                if !sender.send(buf.split().freeze()) {
                    lost += *n;
                    gone = true;
                }
                *n = 0;
            }
        }
        if gone || routed_at.elapsed() >= Duration::from_millis(250) {
            (routes, senders) = self::routes(&fake, &names);
            buffers = senders.iter().map(|_| (BytesMut::new(), 0)).collect();
            routed_at = Instant::now();
        }
    }
    (sent, lost)
}

/// For each channel, the index of the sender of the connection that joined it (if any), and
/// the senders.
pub fn routes(fake: &FakeIrc, names: &[String]) -> (Vec<Option<usize>>, Vec<ConnSender>) {
    let joined: Vec<Option<u64>> = {
        let state = fake.state();
        names
            .iter()
            .map(|n| state.joined(n).first().copied())
            .collect()
    };
    let mut index = std::collections::HashMap::new();
    let mut senders = Vec::new();
    let routes = joined
        .into_iter()
        .map(|conn| {
            let conn = conn?;
            if let Some(&i) = index.get(&conn) {
                return Some(i);
            }
            let sender = fake.sender(conn)?;
            senders.push(sender);
            index.insert(conn, senders.len() - 1);
            Some(senders.len() - 1)
        })
        .collect();
    (routes, senders)
}
