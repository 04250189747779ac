//! The dashboard end to end: a real `chatters web` server (in process, on 127.0.0.1:0) over a
//! fresh database fed by the real ingestion pipeline with the scripted channel, signing in
//! through the fake Twitch OAuth and Helix server of `chatters-bot` (feature `fake`), and a
//! small browser-like HTTP client with a cookie jar that follows nothing by itself.

use std::collections::HashMap;
use std::sync::Arc;

use chatters_bot::testing::fake_helix::{CLIENT_ID, CLIENT_SECRET, FakeHelix, FakeUser};
use chatters_core::domain::Login;
use chatters_core::ingest::IngestConfig;
use chatters_core::store::Store;
use chatters_core::testing::{Pipeline, TestDb, Timeline, scripted_channel};
use chatters_web::dashboard::Dashboard;
use chatters_web::dashboard::twitch::TwitchApp;
use chatters_web::{AppState, WebConfig};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The channel the scripted events are about (moderated by [`moderator`]).
pub const CHAN: &str = "chan";
/// Another tracked channel.
pub const OTHER: &str = "otherchan";

/// A moderator of [`CHAN`], whose own channel is not tracked.
pub fn moderator() -> FakeUser {
    FakeUser::new("4001", "modmia")
}

/// Someone who moderates nothing.
pub fn stranger() -> FakeUser {
    FakeUser::new("4002", "randomrob")
}

/// The admin of the site.
pub fn admin() -> FakeUser {
    FakeUser::new("4003", "siteadmin")
}

/// A running dashboard.
pub struct Site {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The fake Twitch.
    pub fake: Arc<FakeHelix>,
    /// The database.
    pub db: TestDb,
    pipeline: Option<Pipeline>,
    stop: CancellationToken,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A web server over `store`, signing in through `fake`; returns its base URL.
pub async fn serve(
    store: Arc<Store>,
    fake: &FakeHelix,
    redis: Option<SecretString>,
    stop: CancellationToken,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let config = WebConfig {
        public_base_url: base.clone(),
        redis_url: redis.clone(),
        bot_user: None,
    };
    let mut state = AppState::with_config(store.clone(), config);
    let app = TwitchApp::new(
        CLIENT_ID.to_owned(),
        SecretString::from(CLIENT_SECRET.to_owned()),
        fake.oauth2_url(),
        fake.helix_url(),
    );
    let admins = vec![Login::parse(&admin().login).expect("login")];
    state.dashboard = Arc::new(Dashboard::new(
        store,
        &base,
        redis.as_ref(),
        Some(app),
        admins,
    ));
    tokio::spawn(async move {
        let _ = chatters_web::serve(listener, state, stop).await;
    });
    base
}

impl Site {
    /// A site over SQLite with [`CHAN`] scripted and [`OTHER`] tracked, [`moderator`]
    /// moderating [`CHAN`].
    pub async fn start() -> Self {
        Self::start_on(TestDb::sqlite().await, None).await
    }

    /// The same over `db`, sessions in Redis when `redis` is given.
    pub async fn start_on(db: TestDb, redis: Option<SecretString>) -> Self {
        let fake = Arc::new(FakeHelix::start().await.expect("fake Twitch"));
        fake.set_moderated_channels(&moderator().id, vec![FakeUser::new("500", CHAN)]);
        let pipeline = Pipeline::start(db.store.clone(), IngestConfig::default()).await;
        let timeline = Timeline::at(chatters_core::domain::Timestamp::now().0 - 3 * 3600);
        pipeline.send(scripted_channel(&timeline, CHAN, 500)).await;
        db.store
            .add_channel(&Login::parse(OTHER).expect("login"))
            .await
            .expect("add channel");
        let stop = CancellationToken::new();
        let base = serve(db.store.clone(), &fake, redis, stop.clone()).await;
        Self {
            base,
            fake,
            db,
            pipeline: Some(pipeline),
            stop,
        }
    }

    /// A second web instance over the same database and fake (sessions in `redis`).
    pub async fn another_instance(&self, redis: Option<SecretString>) -> String {
        serve(self.db.store.clone(), &self.fake, redis, self.stop.clone()).await
    }

    /// Stops ingestion and removes the database.
    pub async fn stop(mut self) {
        if let Some(p) = self.pipeline.take() {
            p.stop().await;
        }
        self.stop.cancel();
        let db = std::mem::replace(&mut self.db, TestDb::sqlite().await);
        db.cleanup().await;
    }
}

/// One answer.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The `Location` header.
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The `value` of the first `<input name="csrf">` on the page.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with csrf");
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("end of value")].to_owned()
    }
}

/// A browser: a cookie jar and no automatic redirects.
pub struct Client {
    http: reqwest::Client,
    /// Cookies by name.
    pub jar: HashMap<String, String>,
    /// The `Set-Cookie` lines received, in order.
    pub set_cookies: Vec<String>,
}

impl Client {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jar: HashMap::new(),
            set_cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        for line in headers.get_all(SET_COOKIE).iter() {
            let line = line.to_str().expect("cookie").to_owned();
            let pair = line.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || line.contains("Max-Age=0") {
                    self.jar.remove(name);
                } else {
                    self.jar.insert(name.to_owned(), value.to_owned());
                }
            }
            self.set_cookies.push(line);
        }
        let body = response.text().await.expect("body");
        Page {
            status,
            headers,
            body,
        }
    }

    /// GET an absolute URL.
    pub async fn get(&mut self, url: &str) -> Page {
        let response = self
            .http
            .get(url)
            .header("Cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.finish(response).await
    }

    /// POST a form to an absolute URL.
    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            body.append_pair(k, v);
        }
        let response = self
            .http
            .post(url)
            .header("Cookie", self.cookie_header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.finish())
            .send()
            .await
            .expect("POST");
        self.finish(response).await
    }

    /// Signs in on `base` as `user` through the fake: `/login` → Twitch → `/auth/callback`.
    /// Returns the callback's answer.
    pub async fn sign_in(&mut self, base: &str, fake: &FakeHelix, user: &FakeUser) -> Page {
        fake.set_authorizer(Some(user.clone()));
        let login = self.get(&format!("{base}/login")).await;
        assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
        let consent = self.get(login.location()).await;
        assert_eq!(consent.status, StatusCode::FOUND, "{}", consent.body);
        self.get(consent.location()).await
    }
}
