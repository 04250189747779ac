//! Channels: the channel rows (wanted or merely seen), their per-channel settings and their
//! known-bot rules.

use sqlx::QueryBuilder;

use super::dialect::login;
use super::error::StoreError;
use super::keys::ChannelKey;
use super::pool::{Store, with_pool};
use crate::domain::{Login, Timestamp, UserId};

/// A channel row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Internal key.
    pub key: ChannelKey,
    /// Login.
    pub login: Login,
    /// Broadcaster's Twitch user id, once known.
    pub twitch_id: Option<UserId>,
    /// True when added by `chatters channel add` (joined on every start).
    pub wanted: bool,
    /// When the row was created.
    pub added_at: Timestamp,
}

/// How a login is treated by the known-bot list of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotRule {
    /// `bots.add`: excluded from figures in this channel.
    Add,
    /// `bots.allow`: a shipped bot counted as a chatter in this channel.
    Allow,
}

impl BotRule {
    fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Allow => "allow",
        }
    }
}

fn bot_rule(value: String) -> Result<BotRule, StoreError> {
    match value.as_str() {
        "add" => Ok(BotRule::Add),
        "allow" => Ok(BotRule::Allow),
        _ => Err(StoreError::Corrupt {
            column: "channel_bots.rule",
            value,
        }),
    }
}

type ChannelTuple = (i64, String, Option<i64>, i64, i64);

fn channel_row(
    (key, name, twitch_id, wanted, added_at): ChannelTuple,
) -> Result<Channel, StoreError> {
    Ok(Channel {
        key: ChannelKey(key),
        login: login(name)?,
        twitch_id: twitch_id.map(UserId),
        wanted: wanted != 0,
        added_at: Timestamp(added_at),
    })
}

impl Store {
    /// Marks a channel wanted (creating it when new). Idempotent.
    pub async fn add_channel(&self, login: &Login) -> Result<Channel, StoreError> {
        self.ensure_channel(login).await?;
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("UPDATE channels SET wanted = 1 WHERE login = ");
            qb.push_bind(login.as_str().to_owned());
            qb.build().execute(pool).await?;
        });
        self.channel(login)
            .await?
            .ok_or_else(|| StoreError::UnknownChannel(login.clone()))
    }

    /// Stops wanting a channel; its history stays. False when it was not wanted.
    pub async fn remove_channel(&self, login: &Login) -> Result<bool, StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "UPDATE channels SET wanted = 0 WHERE wanted = 1 AND login = ",
            );
            qb.push_bind(login.as_str().to_owned());
            Ok(qb.build().execute(pool).await?.rows_affected() > 0)
        })
    }

    /// Every channel row, wanted or not, by login.
    pub async fn channels(&self) -> Result<Vec<Channel>, StoreError> {
        let rows: Vec<ChannelTuple> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(
                "SELECT id, login, twitch_id, wanted, added_at FROM channels ORDER BY login",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(channel_row).collect()
    }

    /// The channel row for a login, created (not wanted) when missing.
    pub async fn ensure_channel(&self, login: &Login) -> Result<Channel, StoreError> {
        if let Some(c) = self.channel(login).await? {
            return Ok(c);
        }
        with_pool!(self, |pool, Db, d| {
            let (pre, post) = d.insert_ignore();
            let mut qb = QueryBuilder::<Db>::new(format!(
                "{pre}channels (login, wanted, added_at) VALUES ("
            ));
            qb.push_bind(login.as_str().to_owned())
                .push(", 0, ")
                .push_bind(Timestamp::now().0)
                .push(")")
                .push(post);
            qb.build().execute(pool).await?;
        });
        self.channel(login)
            .await?
            .ok_or_else(|| StoreError::UnknownChannel(login.clone()))
    }

    /// A channel by login.
    pub async fn channel(&self, login: &Login) -> Result<Option<Channel>, StoreError> {
        let row: Option<ChannelTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT id, login, twitch_id, wanted, added_at FROM channels WHERE login = ",
            );
            qb.push_bind(login.as_str().to_owned());
            qb.build_query_as().fetch_optional(pool).await?
        });
        row.map(channel_row).transpose()
    }

    /// Records the broadcaster's Twitch id.
    pub async fn set_channel_twitch_id(
        &self,
        key: ChannelKey,
        id: UserId,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("UPDATE channels SET twitch_id = ");
            qb.push_bind(id.0).push(" WHERE id = ").push_bind(key.0);
            qb.build().execute(pool).await?;
        });
        Ok(())
    }

    /// Sets (or with `None` clears) a per-channel setting.
    pub async fn set_channel_setting(
        &self,
        key: ChannelKey,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = match value {
                Some(v) => {
                    let mut qb = QueryBuilder::<Db>::new(
                        "INSERT INTO channel_settings (channel_id, name, value) VALUES (",
                    );
                    qb.push_bind(key.0)
                        .push(", ")
                        .push_bind(name.to_owned())
                        .push(", ")
                        .push_bind(v.to_owned())
                        .push(")");
                    qb.push(d.upsert("channel_id, name"))
                        .push(format!("value = {}", d.ex("value")));
                    qb
                }
                None => {
                    let mut qb =
                        QueryBuilder::<Db>::new("DELETE FROM channel_settings WHERE channel_id = ");
                    qb.push_bind(key.0)
                        .push(" AND name = ")
                        .push_bind(name.to_owned());
                    qb
                }
            };
            qb.build().execute(pool).await?;
        });
        Ok(())
    }

    /// Every setting of a channel, by name.
    pub async fn channel_settings(
        &self,
        key: ChannelKey,
    ) -> Result<Vec<(String, String)>, StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT name, value FROM channel_settings WHERE channel_id = ",
            );
            qb.push_bind(key.0).push(" ORDER BY name");
            Ok(qb.build_query_as().fetch_all(pool).await?)
        })
    }

    /// Channels whose setting `name` has this value.
    pub async fn channels_with_setting(
        &self,
        name: &str,
        value: &str,
    ) -> Result<Vec<ChannelKey>, StoreError> {
        let rows: Vec<(i64,)> = with_pool!(self, |pool, Db, d| {
            let mut qb =
                QueryBuilder::<Db>::new("SELECT channel_id FROM channel_settings WHERE name = ");
            qb.push_bind(name.to_owned())
                .push(" AND value = ")
                .push_bind(value.to_owned())
                .push(" ORDER BY channel_id");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(k,)| ChannelKey(k)).collect())
    }

    /// Sets (or with `None` removes) a per-channel known-bot rule.
    pub async fn set_bot_rule(
        &self,
        key: ChannelKey,
        login: &Login,
        rule: Option<BotRule>,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = match rule {
                Some(r) => {
                    let mut qb = QueryBuilder::<Db>::new(
                        "INSERT INTO channel_bots (channel_id, login, rule) VALUES (",
                    );
                    qb.push_bind(key.0)
                        .push(", ")
                        .push_bind(login.as_str().to_owned())
                        .push(", ")
                        .push_bind(r.as_str())
                        .push(")");
                    qb.push(d.upsert("channel_id, login"))
                        .push(format!("rule = {}", d.ex("rule")));
                    qb
                }
                None => {
                    let mut qb =
                        QueryBuilder::<Db>::new("DELETE FROM channel_bots WHERE channel_id = ");
                    qb.push_bind(key.0)
                        .push(" AND login = ")
                        .push_bind(login.as_str().to_owned());
                    qb
                }
            };
            qb.build().execute(pool).await?;
        });
        Ok(())
    }

    /// Per-channel known-bot rules.
    pub async fn bot_rules(&self, key: ChannelKey) -> Result<Vec<(Login, BotRule)>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |pool, Db, d| {
            let mut qb =
                QueryBuilder::<Db>::new("SELECT login, rule FROM channel_bots WHERE channel_id = ");
            qb.push_bind(key.0).push(" ORDER BY login");
            qb.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|(l, r)| Ok((login(l)?, bot_rule(r)?)))
            .collect()
    }
}
