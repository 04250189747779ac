//! `chatters doctor`: checks the setup the way `chatters run` will use it and prints one line
//! per check, `✓ name: what was found` or `✗ name: what is wrong — the fix`. Exit 0 only when
//! every check passes.
//!
//! Checks, in order: settings (parsed before this runs; a bad one is reported by
//! [`report_settings_error`]), database (reachable, migrated, writable), Redis (when set), the
//! bot token (valid, scopes, expiry; refreshed like `chatters run` would), Twitch IRC and Helix
//! reachable, the web address (free, or held by a running chatters) and `PUBLIC_BASE_URL`
//! reachable from this host: when nothing listens on `WEB_ADDR`, the doctor serves `/healthz`
//! there itself for the duration of the check, so the whole path (DNS, proxy, TLS) is tried.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chatters_bot::auth::{Auth, AuthConfig, AuthMode, StoredLogin};
use chatters_bot::twitch_http::{HttpConfig, TwitchHttp};
use chatters_core::domain::Timestamp;
use chatters_core::settings::{Settings, SettingsError};
use chatters_core::store::{self, ConnectOptions, Store};
use secrecy::ExposeSecret as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long one network check waits.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an unreachable database is retried (`chatters run` waits 30 s).
const DATABASE_RETRY: Duration = Duration::from_secs(5);
/// Store state key the writability check writes.
const CHECKED_AT_STATE: &str = "doctor_checked_at";

/// The outcome of one check: what was found, or what is wrong and how to fix it.
type Outcome = Result<String, String>;

/// Prints the settings check of a configuration that did not parse.
pub fn report_settings_error(error: &SettingsError) {
    println!("✗ settings: {error}");
}

/// Runs every check; fails (exit 1) when any did.
pub async fn execute(settings: &Settings) -> anyhow::Result<()> {
    let mut report = Report::default();
    report.line("settings", Ok(settings_summary(settings)));
    let store = match database(settings).await {
        Ok((store, detail)) => {
            report.line("database", Ok(detail));
            Some(store)
        }
        Err((store, problem)) => {
            report.line("database", Err(problem));
            store
        }
    };
    if let Some(url) = &settings.redis_url {
        report.line("redis", redis(url.expose_secret()).await);
    }
    report.line("token", token(settings, store.clone()).await);
    report.line("twitch irc", irc(settings).await);
    report.line("helix", helix(settings).await);
    let served = web(settings, store.as_ref()).await;
    let (web_outcome, cancel) = match served {
        Ok((detail, cancel)) => (Ok(detail), cancel),
        Err(problem) => (Err(problem), None),
    };
    report.line("web address", web_outcome);
    report.line("public url", public_url(settings).await);
    if let Some(cancel) = cancel {
        cancel.cancel();
    }
    if let Some(store) = store {
        store.close().await;
    }
    match report.failed {
        0 => Ok(()),
        n => Err(anyhow::anyhow!(
            "{n} of {} checks failed (see the ✗ lines above)",
            report.total
        )),
    }
}

#[derive(Default)]
struct Report {
    total: usize,
    failed: usize,
}

impl Report {
    /// Prints one check's line at once (a slow check shows the ones before it).
    fn line(&mut self, name: &str, outcome: Outcome) {
        self.total += 1;
        let line = match outcome {
            Ok(detail) => format!("✓ {name}: {detail}"),
            Err(problem) => {
                self.failed += 1;
                format!("✗ {name}: {problem}")
            }
        };
        // A closed stdout only loses the report; the exit code still tells.
        let _ = crate::output::print_lines(&[line]);
    }
}

fn settings_summary(settings: &Settings) -> String {
    let backend = match settings.database_backend() {
        store::Backend::Sqlite => "SQLite",
        store::Backend::MySql => "MariaDB",
        store::Backend::Postgres => "PostgreSQL",
    };
    format!(
        "valid ({backend}, web on {}, links to {})",
        settings.web_addr, settings.public_base_url
    )
}

/// Reachable, migrated, writable. On failure, the store when it could be opened.
async fn database(
    settings: &Settings,
) -> Result<(Arc<Store>, String), (Option<Arc<Store>>, String)> {
    let url = settings.database_url.expose_secret();
    let host = store::url_host(url);
    let options = ConnectOptions {
        retry_for: DATABASE_RETRY,
        ..ConnectOptions::default()
    };
    let store = store::open(url, &options).await.map_err(|error| {
        (
            None,
            format!("{host} unreachable: {error} — check DATABASE_URL and that the server runs"),
        )
    })?;
    let pending = match store.pending_migrations().await {
        Ok(pending) => pending,
        Err(error) => {
            return Err((
                Some(store),
                format!("{host}: reading the migrations failed: {error}"),
            ));
        }
    };
    if !pending.is_empty() {
        return Err((
            Some(store),
            format!(
                "{host}: {} migration(s) not applied — run `chatters migrate` (chatters run also applies them)",
                pending.len()
            ),
        ));
    }
    let now = Timestamp::now().to_rfc3339();
    if let Err(error) = store.set_state(CHECKED_AT_STATE, &now).await {
        return Err((
            Some(store),
            format!("{host} is read-only: {error} — give the chatters user write access"),
        ));
    }
    Ok((store, format!("{host} reachable, migrated, writable")))
}

async fn redis(url: &str) -> Outcome {
    let ping = async {
        let client = redis::Client::open(url)?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
        Ok(Ok(_)) => Ok("reachable (PING answered)".to_owned()),
        Ok(Err(error)) => {
            // The URL may carry a password: never shown, even if the error repeats it.
            let text = error.to_string();
            let text = if text.contains(url) {
                format!("{:?}", error.kind())
            } else {
                text
            };
            Err(format!(
                "unreachable: {text} — check REDIS_URL and that Redis runs"
            ))
        }
        Err(_) => Err(format!(
            "no answer within {} s — check REDIS_URL and that Redis runs",
            CHECK_TIMEOUT.as_secs()
        )),
    }
}

async fn token(settings: &Settings, store: Option<Arc<Store>>) -> Outcome {
    let signed_in = match &store {
        Some(store) if settings.twitch_bot_token.is_none() => {
            StoredLogin::load(store).await.ok().flatten().is_some()
        }
        _ => false,
    };
    if settings.twitch_bot_token.is_none() && !signed_in {
        return Err(
            "no bot token — run `chatters login` (or set TWITCH_BOT_LOGIN and TWITCH_BOT_TOKEN)"
                .to_owned(),
        );
    }
    let http = TwitchHttp::new(HttpConfig::from_settings(settings))
        .map_err(|e| format!("HTTP client: {e}"))?;
    let auth = Auth::start(AuthConfig::from_settings(settings), http, store)
        .await
        .map_err(|error| {
            format!("{error} — run `chatters login` again (or fix TWITCH_BOT_TOKEN)")
        })?;
    let Some(account) = auth.bot_account().filter(|_| auth.mode() == AuthMode::User) else {
        return Err("not a user token — run `chatters login`".to_owned());
    };
    let missing = auth.missing_scopes();
    if !missing.is_empty() {
        return Err(format!(
            "{} lacks the scopes {} — run `chatters login` again to grant them",
            account.login,
            missing.join(", ")
        ));
    }
    let source = if signed_in {
        "stored by chatters login"
    } else {
        "TWITCH_BOT_TOKEN"
    };
    let expiry = auth.expires_in().map_or_else(
        || "no expiry".to_owned(),
        |left| {
            let left = Duration::from_secs(left.as_secs() / 60 * 60);
            format!(
                "expires in {} (refreshed automatically)",
                humantime::format_duration(left)
            )
        },
    );
    Ok(format!(
        "{} ({source}), every scope granted, {expiry}",
        account.login
    ))
}

async fn irc(settings: &Settings) -> Outcome {
    let url = &settings.twitch_irc_url;
    let connect = tokio::net::TcpStream::connect((url.host.as_str(), url.port));
    match tokio::time::timeout(CHECK_TIMEOUT, connect).await {
        Ok(Ok(_)) => Ok(format!("{url} reachable")),
        Ok(Err(error)) => Err(format!(
            "{url} unreachable: {error} — check the network (outgoing port {}) or TWITCH_IRC_URL",
            url.port
        )),
        Err(_) => Err(format!(
            "{url}: no answer within {} s — check the network",
            CHECK_TIMEOUT.as_secs()
        )),
    }
}

async fn helix(settings: &Settings) -> Outcome {
    let base = &settings.twitch_helix_url;
    let client = http_client()?;
    // Without a token Helix answers 401: any HTTP answer shows it is reachable.
    let url = base.join("users").map_err(|e| e.to_string())?;
    match client.get(url).send().await {
        Ok(_) => Ok(format!("{base} reachable")),
        Err(error) => Err(format!(
            "{base} unreachable: {} — check the network or TWITCH_HELIX_URL",
            reqwest_reason(&error)
        )),
    }
}

/// Binds `WEB_ADDR` and serves `/healthz` there until the returned token is cancelled, or
/// finds a chatters already listening.
async fn web(
    settings: &Settings,
    store: Option<&Arc<Store>>,
) -> Result<(String, Option<CancellationToken>), String> {
    let addr = settings.web_addr;
    match TcpListener::bind(addr).await {
        Ok(listener) => {
            let Some(store) = store else {
                return Ok((format!("{addr} is free"), None));
            };
            let cancel = CancellationToken::new();
            let state = chatters_web::AppState::new(store.clone());
            tokio::spawn(chatters_web::serve(listener, state, cancel.clone()));
            Ok((
                format!("{addr} is free (serving /healthz there during this check)"),
                Some(cancel),
            ))
        }
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
            let client = http_client()?;
            let url = format!("http://{}/healthz", reachable(addr));
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() || r.status().as_u16() == 503 => {
                    Ok((format!("{addr} is held by a running chatters"), None))
                }
                _ => Err(format!(
                    "{addr} is in use by another program — stop it or change WEB_ADDR"
                )),
            }
        }
        Err(error) => Err(format!(
            "cannot listen on {addr}: {error} — change WEB_ADDR"
        )),
    }
}

/// `PUBLIC_BASE_URL`: not an unspecified address, and `/healthz` answers through it.
async fn public_url(settings: &Settings) -> Outcome {
    let base = &settings.public_base_url;
    let parsed = url::Url::parse(base).map_err(|e| format!("{base}: {e}"))?;
    let unspecified = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_unspecified(),
        _ => false,
    };
    if unspecified {
        return Err(format!(
            "{base}: links in chat and Discord would point at an unspecified address — set \
             PUBLIC_BASE_URL to the address viewers use (e.g. https://chatters.example.com)"
        ));
    }
    let client = http_client()?;
    let local = matches!(parsed.host(), Some(url::Host::Domain("localhost")))
        || matches!(parsed.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback());
    match client.get(format!("{base}/healthz")).send().await {
        Ok(r) if r.status().is_success() || r.status().as_u16() == 503 => {
            let note = if local {
                " (this machine only: links work here only)"
            } else {
                ""
            };
            Ok(format!("{base}/healthz answers{note}"))
        }
        Ok(r) => Err(format!(
            "{base}/healthz answered HTTP {} — check that the proxy forwards to WEB_ADDR",
            r.status().as_u16()
        )),
        Err(error) => Err(format!(
            "{base} unreachable from this host: {} — check DNS, the proxy and PUBLIC_BASE_URL",
            reqwest_reason(&error)
        )),
    }
}

fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(CHECK_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// Why a request failed, without its URL (it may hold a query secret).
fn reqwest_reason(error: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    let mut innermost = error.to_string();
    while let Some(e) = source {
        innermost = e.to_string();
        source = e.source();
    }
    if error.is_timeout() {
        format!("no answer within {} s", CHECK_TIMEOUT.as_secs())
    } else {
        innermost
    }
}

/// An address to reach a listener bound to `addr` from this host (unspecified → loopback).
fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}
