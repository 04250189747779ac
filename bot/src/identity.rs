//! Identity: turns [`Observed`] IRC (and snapshot) observations into core events with user ids.
//!
//! PRIVMSG and USERNOTICE carry the user id; JOIN and PART carry only a login. Logins are
//! resolved through Helix Get Users (batched, 100 per call inside the client) and cached for
//! 24 h; a message showing another id for a login replaces the cache entry at once. Without
//! Helix (anonymous mode) the cache and the store's users table are the only sources; a login
//! nobody can resolve is dropped and counted.
//!
//! Events leave in the order they arrived: a batch of observations is resolved together, then
//! forwarded, so a JOIN is never applied after the same user's later PART. Users first seen
//! with an id get their account creation time looked up once (account-age clusters).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chatters_core::domain::{Login, UserId};
use chatters_core::event::{Event, UserRef};
use chatters_core::ingest::IngestHandle;
use chatters_core::store::Store;
use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::observed::{CommandLine, Observed};

/// How long a login → id answer from Helix is trusted.
const LOGIN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Observations resolved and forwarded together at most.
const BATCH: usize = 4_096;
/// Ids remembered as "account creation time known" before the set starts over.
const ACCOUNTS_LIMIT: usize = 2_000_000;
/// Account lookups are made once this many ids wait (or at the next quiet moment).
const ACCOUNT_BATCH: usize = 100;
/// Batches of ids waiting for an account lookup at most; beyond, ids are looked up when next
/// seen.
const ACCOUNT_QUEUE: usize = 64;

/// Counters of the resolver.
#[derive(Debug, Default)]
pub struct IdentityMetrics {
    /// Logins resolved through Helix.
    pub resolved_helix: AtomicU64,
    /// Logins resolved from the store (no Helix, or Helix failed).
    pub resolved_store: AtomicU64,
    /// JOIN/PART observations dropped because the login could not be resolved.
    pub unresolved: AtomicU64,
    /// Helix lookups that failed.
    pub lookup_errors: AtomicU64,
    /// Chat commands dropped because the commands task was far behind.
    pub commands_dropped: AtomicU64,
}

/// The resolver's state.
#[derive(Debug)]
pub struct Identity {
    api: Option<Arc<dyn Api>>,
    store: Arc<Store>,
    /// Login → user, with when Helix (or a message) said so.
    cache: FxHashMap<Login, (UserRef, Instant)>,
    /// Users whose account creation time was looked up (or is being).
    accounts_known: FxHashSet<UserId>,
    /// Ids waiting for an account lookup.
    accounts_wanted: Vec<UserId>,
    metrics: Arc<IdentityMetrics>,
}

impl Identity {
    /// A resolver over Helix (when the bot has credentials) and the store.
    pub fn new(api: Option<Arc<dyn Api>>, store: Arc<Store>) -> Self {
        Self {
            api,
            store,
            cache: FxHashMap::default(),
            accounts_known: FxHashSet::default(),
            accounts_wanted: Vec::new(),
            metrics: Arc::new(IdentityMetrics::default()),
        }
    }

    /// The resolver's counters.
    pub fn metrics(&self) -> Arc<IdentityMetrics> {
        self.metrics.clone()
    }

    /// Learns from an observation that carries an id: the login now belongs to this id.
    fn learn(&mut self, user: &UserRef) {
        let fresh = self.cache.get(&user.login).is_none_or(|(known, _)| {
            known.id != user.id || known.display_name != user.display_name
        });
        if fresh {
            self.cache
                .insert(user.login.clone(), (user.clone(), Instant::now()));
        }
        if self.api.is_some() && !self.accounts_known.contains(&user.id) {
            if self.accounts_known.len() >= ACCOUNTS_LIMIT {
                self.accounts_known.clear();
            }
            self.accounts_known.insert(user.id);
            self.accounts_wanted.push(user.id);
        }
    }

    fn cached(&self, login: &Login) -> Option<UserRef> {
        self.cache
            .get(login)
            .filter(|(_, at)| at.elapsed() < LOGIN_TTL)
            .map(|(u, _)| u.clone())
    }

    /// Resolves logins not in the cache: Helix first, the store for what Helix did not answer.
    /// Helix answers also yield account creation times, returned as events.
    async fn resolve(&mut self, logins: Vec<Login>) -> Vec<Event> {
        let mut accounts = Vec::new();
        let mut missing: FxHashSet<Login> = logins.into_iter().collect();
        if missing.is_empty() {
            return accounts;
        }
        if let Some(api) = &self.api {
            let wanted: Vec<Login> = missing.iter().cloned().collect();
            match api.users_by_login(&wanted).await {
                Ok(found) => {
                    for account in found {
                        missing.remove(&account.user.login);
                        self.metrics.resolved_helix.fetch_add(1, Ordering::Relaxed);
                        self.cache.insert(
                            account.user.login.clone(),
                            (account.user.clone(), Instant::now()),
                        );
                        if self.accounts_known.insert(account.user.id) {
                            accounts.push(Event::Account {
                                user: account.user,
                                created_at: account.created_at,
                            });
                        }
                    }
                }
                Err(error) => {
                    self.metrics.lookup_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, logins = wanted.len(), "Get Users failed; falling back to stored logins");
                }
            }
        }
        if !missing.is_empty() {
            let wanted: Vec<Login> = missing.into_iter().collect();
            match self.store.user_ids(&wanted).await {
                Ok(found) => {
                    for (login, id) in found {
                        self.metrics.resolved_store.fetch_add(1, Ordering::Relaxed);
                        // Short-lived: a stored login may belong to someone else by now.
                        let stale =
                            Instant::now().checked_sub(LOGIN_TTL - Duration::from_secs(600));
                        let user = UserRef::new(id, login.clone());
                        self.cache
                            .insert(login, (user, stale.unwrap_or_else(Instant::now)));
                    }
                }
                Err(error) => tracing::warn!(%error, "reading stored logins failed"),
            }
        }
        accounts
    }

    /// Resolves one batch of observations and returns the events to ingest, in order.
    pub async fn process(&mut self, batch: Vec<Observed>) -> Vec<Event> {
        for o in &batch {
            match o {
                Observed::Event(e) => {
                    if let Some(user) = user_of(e) {
                        self.learn(user);
                    }
                }
                Observed::Known(users) => {
                    for user in users {
                        self.learn(user);
                    }
                }
                _ => {}
            }
        }
        let unknown: Vec<Login> = batch
            .iter()
            .filter_map(|o| match o {
                Observed::Join { login, .. } | Observed::Part { login, .. } => Some(login),
                Observed::MessageByLogin(m) => Some(&m.user.login),
                _ => None,
            })
            .filter(|l| self.cached(l).is_none())
            .cloned()
            .collect::<FxHashSet<_>>()
            .into_iter()
            .collect();
        let mut out = self.resolve(unknown).await;
        for o in batch {
            match o {
                Observed::Event(e) => out.push(e),
                Observed::Join { channel, login, at } => match self.cached(&login) {
                    Some(user) => out.push(Event::Join { channel, user, at }),
                    None => self.drop_unresolved(&login),
                },
                Observed::Part { channel, login, at } => match self.cached(&login) {
                    Some(user) => out.push(Event::Part { channel, user, at }),
                    None => self.drop_unresolved(&login),
                },
                Observed::MessageByLogin(mut m) => match self.cached(&m.user.login) {
                    Some(user) => {
                        m.user.id = user.id;
                        out.push(Event::Message(m));
                    }
                    None => self.drop_unresolved(&m.user.login),
                },
                // Known users were learnt above; commands are split off by `run`; the rest is
                // the IRC task's business (`Observed::for_identity`).
                _ => {}
            }
        }
        out
    }

    fn drop_unresolved(&self, login: &Login) {
        self.metrics.unresolved.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%login, "observation of an unresolvable login dropped");
    }

    /// Takes the ids waiting for an account lookup: all of them with `all`, else only once a
    /// whole batch waits.
    fn take_wanted(&mut self, all: bool) -> Vec<UserId> {
        if self.api.is_none() || (!all && self.accounts_wanted.len() < ACCOUNT_BATCH) {
            return Vec::new();
        }
        std::mem::take(&mut self.accounts_wanted)
    }

    /// Ids whose lookup failed or was not made: looked up again when next seen.
    fn forget_accounts(&mut self, ids: &[UserId]) {
        for id in ids {
            self.accounts_known.remove(id);
        }
    }
}

/// Looks up account creation times (Helix Get Users by id) off the chat path: a slow or
/// rate-limited Helix never holds chat lines back. Failed ids go back on `failed`.
async fn look_up_accounts(
    api: Arc<dyn Api>,
    mut wanted: mpsc::Receiver<Vec<UserId>>,
    failed: mpsc::UnboundedSender<Vec<UserId>>,
    ingest: IngestHandle,
    metrics: Arc<IdentityMetrics>,
) -> anyhow::Result<()> {
    while let Some(ids) = wanted.recv().await {
        match api.users_by_id(&ids).await {
            Ok(found) => {
                let accounts: Vec<Event> = found
                    .into_iter()
                    .map(|a| Event::Account {
                        user: a.user,
                        created_at: a.created_at,
                    })
                    .collect();
                ingest.send_all(accounts).await?;
            }
            Err(error) => {
                metrics.lookup_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, users = ids.len(), "Get Users by id failed; account ages stay unknown");
                let _ = failed.send(ids);
            }
        }
    }
    Ok(())
}

/// The user an event names with their id (no allocation: this runs for every chat line).
fn user_of(event: &Event) -> Option<&UserRef> {
    match event {
        Event::Message(m) => Some(&m.user),
        Event::Join { user, .. } | Event::Part { user, .. } | Event::Rename { user, .. } => {
            Some(user)
        }
        Event::Raid { from, .. } => Some(from),
        _ => None,
    }
}

/// The account lookups' queues, seen from the resolver.
struct Lookups {
    wanted: mpsc::Sender<Vec<UserId>>,
    failed: mpsc::UnboundedReceiver<Vec<UserId>>,
}

impl Identity {
    /// Hands the waiting ids (all of them with `all`, else a whole batch) to the lookups;
    /// ids whose lookup failed, or that found the lookups' queue full, are forgotten so they
    /// are looked up when next seen.
    fn request_accounts(&mut self, lookups: &mut Option<Lookups>, all: bool) {
        let Some(lookups) = lookups else {
            self.accounts_wanted.clear();
            return;
        };
        while let Ok(ids) = lookups.failed.try_recv() {
            self.forget_accounts(&ids);
        }
        let ids = self.take_wanted(all);
        if ids.is_empty() {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(ids) | mpsc::error::TrySendError::Closed(ids)) =
            lookups.wanted.try_send(ids)
        {
            self.forget_accounts(&ids);
        }
    }
}

/// Runs the resolver: observations in, events with ids out to ingestion, in order; account
/// lookups beside it ([`look_up_accounts`], polled by the same task, so a slow Helix never
/// holds chat lines back).
pub async fn run(
    mut identity: Identity,
    observations: mpsc::Receiver<Observed>,
    ingest: IngestHandle,
    commands: Option<mpsc::Sender<Box<CommandLine>>>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let Some(api) = identity.api.clone() else {
        return resolve_all(&mut identity, observations, &ingest, commands, None, cancel).await;
    };
    let (wanted_tx, wanted_rx) = mpsc::channel(ACCOUNT_QUEUE);
    let (failed_tx, failed_rx) = mpsc::unbounded_channel();
    let metrics = identity.metrics.clone();
    let stop = cancel.clone();
    let lookups = async {
        tokio::select! {
            biased;
            () = stop.cancelled() => Ok(()),
            done = look_up_accounts(api, wanted_rx, failed_tx, ingest.clone(), metrics) => done,
        }
    };
    let queues = Some(Lookups {
        wanted: wanted_tx,
        failed: failed_rx,
    });
    let resolver = resolve_all(
        &mut identity,
        observations,
        &ingest,
        commands,
        queues,
        cancel,
    );
    let (resolved, looked_up) = tokio::join!(resolver, lookups);
    resolved.and(looked_up)
}

/// The resolver's loop: batches of observations resolved and sent to ingestion in order,
/// commands split off to the commands task.
async fn resolve_all(
    identity: &mut Identity,
    mut observations: mpsc::Receiver<Observed>,
    ingest: &IngestHandle,
    commands: Option<mpsc::Sender<Box<CommandLine>>>,
    mut lookups: Option<Lookups>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut quiet = tokio::time::interval(Duration::from_secs(5));
    loop {
        let first = tokio::select! {
            () = cancel.cancelled() => break,
            o = observations.recv() => match o {
                Some(o) => o,
                None => break,
            },
            _ = quiet.tick() => {
                identity.request_accounts(&mut lookups, true);
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match observations.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        // Commands split the batch: what came before one is sent to ingestion first. Most
        // batches hold none and go through whole.
        let mut rest = batch;
        while let Some(at) = rest.iter().position(|o| matches!(o, Observed::Command(_))) {
            let tail = rest.split_off(at + 1);
            // `rest` now ends with the command found at `at`.
            let Some(Observed::Command(command)) = rest.pop() else {
                rest = tail;
                continue;
            };
            if !rest.is_empty() {
                let events = identity.process(rest).await;
                ingest.send_all(events).await?;
            }
            if let Some(commands) = &commands
                && commands.try_send(command).is_err()
            {
                // A full queue means the commands task is far behind: answering later would
                // only add stale replies, and ingestion must not wait for it.
                identity
                    .metrics
                    .commands_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
            rest = tail;
        }
        let events = identity.process(rest).await;
        ingest.send_all(events).await?;
        identity.request_accounts(&mut lookups, false);
    }
    // What arrived before the stop still goes in (ingestion drains its queue on cancel).
    let mut rest = Vec::new();
    while let Ok(o) = observations.try_recv() {
        rest.push(o);
    }
    if !rest.is_empty() {
        let events = identity.process(rest).await;
        let _ = ingest.send_all(events).await;
    }
    Ok(())
}
