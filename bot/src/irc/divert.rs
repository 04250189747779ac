//! Chat lines read by our own scanner instead of twitch-irc.
//!
//! twitch-irc parses every line into a map of owned tags, converts it to its typed message and
//! clones that before handing it on: at 100,000 msgs/s that was 40% of the process's CPU
//! (BENCHMARKS.md, "Chat lines past twitch-irc"). The socket ([`super::connector`]) now cuts
//! what it reads into whole lines ([`Splitter`]) and routes each by its command ([`route`]):
//! - the lines that become events (PRIVMSG, USERNOTICE, CLEARCHAT, other users' JOIN and PART)
//!   are read right there ([`super::reader`]: the scanner, twitch-irc's parse only for the
//!   unusual ones it leaves) and their observations go, as one [`Chunk`] per read, straight to
//!   the `irc` task;
//! - everything else (PING, PONG, RECONNECT, NOTICE, USERSTATE, the welcome, the bot's own
//!   JOIN and PART) is handed to twitch-irc as before, copied into the bytes its reader gets;
//! - other users' JOIN and PART go both ways ([`Route::Both`]): twitch-irc's join bookkeeping
//!   counts them (`super::membership` relies on what it makes of them), the `irc` task takes
//!   their events from the chunk and ignores twitch-irc's copy.
//!
//! Order: a channel's lines all come on one socket, and every line that gives an event goes the
//! same way, so their order is kept; what goes to twitch-irc gives no event but the connection's
//! (login rejected, the bot's role, notices), whose order against chat does not matter.
//!
//! Bad bytes: a line that is not UTF-8 made twitch-irc's reader fail and close the connection;
//! here it is read with the invalid bytes replaced (U+FFFD), both ways. A line longer than
//! [`MAX_LINE`] is dropped (logged) instead of growing the buffer without bound. The bytes
//! twitch-irc gets are mended by [`super::guard::mend_line`].

use std::ops::Range;
use std::task::Poll;

use bytes::{Buf as _, Bytes, BytesMut};
use chatters_core::domain::Timestamp;
use memchr::{memchr, memrchr};
use tokio::io::ReadBuf;
use tokio::sync::mpsc;

use super::reader::LineReader;
use crate::observed::Observed;

/// The longest line kept (Twitch's are under 10 KiB: 500 characters of text and the tags).
pub const MAX_LINE: usize = 64 * 1024;

/// The chat lines read by one socket in one go (at least one), read.
#[derive(Debug)]
pub struct Chunk {
    /// Every whole line of the read, each ending in `\n`.
    pub lines: Bytes,
    /// How many of them are chat lines ([`Route::ours`]).
    pub ours: usize,
    /// Their observations, in order.
    pub events: Vec<Observed>,
    /// Where in `lines` their channels' names are (`#` left out; once per run of lines from
    /// the same channel): the `irc` task's evidence of membership.
    pub channels: Vec<Range<usize>>,
}

impl Chunk {
    /// The channels the chat lines came from (consecutive repeats once).
    pub fn channels(&self) -> impl Iterator<Item = &[u8]> {
        self.channels.iter().map(|r| &self.lines[r.clone()])
    }
}

/// Where chunks go, and how chat lines are read.
#[derive(Debug, Clone)]
pub struct Divert {
    sender: mpsc::UnboundedSender<Chunk>,
    reader: LineReader,
}

impl Divert {
    /// Chunks read with `reader` (its session's own JOIN and PART echoes go to twitch-irc).
    pub fn new(reader: LineReader) -> (Self, mpsc::UnboundedReceiver<Chunk>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self { sender, reader }, receiver)
    }
}

/// Which reader a line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The `irc` task's scanner: the line may give an event.
    Ours,
    /// twitch-irc: the connection's own lines.
    Crate,
    /// Both: another user's JOIN or PART (an event, and twitch-irc's join bookkeeping).
    Both,
}

impl Route {
    /// Whether the `irc` task reads the line from the chunk.
    pub fn ours(self) -> bool {
        self != Route::Crate
    }
}

/// The command, the prefix's nick and the first parameter of a line, read without checking
/// anything else (the scanner or twitch-irc reads the line properly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head<'a> {
    /// The command word.
    pub command: &'a [u8],
    /// The nick of a `nick!user@host` prefix (a prefix without `@` is a host only).
    pub nick: Option<&'a [u8]>,
    /// The first parameter, `#channel` for chat lines (a leading `:` removed).
    pub first: Option<&'a [u8]>,
}

/// The [`Head`] of a line (without its line ending).
pub fn head(line: &[u8]) -> Head<'_> {
    let mut rest = line;
    if rest.first() == Some(&b'@') {
        rest = memchr(b' ', rest).map_or(&[][..], |space| &rest[space + 1..]);
    }
    let mut nick = None;
    if rest.first() == Some(&b':') {
        let end = memchr(b' ', rest).unwrap_or(rest.len());
        let prefix = &rest[1..end];
        if memchr(b'@', prefix).is_some() {
            let user = prefix.iter().position(|&b| b == b'!' || b == b'@');
            nick = Some(&prefix[..user.unwrap_or(prefix.len())]);
        }
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    let (command, params) = match memchr(b' ', rest) {
        Some(space) => (&rest[..space], &rest[space + 1..]),
        None => (rest, &[][..]),
    };
    let first = params
        .split(|&b| b == b' ')
        .next()
        .filter(|p| !p.is_empty());
    let first = first.map(|p| p.strip_prefix(b":").unwrap_or(p));
    Head {
        command,
        nick,
        first,
    }
}

/// Where a line with this head goes; `own` is the session's login.
pub fn route(head: &Head<'_>, own: &str) -> Route {
    match head.command {
        b"PRIVMSG" | b"USERNOTICE" | b"CLEARCHAT" => Route::Ours,
        b"JOIN" | b"PART" if head.nick != Some(own.as_bytes()) => Route::Both,
        _ => Route::Crate,
    }
}

/// One socket's incoming bytes: whole lines routed, the rest kept for the next read.
#[derive(Debug)]
pub struct Splitter {
    /// Bytes read and not yet cut into lines (the socket reads into it).
    pub(super) read: BytesMut,
    /// Lines for twitch-irc, `\r\n`-terminated, and how much of them was handed out.
    for_crate: Vec<u8>,
    handed: usize,
    /// Dropping an over-long line until its end.
    discarding: bool,
    /// `None`: every line goes to twitch-irc (no session takes chunks).
    divert: Option<Divert>,
}

impl Splitter {
    /// A splitter sending chunks to `divert`.
    pub fn new(divert: Option<Divert>) -> Self {
        Self {
            read: BytesMut::with_capacity(READ_SIZE),
            for_crate: Vec::new(),
            handed: 0,
            discarding: false,
            divert,
        }
    }

    /// Room for the next read.
    pub(super) fn reserve(&mut self) {
        if self.read.capacity() - self.read.len() < READ_SIZE / 4 {
            self.read.reserve(READ_SIZE);
        }
    }

    /// Copies what waits for twitch-irc into `buf`; `Ready` when anything was.
    pub fn hand_out(&mut self, buf: &mut ReadBuf<'_>) -> Poll<()> {
        let waiting = &self.for_crate[self.handed..];
        if waiting.is_empty() || buf.remaining() == 0 {
            return Poll::Pending;
        }
        let n = waiting.len().min(buf.remaining());
        buf.put_slice(&waiting[..n]);
        self.handed += n;
        if self.handed == self.for_crate.len() {
            self.for_crate.clear();
            self.handed = 0;
        }
        Poll::Ready(())
    }

    /// Bytes as if read (tests).
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        self.read.extend_from_slice(bytes);
        self.cut()
    }

    /// The end of the stream: a last line without its line ending is still a line.
    pub fn finish(&mut self) -> usize {
        if self.read.is_empty() || self.discarding {
            self.read.clear();
            return 0;
        }
        self.read.extend_from_slice(b"\n");
        self.cut()
    }

    /// Cuts the whole lines read so far and routes them; returns how many (non-empty) there
    /// were, lines going both ways twice (each reader takes its copy), for
    /// [`super::pressure`].
    pub fn cut(&mut self) -> usize {
        let Some(last) = memrchr(b'\n', &self.read) else {
            if self.read.len() > MAX_LINE {
                self.drop_long_line();
            }
            return 0;
        };
        let mut lines = self.read.split_to(last + 1);
        if self.discarding {
            // `lines` ends in `\n`, so there is one.
            let end = memchr(b'\n', &lines).unwrap_or(lines.len() - 1);
            lines.advance(end + 1);
            self.discarding = false;
        }
        if lines.len() > MAX_LINE && lines_in(&lines).count() < lines_and_long_in(&lines) {
            tracing::warn!(
                max = MAX_LINE,
                "IRC line longer than the longest kept: dropped"
            );
        }
        let Some(divert) = self.divert.take() else {
            let mut count = 0;
            for line in lines_in(&lines) {
                self.keep_for_crate(line);
                count += 1;
            }
            return count;
        };
        let received = Timestamp::now();
        let now = std::time::Instant::now();
        let base = lines.as_ptr() as usize;
        let mut count = 0;
        let mut ours = 0;
        let mut events = Vec::new();
        let mut channels: Vec<Range<usize>> = Vec::new();
        for line in lines_in(&lines) {
            let head = head(line);
            let route = route(&head, divert.reader.own().as_str());
            if route.ours() {
                ours += 1;
                count += 1;
                if let Some(channel) = head.first.and_then(|c| c.strip_prefix(b"#")) {
                    let at = channel.as_ptr() as usize - base;
                    if channels
                        .last()
                        .is_none_or(|last| lines[last.clone()] != *channel)
                    {
                        channels.push(at..at + channel.len());
                    }
                }
                divert.reader.read(line, received, now, &mut events);
            }
            if route != Route::Ours {
                self.keep_for_crate(line);
                count += 1;
            }
        }
        if ours > 0 {
            let chunk = Chunk {
                lines: lines.freeze(),
                ours,
                events,
                channels,
            };
            if divert.sender.send(chunk).is_err() {
                // The session ended: its socket is about to be dropped with it.
                tracing::debug!(lines = ours, "chat lines read after their session ended");
            }
        }
        self.divert = Some(divert);
        count
    }

    fn keep_for_crate(&mut self, line: &[u8]) {
        let start = self.for_crate.len();
        match std::str::from_utf8(line) {
            Ok(_) => self.for_crate.extend_from_slice(line),
            Err(_) => self
                .for_crate
                .extend_from_slice(String::from_utf8_lossy(line).as_bytes()),
        }
        super::guard::mend_line(&mut self.for_crate[start..]);
        self.for_crate.extend_from_slice(b"\r\n");
    }

    fn drop_long_line(&mut self) {
        if !self.discarding {
            tracing::warn!(
                max = MAX_LINE,
                "IRC line longer than the longest kept: dropped"
            );
        }
        self.discarding = true;
        self.read.clear();
    }
}

/// The lines of `bytes` (whole lines, each ending in `\n`) without their line endings, less
/// empty ones and those longer than [`MAX_LINE`].
pub fn lines_in(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', bytes)
        .map(move |end| {
            let line = &bytes[start..end];
            start = end + 1;
            line.strip_suffix(b"\r").unwrap_or(line)
        })
        .filter(|line| !line.is_empty() && line.len() <= MAX_LINE)
}

/// The non-empty lines of `bytes`, long ones included.
fn lines_and_long_in(bytes: &[u8]) -> usize {
    bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty() && *line != b"\r")
        .count()
}

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 64 * 1024;

#[cfg(test)]
mod tests;
