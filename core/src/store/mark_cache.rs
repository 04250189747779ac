//! The marks of the streams batches write to, loaded once per stream and process (see
//! [`super::marks`]); kept apart from it so that [`super::pool::Store`] can hold the cache
//! without the two files importing each other.

use std::sync::{Arc, Mutex, PoisonError};

use rustc_hash::FxHashMap;

use super::keys::StreamKey;
use crate::domain::UserId;

/// Per user of a marked stream's two sets: [`REGULAR`] and/or [`PREVIOUS`].
pub(super) type Marks = FxHashMap<UserId, u8>;
/// One of the stream's regulars as of its start.
pub(super) const REGULAR: u8 = 1;
/// A unique chatter of the stream's previous stream.
pub(super) const PREVIOUS: u8 = 2;

/// Streams whose marks a cache keeps before it starts over.
const CACHE_LIMIT: usize = 4096;

/// The loaded marks of each stream batches wrote to (`None`: not marked), shared by a
/// store's clones.
#[derive(Debug, Default, Clone)]
pub(crate) struct MarkCache(Arc<Mutex<FxHashMap<StreamKey, Option<Arc<Marks>>>>>);

impl MarkCache {
    pub(super) fn get(&self, stream: StreamKey) -> Option<Option<Arc<Marks>>> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&stream).cloned()
    }

    pub(super) fn put(&self, stream: StreamKey, marks: Option<Arc<Marks>>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= CACHE_LIMIT {
            map.clear();
        }
        map.insert(stream, marks);
    }

    /// Drops what is kept for `streams` (ended, or marked just now).
    pub(super) fn forget(&self, streams: impl IntoIterator<Item = StreamKey>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for s in streams {
            map.remove(&s);
        }
    }
}
