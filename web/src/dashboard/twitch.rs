//! The Twitch calls of dashboard sign-in, made from the web side (the bot's Helix client belongs
//! to the bot half): the authorization URL, the code exchange (`oauth2/token`), `oauth2/validate`
//! (who signed in) and Get Moderated Channels (`helix/moderation/channels`, every page). The
//! user's token lives only for the length of [`TwitchApp::sign_in`]: it is never stored.

use std::time::Duration;

use chatters_core::domain::{Login, UserId};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use url::Url;

/// The one scope asked for.
pub const SCOPE: &str = "user:read:moderated_channels";
/// Most pages of moderated channels read (100 each).
const MAX_PAGES: usize = 50;
/// Limit for one Twitch request.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why sign-in failed (shown to the user as a short reason; details logged).
#[derive(Debug, thiserror::Error)]
pub enum TwitchError {
    /// Twitch could not be reached or answered something unreadable.
    #[error("Twitch could not be reached: {0}")]
    Http(#[from] reqwest::Error),
    /// Twitch refused (bad code, revoked token, missing scope).
    #[error("Twitch refused the sign-in ({0})")]
    Refused(reqwest::StatusCode),
    /// A field Twitch sent was not usable.
    #[error("Twitch sent an unusable answer: {0}")]
    Unusable(&'static str),
}

/// The app's credentials and Twitch's base URLs.
#[derive(Debug, Clone)]
pub struct TwitchApp {
    http: reqwest::Client,
    /// `TWITCH_CLIENT_ID`.
    pub client_id: String,
    client_secret: SecretString,
    oauth2_url: Url,
    helix_url: Url,
}

/// Who signed in and which channels they moderate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// Twitch user id.
    pub user_id: UserId,
    /// Login.
    pub login: Login,
    /// The channels they moderate (their own not included).
    pub moderated: Vec<Login>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Deserialize)]
struct Validated {
    login: String,
    user_id: String,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Deserialize)]
struct ModeratedPage {
    data: Vec<ModeratedChannel>,
    #[serde(default)]
    pagination: Pagination,
}

#[derive(Deserialize)]
struct ModeratedChannel {
    broadcaster_login: String,
}

#[derive(Deserialize, Default)]
struct Pagination {
    cursor: Option<String>,
}

impl TwitchApp {
    /// The app with its credentials and base URLs (each ending with `/`).
    pub fn new(
        client_id: String,
        client_secret: SecretString,
        oauth2_url: Url,
        helix_url: Url,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            http,
            client_id,
            client_secret,
            oauth2_url,
            helix_url,
        }
    }

    /// Where to send the browser: Twitch's consent page, coming back to `redirect_uri`.
    pub fn authorize_url(&self, redirect_uri: &str, state: &str) -> String {
        let mut url = self
            .oauth2_url
            .join("authorize")
            .unwrap_or_else(|_| self.oauth2_url.clone());
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPE)
            .append_pair("state", state);
        url.into()
    }

    /// Exchanges the callback's code for a token, asks who it belongs to and which channels
    /// they moderate, and forgets the token.
    pub async fn sign_in(&self, code: &str, redirect_uri: &str) -> Result<SignedIn, TwitchError> {
        let token = self.exchange(code, redirect_uri).await?;
        let who = self.validate(&token).await?;
        if !who.scopes.iter().any(|s| s == SCOPE) {
            return Err(TwitchError::Unusable(
                "the token lacks the moderated-channels scope",
            ));
        }
        let user_id = UserId::parse(&who.user_id).map_err(|_| TwitchError::Unusable("user id"))?;
        let login = Login::parse(&who.login).map_err(|_| TwitchError::Unusable("login"))?;
        let moderated = self.moderated(&token, user_id).await?;
        Ok(SignedIn {
            user_id,
            login,
            moderated,
        })
    }

    async fn exchange(&self, code: &str, redirect_uri: &str) -> Result<SecretString, TwitchError> {
        let url = self
            .oauth2_url
            .join("token")
            .map_err(|_| TwitchError::Unusable("token URL"))?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose_secret())
            .append_pair("code", code)
            .append_pair("grant_type", "authorization_code")
            .append_pair("redirect_uri", redirect_uri)
            .finish();
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(TwitchError::Refused(response.status()));
        }
        let answer: TokenAnswer = response.json().await?;
        Ok(SecretString::from(answer.access_token))
    }

    async fn validate(&self, token: &SecretString) -> Result<Validated, TwitchError> {
        let url = self
            .oauth2_url
            .join("validate")
            .map_err(|_| TwitchError::Unusable("validate URL"))?;
        let response = self
            .http
            .get(url)
            .header("Authorization", format!("OAuth {}", token.expose_secret()))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(TwitchError::Refused(response.status()));
        }
        Ok(response.json().await?)
    }

    async fn moderated(
        &self,
        token: &SecretString,
        user: UserId,
    ) -> Result<Vec<Login>, TwitchError> {
        let url = self
            .helix_url
            .join("moderation/channels")
            .map_err(|_| TwitchError::Unusable("Helix URL"))?;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut page_url = url.clone();
            {
                let mut query = page_url.query_pairs_mut();
                query
                    .append_pair("user_id", &user.to_string())
                    .append_pair("first", "100");
                if let Some(cursor) = after.take() {
                    query.append_pair("after", &cursor);
                }
            }
            let response = self
                .http
                .get(page_url)
                .bearer_auth(token.expose_secret())
                .header("Client-Id", &self.client_id)
                .send()
                .await?;
            if !response.status().is_success() {
                return Err(TwitchError::Refused(response.status()));
            }
            let page: ModeratedPage = response.json().await?;
            out.extend(
                page.data
                    .iter()
                    .filter_map(|c| Login::parse(&c.broadcaster_login).ok()),
            );
            match page.pagination.cursor.filter(|c| !c.is_empty()) {
                Some(cursor) if !page.data.is_empty() => after = Some(cursor),
                _ => break,
            }
        }
        Ok(out)
    }
}
