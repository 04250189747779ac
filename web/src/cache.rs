//! The chart cache: rendered PNGs kept until new data arrives for their channel (in process,
//! or in Redis when `REDIS_URL` is set).

/// Rendered charts by key.
#[derive(Debug, Default)]
pub struct ChartCache {
    _private: (),
}
