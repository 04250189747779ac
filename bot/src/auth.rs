//! Twitch credentials for Helix and chat, in one of three modes chosen at start ([`AuthMode`]):
//!
//! - **User**: `TWITCH_BOT_TOKEN`, validated against `<oauth2>/validate` at start and every hour
//!   (Twitch requires it), refreshed with the refresh token and the client id/secret when it
//!   expires, when validation refuses it or when Helix answers 401. Twitch may rotate the refresh
//!   token: the new one is saved in the store ([`REFRESH_TOKEN_STATE`]) only after a successful
//!   refresh, and preferred at the next start while `TWITCH_BOT_REFRESH_TOKEN` is unchanged.
//!   Scopes the bot needs but lacks ([`REQUIRED_SCOPES`]) are logged once each; callers ask
//!   [`Auth::has_scope`] and switch the feature off.
//! - **App**: only `TWITCH_CLIENT_ID`/`TWITCH_CLIENT_SECRET`: an app access token (client
//!   credentials) serves Get Users and Get Streams; chat is anonymous.
//! - **Anonymous**: nothing set: no Helix, anonymous chat.
//!
//! Tokens are twitch_oauth2 types (their `Debug`/`Display` are redacted) and never logged.
//!
//! This file only declares the submodules and re-exports their public items:
//! - `state`: [`Auth`], [`AuthConfig`], [`AuthMode`], [`BotAccount`], the token in use and the
//!   scope and store-key constants;
//! - `lifecycle`: [`Auth::start`], [`Auth::refresh`], [`Auth::check`], [`Auth::maintain`];
//! - `renew`: first validation, refresh, app tokens, scope report;
//! - `oauth`: the three OAuth calls with retries, and how a validation's answer reads;
//! - `error`: [`AuthError`]; `irc`: [`IrcCredentials`];
//! - `device`: the device code flow of `chatters login` ([`DeviceFlow`]);
//! - `stored`: the sign-in `chatters login` keeps in the database ([`StoredLogin`]), used when
//!   `TWITCH_BOT_TOKEN` is unset, and [`inspect`] (one validation, for `chatters doctor`).

mod device;
mod error;
mod irc;
mod lifecycle;
mod oauth;
mod renew;
mod state;
mod stored;

pub use device::{DeviceError, DeviceFlow, DeviceTokens, SLOW_DOWN_STEP};
pub use error::AuthError;
pub use irc::{ANONYMOUS_LOGIN, IrcCredentials};
pub(crate) use state::Bearer;
pub use state::{
    Auth, AuthConfig, AuthMode, BotAccount, REFRESH_ORIGIN_STATE, REFRESH_TOKEN_STATE,
    REQUIRED_SCOPES, SCOPE_CHAT_EDIT, SCOPE_CHAT_READ, SCOPE_CHATTERS, SCOPE_MODERATED_CHANNELS,
};
pub use stored::{
    ACCESS_TOKEN_STATE, CLIENT_ID_STATE, LOGIN_STATE, StoredLogin, TokenInfo, inspect,
};
