//! What identity resolution and the scheduler need from Twitch's Helix API, as a trait: the
//! real implementation is [`crate::helix::Helix`]; keeping the scheduler behind this seam lets
//! its timing logic be tested without HTTP.

use async_trait::async_trait;
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::UserRef;

/// A Twitch account (Helix Get Users).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user, with login and display name.
    pub user: UserRef,
    /// Account creation time.
    pub created_at: Timestamp,
}

/// A live stream (Helix Get Streams).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveInfo {
    /// Broadcaster id.
    pub user_id: UserId,
    /// Broadcaster login.
    pub login: Login,
    /// Twitch's stream id.
    pub id: StreamId,
    /// `started_at`.
    pub started_at: Timestamp,
    /// Title.
    pub title: String,
    /// `viewer_count`.
    pub viewers: i64,
    /// `game_id` (`""`: no category).
    pub game_id: String,
    /// `game_name`.
    pub game_name: String,
}

/// A complete chatter list (every page of Helix Get Chatters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatterList {
    /// Every user listed.
    pub users: Vec<UserRef>,
    /// Helix `total`.
    pub total: u64,
}

/// Why a call gave nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 403: the bot is not a moderator there (or lacks the scope).
    #[error("forbidden")]
    Forbidden,
    /// Anything else after the client's retries (the message names no secret).
    #[error("{0}")]
    Unavailable(String),
}

/// The Helix calls the bot makes.
#[async_trait]
pub trait Api: Send + Sync + std::fmt::Debug {
    /// Accounts by login (any number; batched by the implementation).
    async fn users_by_login(&self, logins: &[Login]) -> Result<Vec<Account>, ApiError>;
    /// Accounts by id (any number; batched by the implementation).
    async fn users_by_id(&self, ids: &[UserId]) -> Result<Vec<Account>, ApiError>;
    /// Every chatter of a channel, all pages, or an error (never a partial list).
    async fn chatters(&self, broadcaster: UserId) -> Result<ChatterList, ApiError>;
    /// Live streams among these channels.
    async fn streams(&self, broadcasters: &[UserId]) -> Result<Vec<LiveInfo>, ApiError>;
    /// Channels the bot account moderates (all pages); `Forbidden` without the scope.
    async fn moderated_channels(&self) -> Result<Vec<(UserId, Login)>, ApiError>;
}
