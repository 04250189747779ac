//! API keys: their stored hash, label and channel scope, creation and revocation.

use std::fmt;

use rustc_hash::FxHashMap;
use sqlx::QueryBuilder;

use super::dialect::{id_list, login};
use super::error::StoreError;
use super::keys::ChannelKey;
use super::pool::{Store, with_pool};
use crate::domain::{Login, Timestamp, UserId};

/// Id of an API key row (what `chatters apikey list` shows and `revoke` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(pub i64);

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A stored API key: its hash and scope, never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Row id.
    pub id: ApiKeyId,
    /// Lower-case hex SHA-256 of the key (see `crate::apikey`).
    pub key_hash: String,
    /// Free text given at creation (may be empty).
    pub label: String,
    /// Channels the key may read, by login.
    pub channels: Vec<(ChannelKey, Login)>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked (`None`: valid).
    pub revoked_at: Option<Timestamp>,
}

type ApiKeyTuple = (i64, String, String, i64, Option<i64>);

const API_KEY_COLS: &str = "id, key_hash, label, created_at, revoked_at";

/// Joins key rows with their `(key id, channel key, channel login)` rows (sorted by key id).
fn api_key_records(
    rows: Vec<ApiKeyTuple>,
    channels: Vec<(i64, i64, String)>,
) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let mut scopes: FxHashMap<i64, Vec<(ChannelKey, Login)>> = FxHashMap::default();
    for (key, channel, name) in channels {
        scopes
            .entry(key)
            .or_default()
            .push((ChannelKey(channel), login(name)?));
    }
    Ok(rows
        .into_iter()
        .map(|(id, key_hash, label, created, revoked)| ApiKeyRecord {
            id: ApiKeyId(id),
            key_hash,
            label,
            channels: scopes.remove(&id).unwrap_or_default(),
            created_at: Timestamp(created),
            revoked_at: revoked.map(Timestamp),
        })
        .collect())
}

impl Store {
    /// Stores a new API key (its hash) scoped to `channels`, in one transaction; returns its id.
    pub async fn create_api_key(
        &self,
        key_hash: &str,
        label: &str,
        channels: &[ChannelKey],
        at: Timestamp,
    ) -> Result<ApiKeyId, StoreError> {
        let mut channels = channels.to_vec();
        channels.sort_unstable();
        channels.dedup();
        with_pool!(self, |pool, Db, d| {
            let mut tx = pool.begin().await?;
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO api_keys (key_hash, label, created_at) VALUES (",
            );
            qb.push_bind(key_hash.to_owned())
                .push(", ")
                .push_bind(label.to_owned())
                .push(", ")
                .push_bind(at.0)
                .push(")");
            qb.build().execute(&mut *tx).await?;
            // No portable RETURNING (MySQL 8 lacks it); the hash is unique.
            let mut qb = QueryBuilder::<Db>::new("SELECT id FROM api_keys WHERE key_hash = ");
            qb.push_bind(key_hash.to_owned());
            let (id,): (i64,) = qb.build_query_as().fetch_one(&mut *tx).await?;
            if !channels.is_empty() {
                let mut qb =
                    QueryBuilder::<Db>::new("INSERT INTO api_key_channels (key_id, channel_id) ");
                qb.push_values(&channels, |mut b, c| {
                    b.push_bind(id).push_bind(c.0);
                });
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(ApiKeyId(id))
        })
    }

    /// The key with this hash, revoked or not, with its channels.
    pub async fn api_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row: Option<ApiKeyTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {API_KEY_COLS} FROM api_keys WHERE key_hash = "
            ));
            qb.push_bind(key_hash.to_owned());
            qb.build_query_as().fetch_optional(pool).await?
        });
        Ok(self.scoped(row.into_iter().collect()).await?.pop())
    }

    /// Every key, revoked ones included, by id.
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let sql = format!("SELECT {API_KEY_COLS} FROM api_keys ORDER BY id");
        let rows: Vec<ApiKeyTuple> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        self.scoped(rows).await
    }

    /// Revokes a key at `at`. False when no key has this id or it was already revoked.
    pub async fn revoke_api_key(&self, id: ApiKeyId, at: Timestamp) -> Result<bool, StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("UPDATE api_keys SET revoked_at = ");
            qb.push_bind(at.0)
                .push(" WHERE revoked_at IS NULL AND id = ")
                .push_bind(id.0);
            Ok(qb.build().execute(pool).await?.rows_affected() > 0)
        })
    }

    /// Channels of the keys in `rows`.
    async fn scoped(&self, rows: Vec<ApiKeyTuple>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<UserId> = rows.iter().map(|r| UserId(r.0)).collect();
        let sql = format!(
            "SELECT kc.key_id, c.id, c.login FROM api_key_channels kc JOIN channels c ON c.id = kc.channel_id \
             WHERE kc.key_id IN {} ORDER BY kc.key_id, c.login",
            id_list(&ids)
        );
        let channels: Vec<(i64, i64, String)> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        api_key_records(rows, channels)
    }
}
