//! A stream's counts from the sums the database keeps for it (`stream_sums`, migration 0011):
//! triggers on `stream_users` add each written row's share and take away the share of the row
//! it replaced, so the sums equal the pass over the stream's active rows
//! ([`Store::stream_counts_scanned`]) and a figures request reads one row instead of 100,000.
//! Excluded users (the broadcaster, the bot, known bots) are taken away by key, as before.

use super::dialect::{Dialect, id_list};
use super::error::StoreError;
use super::figures::{first, open_watch};
use super::keys::StreamKey;
use super::pool::Store;
use super::streams::Stream;
use crate::domain::{Timestamp, UserId};

/// Raw per-stream aggregates, over users not in the excluded set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamCounts {
    /// Users with a non-part observation.
    pub unique: i64,
    /// Of those, first observed ever in the channel during the stream.
    pub new: i64,
    /// Users whose message carried `first-msg=1`.
    pub first_time: i64,
    /// Messages.
    pub messages: i64,
    /// Unique users without a message.
    pub lurkers: i64,
    /// Their watch time, seconds (a live stream's open intervals up to the time asked).
    pub watched: i64,
    /// Of them, regulars of the stream as of its start (marked streams only, else 0).
    pub regulars: i64,
    /// Of them, unique chatters of the stream's recorded previous stream (marked streams
    /// only, else 0).
    pub in_previous: i64,
}

impl std::ops::SubAssign for StreamCounts {
    /// Takes away the counts of some of the rows (the excluded users').
    fn sub_assign(&mut self, part: Self) {
        self.unique -= part.unique;
        self.new -= part.new;
        self.first_time -= part.first_time;
        self.messages -= part.messages;
        self.lurkers -= part.lurkers;
        self.watched -= part.watched;
        self.regulars -= part.regulars;
        self.in_previous -= part.in_previous;
    }
}

/// The kept sums of one stream's active rows (`stream_sums`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kept {
    counts: StreamCounts,
    /// Rows with an open presence interval.
    open_rows: i64,
    /// Σ max(open_since, started_at) over them.
    open_from: i64,
    /// At least every such value ever summed.
    open_last: i64,
}

/// The aggregates of [`StreamCounts`] over rows of `stream_users` (a live stream's open
/// intervals counted up to `now`), in [`StreamCounts`]' order.
pub(super) fn count_columns(d: Dialect, stream: &Stream, now: Timestamp) -> String {
    let open = if stream.ended_at.is_none() {
        open_watch(d, "", &stream.started_at.0.to_string(), now)
    } else {
        "0".to_owned()
    };
    [
        "COUNT(*)".to_owned(),
        "COALESCE(SUM(is_new), 0)".to_owned(),
        "COALESCE(SUM(first_msg), 0)".to_owned(),
        "COALESCE(SUM(messages), 0)".to_owned(),
        "COALESCE(SUM(CASE WHEN messages = 0 THEN 1 ELSE 0 END), 0)".to_owned(),
        format!("COALESCE(SUM(watch_time + {open}), 0)"),
        "COALESCE(SUM(is_regular), 0)".to_owned(),
        "COALESCE(SUM(in_previous), 0)".to_owned(),
    ]
    .iter()
    .map(|c| d.int(c))
    .collect::<Vec<_>>()
    .join(", ")
}

/// [`StreamCounts`] from a row of its eight aggregates.
pub(super) fn counts_of(sums: &[i64]) -> Result<StreamCounts, StoreError> {
    let &[
        unique,
        new,
        first_time,
        messages,
        lurkers,
        watched,
        regulars,
        in_previous,
    ] = sums
    else {
        return Err(StoreError::Corrupt {
            column: "stream_users",
            value: format!("{} sums", sums.len()),
        });
    };
    Ok(StreamCounts {
        unique,
        new,
        first_time,
        messages,
        lurkers,
        watched,
        regulars,
        in_previous,
    })
}

impl Store {
    /// [`Store::stream_counts`] by a pass over the stream's rows, as before the kept sums
    /// (migration 0011): what the sums must equal (the tests compare them), and the read when
    /// they cannot answer.
    pub async fn stream_counts_scanned(
        &self,
        stream: &Stream,
        excluded: &[UserId],
        now: Timestamp,
    ) -> Result<StreamCounts, StoreError> {
        let cols = count_columns(self.dialect(), stream, now);
        counts_of(&self.active_sums(stream.key, &cols, excluded).await?)
    }

    /// [`Store::stream_unique`] by a pass over the stream's rows.
    pub(super) async fn stream_unique_scanned(
        &self,
        stream: StreamKey,
        excluded: &[UserId],
    ) -> Result<i64, StoreError> {
        let d = self.dialect();
        let sums = self
            .active_sums(stream, &d.int("COUNT(*)"), excluded)
            .await?;
        first(&sums)
    }

    /// Aggregates of a stream over users outside `excluded`, its watch time included (a live
    /// stream's open intervals count up to `now`): the kept sums less the excluded users' rows.
    /// Equal to [`Store::stream_counts_scanned`]; read that way only when `now` is earlier than
    /// an open interval's start (a clock set back), where the kept sums cannot clip it.
    pub async fn stream_counts(
        &self,
        stream: &Stream,
        excluded: &[UserId],
        now: Timestamp,
    ) -> Result<StreamCounts, StoreError> {
        let live = stream.ended_at.is_none();
        let Some(kept) = self.kept_sums(stream.key).await? else {
            return self.stream_counts_scanned(stream, excluded, now).await;
        };
        if live && now.0 < kept.open_last {
            return self.stream_counts_scanned(stream, excluded, now).await;
        }
        let mut counts = kept.counts;
        if live {
            counts.watched += kept.open_rows * now.0 - kept.open_from;
        }
        if !excluded.is_empty() {
            let sql = format!(
                "SELECT {} FROM stream_users WHERE stream_id = {} AND active = 1 AND user_id IN {}",
                count_columns(self.dialect(), stream, now),
                stream.key.0,
                id_list(excluded),
            );
            counts -= counts_of(&self.int_row(sql).await?)?;
        }
        Ok(counts)
    }

    /// Unique chatters of a stream outside `excluded`.
    pub async fn stream_unique(
        &self,
        stream: StreamKey,
        excluded: &[UserId],
    ) -> Result<i64, StoreError> {
        match self.kept_sums(stream).await? {
            Some(kept) if excluded.is_empty() => Ok(kept.counts.unique),
            Some(kept) => {
                let sql = format!(
                    "SELECT {} FROM stream_users WHERE stream_id = {} AND active = 1 AND user_id IN {}",
                    self.dialect().int("COUNT(*)"),
                    stream.0,
                    id_list(excluded),
                );
                Ok(kept.counts.unique - self.int_one(sql).await?)
            }
            None => self.stream_unique_scanned(stream, excluded).await,
        }
    }

    /// The stream's kept sums (`None` for a stream without them: none is, since migration 0011
    /// fills them for every stream and a trigger adds them for each new one).
    async fn kept_sums(&self, stream: StreamKey) -> Result<Option<Kept>, StoreError> {
        let sql = format!(
            "SELECT chatters, new_chatters, first_msgs, messages, lurkers, watch_time, regulars, \
             in_previous, open_rows, open_from, open_last FROM stream_sums WHERE stream_id = {}",
            stream.0
        );
        let rows = self.int_rows(sql).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let (counts, open) = row.split_at(row.len().min(8));
        let &[open_rows, open_from, open_last] = open else {
            return Err(StoreError::Corrupt {
                column: "stream_sums",
                value: format!("{} columns", row.len()),
            });
        };
        Ok(Some(Kept {
            counts: counts_of(counts)?,
            open_rows,
            open_from,
            open_last,
        }))
    }
}
