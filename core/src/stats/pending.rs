//! The uncommitted rows of an [`Overlay`] applied to a stream's figures: which users they
//! touch, their stored and merged rows, and what that changes in the counts, the known bots
//! and the IRC peak. `Figures::stream_with` and [`super::Fresh`] use it.

use crate::domain::{Login, Timestamp, UserId};
use crate::store::{Overlay, PendingRow, Store, StoreError, StoredRow, Stream, StreamCounts};

/// A user the overlay touches in a stream: the stored row (if any) and the merged one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Touched {
    pub(super) user: UserId,
    pub(super) stored: Option<StoredRow>,
    pub(super) merged: StoredRow,
    /// Stored first observation in the channel.
    pub(super) stored_first: Option<Timestamp>,
    /// First observation in the channel, stored and uncommitted together.
    pub(super) first: Option<Timestamp>,
}

/// New to the channel in a stream started at `started`: no observation before it.
fn new_to(channel_first: Option<Timestamp>, started: Timestamp) -> bool {
    channel_first.is_none_or(|f| f >= started)
}

/// The row a commit of `pending` onto `stored` leaves (`marks`: a new row's regular and
/// previous-stream bits), as `Store::commit` writes it.
fn merge(
    stored: Option<&StoredRow>,
    pending: &PendingRow,
    channel_first: Option<Timestamp>,
    started: Timestamp,
    (is_regular, in_previous): (bool, bool),
) -> StoredRow {
    let d = &pending.delta;
    let newly = d.maybe_first && new_to(channel_first, started);
    match stored {
        Some(s) => StoredRow {
            first_seen: s.first_seen.min(d.first_seen),
            last_seen: s.last_seen.max(d.last_seen),
            messages: s.messages + d.messages,
            first_msg: s.first_msg || d.first_msg,
            active: s.active || d.active,
            is_new: s.is_new || newly,
            watch_time: s.watch_time + d.watch,
            open_since: pending.open,
            is_regular: s.is_regular,
            in_previous: s.in_previous,
        },
        None => StoredRow {
            first_seen: d.first_seen,
            last_seen: d.last_seen,
            messages: d.messages,
            first_msg: d.first_msg,
            active: d.active,
            is_new: newly,
            watch_time: d.watch,
            open_since: pending.open,
            is_regular,
            in_previous,
        },
    }
}

/// What one row gives a stream's counts (`open_until`: a live stream's open intervals count
/// up to it; `None` for an ended stream).
fn row_counts(row: &StoredRow, started: Timestamp, open_until: Option<Timestamp>) -> StreamCounts {
    if !row.active {
        return StreamCounts::default();
    }
    let open = match (open_until, row.open_since) {
        (Some(now), Some(since)) if since < now => now.0 - since.0.max(started.0),
        _ => 0,
    };
    StreamCounts {
        unique: 1,
        new: i64::from(row.is_new),
        first_time: i64::from(row.first_msg),
        messages: row.messages,
        lurkers: i64::from(row.messages == 0),
        watched: row.watch_time + open,
        regulars: i64::from(row.is_regular),
        in_previous: i64::from(row.in_previous),
    }
}

/// `a + sign * b`, field by field.
fn add(a: StreamCounts, b: StreamCounts, sign: i64) -> StreamCounts {
    StreamCounts {
        unique: a.unique + sign * b.unique,
        new: a.new + sign * b.new,
        first_time: a.first_time + sign * b.first_time,
        messages: a.messages + sign * b.messages,
        lurkers: a.lurkers + sign * b.lurkers,
        watched: a.watched + sign * b.watched,
        regulars: a.regulars + sign * b.regulars,
        in_previous: a.in_previous + sign * b.in_previous,
    }
}

/// The users of `stream` the overlay touches and `keep` accepts, with their stored and
/// merged rows.
pub(super) async fn touched(
    store: &Store,
    overlay: &Overlay,
    stream: &Stream,
    keep: impl Fn(UserId) -> bool,
) -> Result<Vec<Touched>, StoreError> {
    let pending: Vec<(UserId, &PendingRow)> = overlay
        .stream_rows(stream.key)
        .filter(|(u, _)| keep(*u))
        .collect();
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let mut users: Vec<UserId> = pending.iter().map(|(u, _)| *u).collect();
    users.sort_unstable();
    let stored = store.stream_rows_of(stream.key, &users).await?;
    let stored_firsts = store.channel_first_seen(stream.channel, &users).await?;
    let new_rows: Vec<UserId> = users
        .iter()
        .copied()
        .filter(|u| !stored.contains_key(u))
        .collect();
    let (regulars, previous) = if stream.marked && !new_rows.is_empty() {
        store
            .marks_among(stream.key, stream.previous, &new_rows)
            .await?
    } else {
        Default::default()
    };
    Ok(pending
        .into_iter()
        .map(|(user, row)| {
            let stored_first = stored_firsts.get(&user).copied();
            let first = match (stored_first, overlay.channel_users.get(&user)) {
                (Some(f), Some(d)) => Some(f.min(d.first_seen)),
                (f, d) => f.or(d.map(|d| d.first_seen)),
            };
            let stored = stored.get(&user).copied();
            let merged = merge(
                stored.as_ref(),
                row,
                first,
                stream.started_at,
                (regulars.contains(&user), previous.contains(&user)),
            );
            Touched {
                user,
                stored,
                merged,
                stored_first,
                first,
            }
        })
        .collect())
}

/// `counts` (committed, over users outside `excluded`, sorted) with the overlay's rows of
/// the stream added.
pub(super) async fn counts(
    store: &Store,
    overlay: &Overlay,
    stream: &Stream,
    counts: StreamCounts,
    excluded: &[UserId],
    now: Timestamp,
) -> Result<StreamCounts, StoreError> {
    let touched = touched(store, overlay, stream, |u| {
        excluded.binary_search(&u).is_err()
    })
    .await?;
    let open_until = stream.ended_at.is_none().then_some(now);
    Ok(touched.iter().fold(counts, |sum, t| {
        let before = t
            .stored
            .map(|s| row_counts(&s, stream.started_at, open_until))
            .unwrap_or_default();
        let after = row_counts(&t.merged, stream.started_at, open_until);
        add(add(sum, before, -1), after, 1)
    }))
}

/// Known bots seen in the stream: the committed `count` plus those the overlay makes
/// active (`bots` sorted).
pub(super) async fn known_bots(
    store: &Store,
    overlay: &Overlay,
    stream: &Stream,
    count: i64,
    bots: &[UserId],
) -> Result<i64, StoreError> {
    let touched = touched(store, overlay, stream, |u| bots.binary_search(&u).is_ok()).await?;
    let added = touched
        .iter()
        .filter(|t| t.merged.active && !t.stored.is_some_and(|s| s.active))
        .count();
    Ok(count + i64::try_from(added).unwrap_or(i64::MAX))
}

/// The highest IRC-tracked peak of a stream, committed or not.
pub(super) fn irc_peak(overlay: &Overlay, stream: &Stream) -> i64 {
    overlay
        .peaks
        .get(&stream.key)
        .map_or(stream.irc_peak, |p| stream.irc_peak.max(*p))
}

/// The users the overlay names `wanted` accepts (bots, the broadcaster known only from
/// uncommitted rows).
pub(super) fn named(overlay: &Overlay, wanted: impl Fn(&Login) -> bool) -> Vec<UserId> {
    overlay
        .names
        .iter()
        .filter(|(_, l)| wanted(l))
        .map(|(u, _)| *u)
        .collect()
}
