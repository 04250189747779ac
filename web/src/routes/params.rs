//! The one query parser of every route (JSON API, export, charts, share page) and the path
//! parameters of the JSON API, read by hand so that every bad value is a 400 JSON error naming the
//! parameter and what it accepts (axum's own rejections are plain text).

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use chatters_core::charts::{ChartSpec, Range, SpecError};
use chatters_core::domain::{Login, Timestamp};
use chatters_core::export::parse_time;

use crate::error::ApiError;

/// A 400 answer for parameter `name`, saying what it accepts.
pub(crate) fn bad_parameter(name: &str, accepts: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_parameter",
        format!("`{name}` must be {accepts}"),
    )
}

/// A path that did not decode (bad percent-encoding) is a bad parameter too.
pub(crate) fn path<T>(extracted: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    extracted
        .map(|Path(value)| value)
        .map_err(|_| bad_parameter("path", "percent-encoded UTF-8"))
}

/// A login from the path.
pub(crate) fn login(raw: &str) -> Result<Login, ApiError> {
    Login::parse(raw).map_err(|_| bad_parameter("login", "1-25 characters of a-z, 0-9 or _"))
}

/// A 400 answer for a bad chart parameter, in the chart specification's own words
/// (`w must be between 200 and 2400`).
fn bad_chart_parameter(error: SpecError) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", error.to_string())
}

/// The decoded query string (`a=1&b=2`). The first occurrence of a name wins; unknown names
/// are ignored (e.g. cache busters).
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes a raw query (`None`: no query at all).
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(
            raw.map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    /// The value of `name`, when present.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A time bound: RFC 3339, or a duration back from `now` (`7d`).
    pub(crate) fn time(&self, name: &str, now: Timestamp) -> Result<Option<Timestamp>, ApiError> {
        self.get(name)
            .map(|value| {
                parse_time(value, now).map_err(|_| {
                    bad_parameter(
                        name,
                        "an RFC 3339 time (2026-11-25T18:00:00Z) or a duration back from now like 7d",
                    )
                })
            })
            .transpose()
    }

    /// `since` and `until` with their defaults; `since` after `until` is a 400.
    pub(crate) fn window(
        &self,
        now: Timestamp,
        default_since: Timestamp,
        default_until: Timestamp,
    ) -> Result<(Timestamp, Timestamp), ApiError> {
        let since = self.time("since", now)?.unwrap_or(default_since);
        let until = self.time("until", now)?.unwrap_or(default_until);
        if since > until {
            return Err(bad_parameter("since", "before `until`"));
        }
        Ok((since, until))
    }

    /// One of `allowed` (the first is the default when absent).
    pub(crate) fn one_of<'a>(&self, name: &str, allowed: &[&'a str]) -> Result<&'a str, ApiError> {
        let Some(value) = self.get(name) else {
            return Ok(allowed.first().copied().unwrap_or_default());
        };
        allowed
            .iter()
            .copied()
            .find(|a| *a == value)
            .ok_or_else(|| bad_parameter(name, &format!("one of {}", allowed.join(", "))))
    }

    /// An integer in `min..=max`, `default` when absent.
    pub(crate) fn int(
        &self,
        name: &str,
        min: i64,
        max: i64,
        default: i64,
    ) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| bad_parameter(name, &format!("an integer from {min} to {max}"))),
        }
    }

    /// A chart's size and theme from `w`, `h` and `theme`, each with its default.
    pub(crate) fn chart_spec(&self) -> Result<ChartSpec, ApiError> {
        ChartSpec::parse(self.get("w"), self.get("h"), self.get("theme"))
            .map_err(bad_chart_parameter)
    }

    /// A chart's time range from `range` (default 24 hours).
    pub(crate) fn chart_range(&self) -> Result<Range, ApiError> {
        self.get("range")
            .map_or(Ok(Range::default()), Range::parse)
            .map_err(bad_chart_parameter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_decoded_and_the_first_occurrence_wins() {
        let p = Params::parse(Some(
            "since=2026-11-25T18%3A00%3A00%2B01%3A00&format=csv&format=json",
        ));

        assert_eq!(p.get("since"), Some("2026-11-25T18:00:00+01:00"));
        assert_eq!(p.get("format"), Some("csv"));
        assert_eq!(p.get("until"), None);
    }

    #[test]
    fn bad_values_name_the_parameter_and_what_it_accepts() {
        let p = Params::parse(Some("since=soon&format=xml&limit=0"));
        let now = Timestamp(1_800_000_000);

        let since = p.time("since", now).expect_err("bad since");
        let format = p
            .one_of("format", &["json", "csv"])
            .expect_err("bad format");
        let limit = p.int("limit", 1, 1000, 100).expect_err("bad limit");

        assert_eq!(since.status, StatusCode::BAD_REQUEST);
        assert_eq!(since.code, "bad_parameter");
        assert_eq!(
            since.message,
            "`since` must be an RFC 3339 time (2026-11-25T18:00:00Z) or a duration back from now like 7d"
        );
        assert_eq!(format.message, "`format` must be one of json, csv");
        assert_eq!(limit.message, "`limit` must be an integer from 1 to 1000");
    }

    #[test]
    fn since_after_until_is_refused() {
        let p = Params::parse(Some("since=1d&until=2d"));

        let error = p
            .window(Timestamp(1_800_000_000), Timestamp(0), Timestamp(1))
            .expect_err("inverted");

        assert_eq!(error.message, "`since` must be before `until`");
    }

    #[test]
    fn chart_parameters_use_the_chart_specifications_words() {
        let p = Params::parse(Some("w=10&h=300&theme=dark&range=1y&range=7d"));

        let spec = p.chart_spec().expect_err("bad width");
        let range = p.chart_range().expect_err("the first range wins");

        assert_eq!(spec.status, StatusCode::BAD_REQUEST);
        assert_eq!(spec.code, "bad_parameter");
        assert_eq!(spec.message, "w must be between 200 and 2400");
        assert_eq!(range.message, "range must be one of 24h, 7d, 30d");
        assert_eq!(
            Params::parse(None).chart_range().ok(),
            Some(Range::default())
        );
    }
}
