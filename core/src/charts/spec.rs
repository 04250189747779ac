//! What a chart request may ask for: size, theme and time range, validated once.

use std::fmt;
use std::ops::RangeInclusive;

/// A chart parameter that is out of range or unknown. The message names the parameter and what
/// it accepts; it is safe to show to anyone (it never echoes the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// `w` is not an integer in [`ChartSpec::WIDTHS`].
    #[error("w must be between 200 and 2400")]
    Width,
    /// `h` is not an integer in [`ChartSpec::HEIGHTS`].
    #[error("h must be between 150 and 1600")]
    Height,
    /// `theme` is neither `light` nor `dark`.
    #[error("theme must be light or dark")]
    Theme,
    /// `range` is not one of `24h`, `7d`, `30d`.
    #[error("range must be one of 24h, 7d, 30d")]
    Range,
}

impl SpecError {
    /// The query parameter at fault (`w`, `h`, `theme`, `range`).
    pub fn parameter(self) -> &'static str {
        match self {
            Self::Width => "w",
            Self::Height => "h",
            Self::Theme => "theme",
            Self::Range => "range",
        }
    }
}

/// Colours of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Theme {
    /// Dark lines on white (the default).
    #[default]
    Light,
    /// Light lines on near-black.
    Dark,
}

impl Theme {
    /// Parses `light` or `dark`.
    pub fn parse(s: &str) -> Result<Self, SpecError> {
        match s {
            "light" => Ok(Self::Light),
            "dark" => Ok(Self::Dark),
            _ => Err(SpecError::Theme),
        }
    }

    /// The query-string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }
}

impl fmt::Display for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The time span of a channel's chatter chart, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Range {
    /// The last 24 hours (the default).
    #[default]
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
}

impl Range {
    /// Parses `24h`, `7d` or `30d`.
    pub fn parse(s: &str) -> Result<Self, SpecError> {
        match s {
            "24h" => Ok(Self::Day),
            "7d" => Ok(Self::Week),
            "30d" => Ok(Self::Month),
            _ => Err(SpecError::Range),
        }
    }

    /// The query-string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
        }
    }

    /// Length in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Self::Day => 24 * 3600,
            Self::Week => 7 * 24 * 3600,
            Self::Month => 30 * 24 * 3600,
        }
    }

    /// How a chart caption names it ("last 24 hours").
    pub fn describe(self) -> &'static str {
        match self {
            Self::Day => "last 24 hours",
            Self::Week => "last 7 days",
            Self::Month => "last 30 days",
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Size and theme of one chart image, within the limits SPEC settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChartSpec {
    width: u32,
    height: u32,
    theme: Theme,
}

impl Default for ChartSpec {
    /// 1200×600, light.
    fn default() -> Self {
        Self {
            width: 1200,
            height: 600,
            theme: Theme::Light,
        }
    }
}

impl ChartSpec {
    /// Accepted widths in pixels.
    pub const WIDTHS: RangeInclusive<u32> = 200..=2400;
    /// Accepted heights in pixels.
    pub const HEIGHTS: RangeInclusive<u32> = 150..=1600;

    /// A spec from already-typed values.
    pub fn new(width: u32, height: u32, theme: Theme) -> Result<Self, SpecError> {
        if !Self::WIDTHS.contains(&width) {
            return Err(SpecError::Width);
        }
        if !Self::HEIGHTS.contains(&height) {
            return Err(SpecError::Height);
        }
        Ok(Self {
            width,
            height,
            theme,
        })
    }

    /// Parses the `w`, `h` and `theme` query values; a missing one takes its default
    /// (1200, 600, light). Checked in that order: the first bad one is reported.
    pub fn parse(w: Option<&str>, h: Option<&str>, theme: Option<&str>) -> Result<Self, SpecError> {
        let defaults = Self::default();
        let width = match w {
            Some(s) => dimension(s, Self::WIDTHS).ok_or(SpecError::Width)?,
            None => defaults.width,
        };
        let height = match h {
            Some(s) => dimension(s, Self::HEIGHTS).ok_or(SpecError::Height)?,
            None => defaults.height,
        };
        let theme = match theme {
            Some(s) => Theme::parse(s)?,
            None => defaults.theme,
        };
        Self::new(width, height, theme)
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Colours.
    pub fn theme(&self) -> Theme {
        self.theme
    }
}

/// A decimal integer within `range` (no sign, no spaces, at most 5 digits).
fn dimension(s: &str, range: RangeInclusive<u32>) -> Option<u32> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| range.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_parameters_take_the_defaults() {
        assert_eq!(ChartSpec::parse(None, None, None), Ok(ChartSpec::default()));
        let spec = ChartSpec::default();
        assert_eq!(
            (spec.width(), spec.height(), spec.theme()),
            (1200, 600, Theme::Light)
        );
        assert_eq!(Range::default(), Range::Day);
    }

    #[test]
    fn limits_are_inclusive() {
        let small = ChartSpec::parse(Some("200"), Some("150"), Some("dark")).expect("valid");
        assert_eq!(
            (small.width(), small.height(), small.theme()),
            (200, 150, Theme::Dark)
        );
        let large = ChartSpec::parse(Some("2400"), Some("1600"), Some("light")).expect("valid");
        assert_eq!((large.width(), large.height()), (2400, 1600));
    }

    /// `w`, `h`, `theme` as given in a query, and the error expected.
    type Case = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        SpecError,
    );

    #[test]
    fn each_bad_value_names_its_parameter() {
        let cases: &[Case] = &[
            (Some("199"), None, None, SpecError::Width),
            (Some("2401"), None, None, SpecError::Width),
            (Some(""), None, None, SpecError::Width),
            (Some("abc"), None, None, SpecError::Width),
            (Some("-300"), None, None, SpecError::Width),
            (Some("+300"), None, None, SpecError::Width),
            (Some("1e3"), None, None, SpecError::Width),
            (Some("99999999999999999999"), None, None, SpecError::Width),
            (None, Some("149"), None, SpecError::Height),
            (None, Some("1601"), None, SpecError::Height),
            (None, Some("12.5"), None, SpecError::Height),
            (None, None, Some("blue"), SpecError::Theme),
            (None, None, Some("Dark"), SpecError::Theme),
            (None, None, Some(""), SpecError::Theme),
        ];
        for (w, h, theme, expected) in cases {
            assert_eq!(
                ChartSpec::parse(*w, *h, *theme),
                Err(*expected),
                "{w:?} {h:?} {theme:?}"
            );
        }
    }

    #[test]
    fn messages_name_the_parameter_and_what_it_accepts() {
        assert_eq!(
            SpecError::Width.to_string(),
            "w must be between 200 and 2400"
        );
        assert_eq!(
            SpecError::Height.to_string(),
            "h must be between 150 and 1600"
        );
        assert_eq!(SpecError::Theme.to_string(), "theme must be light or dark");
        assert_eq!(
            SpecError::Range.to_string(),
            "range must be one of 24h, 7d, 30d"
        );
        for e in [
            SpecError::Width,
            SpecError::Height,
            SpecError::Theme,
            SpecError::Range,
        ] {
            assert!(e.to_string().starts_with(e.parameter()), "{e}");
        }
    }

    #[test]
    fn ranges_parse_and_print_their_query_form() {
        for (s, range, secs) in [
            ("24h", Range::Day, 86_400),
            ("7d", Range::Week, 604_800),
            ("30d", Range::Month, 2_592_000),
        ] {
            assert_eq!(Range::parse(s), Ok(range));
            assert_eq!(range.as_str(), s);
            assert_eq!(range.seconds(), secs);
        }
        for bad in ["", "1d", "24H", "30", "week"] {
            assert_eq!(Range::parse(bad), Err(SpecError::Range), "{bad:?}");
        }
    }
}
