//! [`ChartError`]: why a chart could not be drawn.

/// Why a chart could not be drawn. None of these follow from the data or the spec: they are
/// bugs or resource failures, answered as internal errors.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The embedded font did not parse.
    #[error("the embedded chart font could not be loaded")]
    Font,
    /// plotters failed to draw.
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    /// The PNG encoder failed.
    #[error("encoding the chart as PNG failed: {0}")]
    Encode(#[from] png::EncodingError),
}
