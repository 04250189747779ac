//! The IRC task: one twitch-irc client (a pool of connections), the wanted channels kept joined,
//! every received line translated once and handed on.
//!
//! Reconnects (RECONNECT, a dropped socket, a missed PONG) are twitch-irc's: it opens a new
//! connection and rejoins that connection's channels, and delivers each line exactly once, so
//! nothing is replayed or de-duplicated here. What the crate gets wrong — its join bookkeeping
//! after other users' PARTs, and reconnecting forever after a rejected login — is handled here
//! (see [`super::membership`]).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatters_core::domain::{Login, Timestamp};
use chatters_core::settings::IrcUrl;
use chatters_core::signals::Registry;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use twitch_irc::ClientConfig;
use twitch_irc::login::{LoginCredentials, StaticLoginCredentials};
use twitch_irc::message::{IRCMessage, IRCPrefix, ServerMessage};

use super::connector::{self, Client};
use super::divert::{Chunk, Divert};
use super::error::IrcError;
use super::membership::{Membership, MembershipConfig, Plan};
use super::reader::LineReader;
use super::sender::IrcSender;
use super::status::IrcStatus;
use super::translate::{translate_chat, translate_irc};
use crate::observed::{ModeratorOf, Observed};

/// Settings of the IRC client.
#[derive(Debug, Clone)]
pub struct IrcConfig {
    /// `TWITCH_IRC_URL`.
    pub url: IrcUrl,
    /// How often the wanted channels are checked and, where needed, re-joined.
    pub reassert_every: Duration,
    /// When a channel counts as possibly not joined (see [`Membership`]).
    pub membership: MembershipConfig,
    /// Channels per pooled connection (twitch-irc's default: 90).
    pub max_channels_per_connection: usize,
    /// At most one new connection this often (twitch-irc's default: 2 s).
    pub new_connection_every: Duration,
    /// Give up a connection attempt after this long.
    pub connect_timeout: Duration,
    /// `COMMAND_PREFIX` when this session answers chat commands (a logged-in bot): prefixed
    /// lines then also give an [`Observed::Command`], and USERSTATE's role goes to `roles`.
    pub command_prefix: Option<String>,
    /// Where the bot's own role per channel is recorded (from USERSTATE, with
    /// `command_prefix` only), for the outbox's rate limit.
    pub roles: ModeratorOf,
    /// Set fine when Twitch welcomes the login (`001`).
    pub status: IrcStatus,
    /// The matchers messages are scanned with for emotes and moods (chat signals).
    pub signals: Registry,
}

impl IrcConfig {
    /// Twitch's defaults for the given address.
    pub fn new(url: IrcUrl) -> Self {
        Self {
            url,
            reassert_every: Duration::from_secs(30),
            membership: MembershipConfig::default(),
            max_channels_per_connection: 90,
            new_connection_every: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(20),
            command_prefix: None,
            roles: ModeratorOf::default(),
            status: IrcStatus::default(),
            signals: Registry::default(),
        }
    }
}

/// Read-only anonymous credentials: a random `justinfanNNNNN` nick and no token.
pub fn anonymous() -> StaticLoginCredentials {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = 10_000 + (nanos ^ std::process::id().wrapping_mul(2_654_435_761)) % 89_999;
    StaticLoginCredentials::new(format!("justinfan{n}"), None)
}

/// Starts the client with `credentials` and runs it until `cancel` fires (Ok) or the login is
/// rejected ([`IrcError::LoginFailed`]). See [`IrcSession::run`].
pub async fn run<L: LoginCredentials>(
    config: IrcConfig,
    credentials: L,
    wanted: watch::Receiver<BTreeSet<Login>>,
    events: mpsc::Sender<Observed>,
    cancel: CancellationToken,
) -> Result<(), IrcError> {
    IrcSession::start(config, credentials)
        .await?
        .run(wanted, events, cancel)
        .await
}

/// A started client whose task has not run yet; [`IrcSession::sender`] gives the handle for
/// chat replies before [`IrcSession::run`] takes it over.
#[derive(Debug)]
pub struct IrcSession<L: LoginCredentials> {
    /// The only strong reference: dropping it stops every connection.
    client: Arc<Client<L>>,
    incoming: mpsc::UnboundedReceiver<ServerMessage>,
    /// Chat lines the sockets hand over past twitch-irc (`super::divert`).
    chunks: mpsc::UnboundedReceiver<Chunk>,
    /// The bot's own login (its JOIN/PART echoes are not events).
    own: Login,
    /// Clears the connector's target when the session ends.
    target: TargetGuard,
    config: IrcConfig,
}

impl<L: LoginCredentials> IrcSession<L> {
    /// Points the connector at `config.url`, creates the client and opens its first connection.
    pub async fn start(config: IrcConfig, credentials: L) -> Result<Self, IrcError> {
        let pair = credentials
            .get_credentials()
            .await
            .map_err(|e| IrcError::Credentials(e.to_string()))?;
        let own = Login::parse(&pair.login)
            .map_err(|_| IrcError::Credentials(format!("invalid login {:?}", pair.login)))?;
        let reader = LineReader::new(
            own.clone(),
            config.command_prefix.clone(),
            config.signals.clone(),
        );
        let (divert, chunks) = Divert::new(reader);
        let target = TargetGuard(connector::set_target(
            &config.url,
            config.status.clone(),
            Some(divert),
        )?);
        let mut client_config = ClientConfig::new_simple(credentials);
        client_config.max_channels_per_connection = config.max_channels_per_connection.max(1);
        client_config.new_connection_every = config.new_connection_every;
        client_config.connect_timeout = config.connect_timeout;
        let (incoming, client) = Client::<L>::new(client_config);
        client.connect().await;
        info!(url = %config.url, login = %own, "IRC client started");
        Ok(Self {
            client: Arc::new(client),
            incoming,
            chunks,
            own,
            target,
            config,
        })
    }

    /// The login the client is logged in as.
    pub fn login(&self) -> &Login {
        &self.own
    }

    /// A handle for sending chat messages while the session runs.
    pub fn sender(&self) -> IrcSender<L> {
        IrcSender::new(Arc::downgrade(&self.client))
    }

    /// Joins every channel in `wanted` (and follows its changes), sends what identity resolution
    /// needs of every translated line to `events` (see the module docs of [`super`]), and re-joins channels that went quiet without twitch-irc confirming them. Ends
    /// with `Ok` when `cancel` fires, [`IrcError::LoginFailed`] when Twitch rejects the login,
    /// [`IrcError::ConsumerGone`] when `events` is closed. Dropping the session on return
    /// closes every connection, and no new one is attempted.
    pub async fn run(
        self,
        mut wanted: watch::Receiver<BTreeSet<Login>>,
        events: mpsc::Sender<Observed>,
        cancel: CancellationToken,
    ) -> Result<(), IrcError> {
        let Self {
            client,
            mut incoming,
            mut chunks,
            own,
            target: _target,
            config,
        } = self;
        let mut task = Task {
            client,
            own,
            membership: Membership::new(config.membership),
            prefix: config.command_prefix,
            roles: config.roles,
            status: config.status,
            signals: config.signals,
            scratch: Vec::new(),
        };
        let first = wanted.borrow_and_update().clone();
        task.apply_wanted(first);
        let mut wanted_open = true;
        let start = tokio::time::Instant::now() + config.reassert_every;
        let mut reassert = tokio::time::interval_at(start, config.reassert_every);
        reassert.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(BATCH);
        // Reading may pause with nothing left for this task to take (lines read on a socket
        // that closed are never handed over). Lines also wait in twitch-irc's queues before
        // this one, so an empty queue alone proves nothing: only after it stayed empty for
        // `FORGIVE_AFTER` is what is still counted forgiven, so a pause never outlives the
        // backlog.
        let mut pressure = tokio::time::interval(Duration::from_millis(100));
        pressure.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut idle_since: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Ok(()),
                n = incoming.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        return Err(IrcError::Closed);
                    }
                    idle_since = None;
                    super::pressure::taken(n, false);
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        delivered = task.deliver(&mut batch, &events) => delivered?,
                    }
                }
                Some(chunk) = chunks.recv() => {
                    idle_since = None;
                    super::pressure::taken(chunk.ours, false);
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        delivered = task.deliver_lines(chunk, &events) => delivered?,
                    }
                }
                changed = wanted.changed(), if wanted_open => match changed {
                    Ok(()) => {
                        let set = wanted.borrow_and_update().clone();
                        task.apply_wanted(set);
                    }
                    Err(_) => wanted_open = false,
                },
                _ = reassert.tick() => task.reassert().await,
                now = pressure.tick() => {
                    if !incoming.is_empty() || !chunks.is_empty() {
                        idle_since = None;
                    } else if now.duration_since(*idle_since.get_or_insert(now)) >= FORGIVE_AFTER {
                        super::pressure::taken(0, true);
                    }
                }
            }
        }
    }
}

/// Messages taken from twitch-irc at once.
const BATCH: usize = 512;

/// How long the queue from twitch-irc stays empty before lines still counted in the backlog
/// are taken as lost with a closed connection.
const FORGIVE_AFTER: Duration = Duration::from_millis(500);

static LINES_RECEIVED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// IRC messages received (from twitch-irc, or as chat lines past it) by every session of this
/// process (for metrics).
pub fn lines_received() -> u64 {
    LINES_RECEIVED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The state of a running session.
struct Task<L: LoginCredentials> {
    client: Arc<Client<L>>,
    own: Login,
    membership: Membership,
    prefix: Option<String>,
    roles: ModeratorOf,
    status: IrcStatus,
    signals: Registry,
    /// One line's observations, reused.
    scratch: Vec<Observed>,
}

impl<L: LoginCredentials> Task<L> {
    fn apply_wanted(&mut self, wanted: BTreeSet<Login>) {
        let Plan { join, part } = self.membership.set_wanted(wanted, Instant::now());
        for channel in part {
            info!(%channel, "leaving channel");
            self.client.part(channel.to_string());
        }
        if !join.is_empty() {
            info!(channels = join.len(), "joining channels");
        }
        for channel in join {
            if let Err(e) = self.client.join(channel.to_string()) {
                warn!(%channel, error = %e, "cannot join channel");
            }
        }
    }

    /// Re-joins wanted channels that went quiet and that twitch-irc does not confirm.
    async fn reassert(&mut self) {
        let now = Instant::now();
        for channel in self.membership.suspects(now, connector::last_closure()) {
            let (_, joined) = self.client.get_channel_status(channel.to_string()).await;
            if joined {
                continue;
            }
            info!(%channel, "channel silent and not confirmed: joining again");
            self.membership.rejoining(&channel, now);
            if let Err(e) = self.client.join(channel.to_string()) {
                warn!(%channel, error = %e, "cannot join channel");
            }
        }
    }

    /// Translates and sends one batch of messages received from twitch-irc, in order.
    async fn deliver(
        &mut self,
        batch: &mut Vec<ServerMessage>,
        events: &mpsc::Sender<Observed>,
    ) -> Result<(), IrcError> {
        let now = Instant::now();
        let received = Timestamp::now();
        LINES_RECEIVED.fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let mut out = std::mem::take(&mut self.scratch);
        for msg in batch.drain(..) {
            if msg.source().command == "001" {
                self.status.set_ok();
            }
            self.observe(msg.source(), now);
            if matches!(msg.source().command.as_str(), "JOIN" | "PART") {
                // Another user's: read from its chunk (`Route::Both`); the bot's own: no event.
                continue;
            }
            out.clear();
            self.translate_into(msg.source(), now, received, &mut out)?;
            send_all(&mut out, events).await?;
        }
        self.scratch = out;
        Ok(())
    }

    /// Sends the observations of one chunk of chat lines (read on the socket's side, see
    /// [`super::divert`]), in order, after taking its channels as evidence of membership.
    async fn deliver_lines(
        &mut self,
        chunk: Chunk,
        events: &mpsc::Sender<Observed>,
    ) -> Result<(), IrcError> {
        let now = Instant::now();
        LINES_RECEIVED.fetch_add(chunk.ours as u64, std::sync::atomic::Ordering::Relaxed);
        for channel in chunk.channels() {
            if let Ok(channel) = std::str::from_utf8(channel) {
                self.membership.seen(channel, now);
            }
        }
        let mut out = chunk.events;
        send_all(&mut out, events).await
    }

    /// One message's observations for identity into `out`, in order (message, then command);
    /// acts on those that concern the connection (see the module docs of [`super`]).
    fn translate_into(
        &mut self,
        msg: &IRCMessage,
        now: Instant,
        received: Timestamp,
        out: &mut Vec<Observed>,
    ) -> Result<(), IrcError> {
        let chat = self
            .prefix
            .as_deref()
            .and_then(|prefix| translate_chat(msg, now, prefix));
        let text = msg.params.get(1).map(String::as_str);
        let emotes = msg.tags.0.get("emotes").map(String::as_str);
        for mut event in translate_irc(msg, received, &self.own)
            .into_iter()
            .chain(chat)
        {
            super::signals::annotate(&self.signals, text, emotes, &mut event);
            match event {
                Observed::LoginFailed { text } => {
                    // The caller logs once per failure streak.
                    debug!(login = %self.own, notice = %text, "Twitch IRC rejected the login");
                    return Err(IrcError::LoginFailed {
                        login: self.own.to_string(),
                        notice: text,
                    });
                }
                Observed::Reconnect => info!("Twitch asked to reconnect"),
                Observed::Notice {
                    channel,
                    msg_id,
                    text,
                } => {
                    info!(channel = ?channel.map(|c| c.to_string()), ?msg_id, %text, "Twitch notice");
                }
                Observed::OwnRole { channel, moderator } => self.roles.set(channel, moderator),
                other => out.extend(other.for_identity()),
            }
        }
        Ok(())
    }

    /// Evidence for [`Membership`]: any line from a channel shows we are in it, except our own
    /// PART echo.
    fn observe(&mut self, msg: &IRCMessage, now: Instant) {
        let Some(channel) = msg.params.first().and_then(|p| p.strip_prefix('#')) else {
            return;
        };
        let own_part = msg.command == "PART"
            && matches!(&msg.prefix, Some(IRCPrefix::Full { nick, .. }) if nick == self.own.as_str());
        if own_part {
            self.membership.parted(channel);
        } else {
            self.membership.seen(channel, now);
        }
    }
}

/// Sends `out`'s observations to identity, in order, leaving it empty.
async fn send_all(
    out: &mut Vec<Observed>,
    events: &mpsc::Sender<Observed>,
) -> Result<(), IrcError> {
    for observed in out.drain(..) {
        // try_send first: awaiting every send would use up tokio's cooperative budget and make
        // this task yield every 128 events, while twitch-irc's many connection tasks keep
        // producing into their unbounded queues, which then grow under load.
        match events.try_send(observed) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(observed)) => events
                .send(observed)
                .await
                .map_err(|_| IrcError::ConsumerGone)?,
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(IrcError::ConsumerGone),
        }
    }
    Ok(())
}

/// Clears the connector's target (if still ours) when dropped.
#[derive(Debug)]
struct TargetGuard(u64);

impl Drop for TargetGuard {
    fn drop(&mut self) {
        connector::clear_target(self.0);
        // What the session's sockets read and nobody will take: reading is never left paused.
        super::pressure::taken(0, true);
    }
}
