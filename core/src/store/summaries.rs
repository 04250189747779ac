//! Recap and digest bookkeeping: one summary row per (subject, target) with its delivery state
//! and lease, claimed and finished by the delivery workers, and the targets disabled per
//! channel after their webhook was revoked.

use sqlx::QueryBuilder;

use super::error::StoreError;
use super::keys::ChannelKey;
use super::pool::{Store, with_pool};
use crate::domain::Timestamp;

/// Where a summary (a recap or digest for one target) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SummaryState {
    /// Waiting for its `next_at`.
    Pending,
    /// Claimed by a worker until its `next_at` (the lease); due again after it.
    Sending,
    /// Delivered (terminal).
    Sent,
    /// Given up after retrying (terminal).
    Failed,
    /// Not sent: the target's webhook was revoked (terminal).
    Disabled,
}

impl SummaryState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Disabled => "disabled",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "disabled" => Self::Disabled,
            _ => return None,
        })
    }
}

/// A summary row: one recap (or weekly digest) for one target. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The stream's key for a recap, the channel's key for a digest (target `digest:...`).
    pub subject: i64,
    /// Non-secret target key (`discord:channel`, `digest:2026-W48:slack:global`, ...).
    pub target: String,
    /// Where it stands.
    pub state: SummaryState,
    /// Delivery attempts started.
    pub attempts: i64,
    /// Pending: when it is due; sending: when the claim expires.
    pub next_at: Option<i64>,
    /// When it was delivered.
    pub sent_at: Option<i64>,
    /// When the row was written.
    pub created_at: Option<i64>,
    /// The last failure, for operators (never a URL).
    pub last_error: Option<String>,
}

/// The result of a delivery attempt, written to a claimed summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryUpdate {
    /// New state.
    pub state: SummaryState,
    /// Next attempt (pending) or `None`.
    pub next_at: Option<i64>,
    /// Delivery time (sent) or `None`.
    pub sent_at: Option<i64>,
    /// Failure text (never a URL) or `None`.
    pub last_error: Option<String>,
}

/// A recap target disabled for a channel after its webhook was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledTarget {
    /// Channel.
    pub channel: ChannelKey,
    /// Target key without period (`discord:global`, `slack:channel`, ...).
    pub target: String,
    /// Truncated SHA-256 of the URL that was revoked (a new URL enables the target again).
    pub url_hash: String,
    /// The HTTP status that revoked it.
    pub status: i64,
    /// When (Unix seconds).
    pub disabled_at: Timestamp,
}

type SummaryTuple = (
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

const SUMMARY_COLS: &str =
    "stream_id, target, state, attempts, next_at, sent_at, created_at, last_error";

fn summary_row(
    (subject, target, state, attempts, next_at, sent_at, created_at, last_error): SummaryTuple,
) -> Result<Summary, StoreError> {
    let state = SummaryState::parse(&state).ok_or(StoreError::Corrupt {
        column: "summaries.state",
        value: state,
    })?;
    Ok(Summary {
        subject,
        target,
        state,
        attempts,
        next_at,
        sent_at,
        created_at,
        last_error,
    })
}

impl Store {
    /// Records pending summaries of `subject` for `targets`, due at `at_ms`; rows that exist
    /// are left alone. Returns how many were new.
    pub async fn add_summaries(
        &self,
        subject: i64,
        targets: &[String],
        at_ms: i64,
    ) -> Result<u64, StoreError> {
        if targets.is_empty() {
            return Ok(0);
        }
        with_pool!(self, |pool, Db, d| {
            let (pre, post) = d.insert_ignore();
            let mut qb = QueryBuilder::<Db>::new(format!(
                "{pre}summaries (stream_id, target, state, attempts, next_at, created_at) "
            ));
            qb.push_values(targets, |mut b, target| {
                b.push_bind(subject)
                    .push_bind(target.clone())
                    .push_bind(SummaryState::Pending.as_str())
                    .push_bind(0_i64)
                    .push_bind(at_ms)
                    .push_bind(at_ms);
            });
            qb.push(post);
            Ok(qb.build().execute(pool).await?.rows_affected())
        })
    }

    /// Pending summaries due at `now_ms` and sending ones whose claim expired, oldest first.
    pub async fn due_summaries(&self, now_ms: i64, limit: i64) -> Result<Vec<Summary>, StoreError> {
        let rows: Vec<SummaryTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {SUMMARY_COLS} FROM summaries WHERE state IN ('pending', 'sending') AND next_at <= "
            ));
            qb.push_bind(now_ms)
                .push(" ORDER BY next_at, stream_id, target LIMIT ")
                .push_bind(limit);
            qb.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(summary_row).collect()
    }

    /// Claims a due summary read with `attempts` attempts: marks it sending until
    /// `lease_until_ms` and counts the attempt. False when another worker got there first.
    pub async fn claim_summary(
        &self,
        subject: i64,
        target: &str,
        attempts: i64,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError> {
        // The attempt count read with the row is the version: of two workers that read the
        // same due row, one update matches.
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "UPDATE summaries SET state = 'sending', attempts = attempts + 1, next_at = ",
            );
            qb.push_bind(lease_until_ms)
                .push(" WHERE stream_id = ")
                .push_bind(subject)
                .push(" AND target = ")
                .push_bind(target.to_owned())
                .push(" AND attempts = ")
                .push_bind(attempts)
                .push(" AND state IN ('pending', 'sending')");
            Ok(qb.build().execute(pool).await?.rows_affected() == 1)
        })
    }

    /// Writes the result of the attempt a claim started (`attempts` counts it). False when the
    /// claim was lost (expired and taken over), in which case nothing changes.
    pub async fn finish_summary(
        &self,
        subject: i64,
        target: &str,
        attempts: i64,
        update: &SummaryUpdate,
    ) -> Result<bool, StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("UPDATE summaries SET state = ");
            qb.push_bind(update.state.as_str())
                .push(", next_at = ")
                .push_bind(update.next_at)
                .push(", sent_at = ")
                .push_bind(update.sent_at)
                .push(", last_error = ")
                .push_bind(update.last_error.clone())
                .push(" WHERE stream_id = ")
                .push_bind(subject)
                .push(" AND target = ")
                .push_bind(target.to_owned())
                .push(" AND attempts = ")
                .push_bind(attempts)
                .push(" AND state = 'sending'");
            Ok(qb.build().execute(pool).await?.rows_affected() == 1)
        })
    }

    /// Every summary of a subject, by target.
    pub async fn summaries(&self, subject: i64) -> Result<Vec<Summary>, StoreError> {
        let rows: Vec<SummaryTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {SUMMARY_COLS} FROM summaries WHERE stream_id = "
            ));
            qb.push_bind(subject).push(" ORDER BY target");
            qb.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(summary_row).collect()
    }

    /// Disables a target for a channel (replacing an earlier record of it).
    pub async fn disable_recap_target(&self, disabled: &DisabledTarget) -> Result<(), StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO recap_disabled (channel_id, target, url_hash, status, disabled_at) VALUES (",
            );
            qb.push_bind(disabled.channel.0)
                .push(", ")
                .push_bind(disabled.target.clone())
                .push(", ")
                .push_bind(disabled.url_hash.clone())
                .push(", ")
                .push_bind(disabled.status)
                .push(", ")
                .push_bind(disabled.disabled_at.0)
                .push(")");
            qb.push(d.upsert("channel_id, target")).push(format!(
                "url_hash = {}, status = {}, disabled_at = {}",
                d.ex("url_hash"),
                d.ex("status"),
                d.ex("disabled_at")
            ));
            qb.build().execute(pool).await?;
        });
        Ok(())
    }

    /// The disabled targets of a channel, by target.
    pub async fn disabled_recap_targets(
        &self,
        channel: ChannelKey,
    ) -> Result<Vec<DisabledTarget>, StoreError> {
        let rows: Vec<(String, String, i64, i64)> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT target, url_hash, status, disabled_at FROM recap_disabled WHERE channel_id = ",
            );
            qb.push_bind(channel.0).push(" ORDER BY target");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(target, url_hash, status, at)| DisabledTarget {
                channel,
                target,
                url_hash,
                status,
                disabled_at: Timestamp(at),
            })
            .collect())
    }
}
