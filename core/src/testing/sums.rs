//! The check that the sums the database keeps per stream (`stream_sums`) equal the pass over
//! the stream's rows, whatever wrote them.

use crate::domain::Timestamp;
use crate::store::Store;

/// Every stream's counts from its kept sums equal those of a pass over its rows, with no user
/// excluded and with its top chatter and two of its new chatters excluded, at the present time and
/// (for a live stream) a day later and before it began (a clock set back: read by the pass).
/// Returns the number of streams compared.
pub async fn assert_kept_sums(store: &Store) -> usize {
    let mut compared = 0;
    for channel in store.channels().await.expect("channels") {
        for stream in store.streams(channel.key, 10_000).await.expect("streams") {
            let top = store
                .top_chatters(stream.key, &[], 1)
                .await
                .expect("top chatters");
            let mut excluded: Vec<_> = top.iter().map(|u| u.user_id).collect();
            excluded.extend(
                store
                    .new_chatters(&stream, &[], 2)
                    .await
                    .expect("new chatters")
                    .iter()
                    .map(|u| u.user_id),
            );
            let now = Timestamp::now();
            for excluded in [&[][..], &excluded[..]] {
                for at in [
                    now,
                    Timestamp(now.0 + 86_400),
                    Timestamp(stream.started_at.0 - 1),
                ] {
                    let kept = store
                        .stream_counts(&stream, excluded, at)
                        .await
                        .expect("kept sums");
                    let scanned = store
                        .stream_counts_scanned(&stream, excluded, at)
                        .await
                        .expect("pass");
                    assert_eq!(
                        kept, scanned,
                        "stream {} ({:?} excluded, at {}): kept sums differ from the pass",
                        stream.id, excluded, at.0
                    );
                }
                let unique = store
                    .stream_unique(stream.key, excluded)
                    .await
                    .expect("unique");
                let scanned = store
                    .stream_counts_scanned(&stream, excluded, now)
                    .await
                    .expect("pass");
                assert_eq!(unique, scanned.unique, "stream {}: unique", stream.id);
            }
            compared += 1;
        }
    }
    compared
}
