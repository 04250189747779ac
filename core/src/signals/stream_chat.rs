//! [`StreamChat`]: a stream's chat figures, flattened into the stream JSON object.

use serde::{Deserialize, Serialize};

use super::mood::MoodTotals;
use crate::domain::Timestamp;

/// A stream's chat figures, flattened into the stream JSON object (and its frozen copy: a copy
/// frozen before these fields existed reads them as `null`/zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamChat {
    /// Messages in the stream's busiest minute (`null` without messages).
    pub peak_messages_per_minute: Option<i64>,
    /// The first minute reaching it (`null` without messages).
    pub peak_activity_at: Option<Timestamp>,
    /// Messages per mood over the stream.
    pub mood: MoodTotals,
}
