//! The typed Helix requests chatters makes (Get Users, Get Chatters, Get Streams, Get Moderated
//! Channels), batched and paged to Twitch's maxima, and their answers read into domain types.
//! Values that do not parse (a login with a space, a user id that is not a number) are skipped
//! with a warning.

use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::UserRef;
use tracing::warn;
use twitch_api::helix::chat::{Chatter, GetChattersRequest};
use twitch_api::helix::moderation::{GetModeratedChannelsRequest, ModeratedChannel};
use twitch_api::helix::streams::{GetStreamsRequest, Stream};
use twitch_api::helix::users::{GetUsersRequest, User};
use twitch_api::types;

use super::call::Needs;
use super::client::Helix;
use super::error::HelixError;
use crate::auth::{SCOPE_CHATTERS, SCOPE_MODERATED_CHANNELS};

/// Ids or logins per Get Users / Get Streams call (Twitch's maximum).
pub const BATCH: usize = 100;
/// Chatters per Get Chatters page (Twitch's maximum).
pub const CHATTERS_PAGE: usize = 1000;
/// Channels per Get Moderated Channels page (Twitch's maximum).
const MODERATED_PAGE: usize = 100;

/// A Twitch account from Get Users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelixUser {
    /// User id.
    pub id: UserId,
    /// Current login.
    pub login: Login,
    /// Display name.
    pub display_name: String,
    /// When the account was created.
    pub created_at: Timestamp,
}

/// One complete Get Chatters snapshot (every page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chatters {
    /// Everyone in the list, with display names.
    pub users: Vec<UserRef>,
    /// Twitch's `total` (may differ from `users.len()`).
    pub total: u64,
}

/// A live stream from Get Streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveStream {
    /// The broadcaster's user id.
    pub user_id: UserId,
    /// The broadcaster's login.
    pub login: Login,
    /// Twitch's stream id.
    pub id: StreamId,
    /// When the stream started.
    pub started_at: Timestamp,
    /// The stream title.
    pub title: String,
    /// `viewer_count`.
    pub viewers: i64,
    /// `game_id` (`""`: no category).
    pub game_id: String,
    /// `game_name`.
    pub game_name: String,
}

impl Helix {
    /// Get Users by login, 100 per call. Unknown logins are left out.
    pub async fn users_by_login(&self, logins: &[Login]) -> Result<Vec<HelixUser>, HelixError> {
        let mut users = Vec::with_capacity(logins.len());
        for batch in logins.chunks(BATCH) {
            let names: Vec<types::UserName> = batch.iter().map(|l| l.as_str().into()).collect();
            let request = GetUsersRequest::logins(names);
            let response = self.get("users", Needs::AnyToken, &request).await?;
            users.extend(response.data.into_iter().filter_map(helix_user));
        }
        Ok(users)
    }

    /// Get Users by id, 100 per call. Unknown ids are left out.
    pub async fn users_by_id(&self, ids: &[UserId]) -> Result<Vec<HelixUser>, HelixError> {
        let mut users = Vec::with_capacity(ids.len());
        for batch in ids.chunks(BATCH) {
            let ids: Vec<types::UserId> = batch.iter().map(|id| id.to_string().into()).collect();
            let request = GetUsersRequest::ids(ids);
            let response = self.get("users", Needs::AnyToken, &request).await?;
            users.extend(response.data.into_iter().filter_map(helix_user));
        }
        Ok(users)
    }

    /// Get Chatters of `broadcaster` as `moderator` (the bot), every page of 1,000. A failure
    /// on any page fails the whole snapshot: never a partial list.
    pub async fn chatters(
        &self,
        broadcaster: UserId,
        moderator: UserId,
    ) -> Result<Chatters, HelixError> {
        let request = GetChattersRequest::new(
            types::UserId::new(broadcaster.to_string()),
            types::UserId::new(moderator.to_string()),
        )
        .first(CHATTERS_PAGE);
        let (chatters, total) = self
            .get_all("chat/chatters", Needs::UserScope(SCOPE_CHATTERS), request)
            .await?;
        let users: Vec<UserRef> = chatters.into_iter().filter_map(chatter).collect();
        let total = total.map_or(users.len() as u64, |t| u64::try_from(t).unwrap_or(0));
        Ok(Chatters { users, total })
    }

    /// Get Streams of these broadcasters, 100 per call: the live ones.
    pub async fn streams(&self, user_ids: &[UserId]) -> Result<Vec<LiveStream>, HelixError> {
        let mut live = Vec::new();
        for batch in user_ids.chunks(BATCH) {
            let ids: Vec<types::UserId> = batch.iter().map(|id| id.to_string().into()).collect();
            let request = GetStreamsRequest::user_ids(ids).first(BATCH);
            let (streams, _) = self.get_all("streams", Needs::AnyToken, request).await?;
            live.extend(streams.into_iter().filter_map(live_stream));
        }
        Ok(live)
    }

    /// Get Moderated Channels of `user` (the bot), every page.
    pub async fn moderated_channels(
        &self,
        user: UserId,
    ) -> Result<Vec<(UserId, Login)>, HelixError> {
        let request = GetModeratedChannelsRequest::user_id(types::UserId::new(user.to_string()))
            .first(MODERATED_PAGE);
        let (channels, _) = self
            .get_all(
                "moderation/channels",
                Needs::UserScope(SCOPE_MODERATED_CHANNELS),
                request,
            )
            .await?;
        Ok(channels.into_iter().filter_map(moderated).collect())
    }
}

fn ids(kind: &'static str, id: &str, login: &str) -> Option<(UserId, Login)> {
    match (UserId::parse(id), Login::parse(login)) {
        (Ok(id), Ok(login)) => Some((id, login)),
        _ => {
            warn!(
                kind,
                id, login, "Helix sent an unparsable user id or login; skipped"
            );
            None
        }
    }
}

fn helix_user(user: User) -> Option<HelixUser> {
    let (id, login) = ids("user", user.id.as_str(), user.login.as_str())?;
    let Ok(created_at) = Timestamp::parse_rfc3339(user.created_at.as_str()) else {
        warn!(%id, created_at = user.created_at.as_str(), "Helix sent an unparsable created_at; user skipped");
        return None;
    };
    Some(HelixUser {
        id,
        login,
        display_name: user.display_name.to_string(),
        created_at,
    })
}

fn chatter(chatter: Chatter) -> Option<UserRef> {
    let (id, login) = ids(
        "chatter",
        chatter.user_id.as_str(),
        chatter.user_login.as_str(),
    )?;
    Some(UserRef {
        id,
        login,
        display_name: Some(chatter.user_name.to_string()),
    })
}

fn live_stream(stream: Stream) -> Option<LiveStream> {
    let (user_id, login) = ids(
        "stream",
        stream.user_id.as_str(),
        stream.user_login.as_str(),
    )?;
    let id = StreamId::parse(stream.id.as_str());
    let started_at = Timestamp::parse_rfc3339(stream.started_at.as_str());
    let (Ok(id), Ok(started_at)) = (id, started_at) else {
        warn!(%login, stream_id = stream.id.as_str(), "Helix sent an unparsable stream id or started_at; skipped");
        return None;
    };
    Some(LiveStream {
        user_id,
        login,
        id,
        started_at,
        title: stream.title,
        viewers: i64::try_from(stream.viewer_count).unwrap_or(i64::MAX),
        game_id: stream.game_id.as_str().to_owned(),
        game_name: stream.game_name,
    })
}

fn moderated(channel: ModeratedChannel) -> Option<(UserId, Login)> {
    ids(
        "moderated channel",
        channel.broadcaster_id.as_str(),
        channel.broadcaster_login.as_str(),
    )
}
