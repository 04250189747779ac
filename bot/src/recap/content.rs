//! What a recap says: one [`Recap`] of a stream's SPEC figures, loaded once through
//! [`Figures`], and its [`Field`]s, which the Discord embed and the Slack blocks both show in
//! the same order and wording.

use chatters_core::domain::Login;
use chatters_core::signals::EmoteFigure;
use chatters_core::stats::{AccountDay, Figures, RaidFigures, StreamFigures};
use chatters_core::store::{Channel, StoreError, Stream, UserCount};

/// Top chatters shown.
pub const TOP_CHATTERS: i64 = 5;
/// Top emotes shown.
pub const TOP_EMOTES: i64 = 3;

/// A stream's recap.
#[derive(Debug, Clone, PartialEq)]
pub struct Recap {
    /// Channel.
    pub login: Login,
    /// The stream's figures.
    pub figures: StreamFigures,
    /// Top chatters by messages (at most [`TOP_CHATTERS`]).
    pub top: Vec<UserCount>,
    /// Raids received, with their retention.
    pub raids: Vec<RaidFigures>,
    /// Flagged account-age days (bot-farm signal).
    pub flagged: Vec<AccountDay>,
    /// The most used emotes (at most [`TOP_EMOTES`]).
    pub emotes: Vec<EmoteFigure>,
    /// Public URL of the stream chart (`{PUBLIC_BASE_URL}/c/{login}/streams/{id}.png`).
    pub chart_url: String,
    /// Regulars of the channel as of the stream's start.
    pub regulars: i64,
}

/// One labelled figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Label.
    pub name: &'static str,
    /// Value, as shown.
    pub value: String,
    /// Short enough to sit beside others (Discord `inline`, Slack section field).
    pub short: bool,
}

impl Field {
    fn short(name: &'static str, value: impl ToString) -> Self {
        Self {
            name,
            value: value.to_string(),
            short: true,
        }
    }

    fn long(name: &'static str, lines: Vec<String>) -> Self {
        Self {
            name,
            value: if lines.is_empty() {
                "none".to_owned()
            } else {
                lines.join("\n")
            },
            short: false,
        }
    }
}

impl Recap {
    /// Loads every figure of an ended stream.
    pub async fn load(
        figures: &Figures,
        channel: &Channel,
        stream: &Stream,
        public_base_url: &str,
    ) -> Result<Self, StoreError> {
        let stream_figures = figures.stream(stream).await?;
        let top = figures.top_chatters(stream, TOP_CHATTERS).await?;
        let raids = figures.raids(stream).await?;
        let flagged = figures
            .accounts_stream(stream)
            .await?
            .days
            .into_iter()
            .filter(|d| d.flagged)
            .collect();
        let (regulars, _) = figures.stream_regulars(stream).await?;
        let emotes = figures.stream_emotes(stream, TOP_EMOTES).await?;
        Ok(Self {
            login: channel.login.clone(),
            figures: stream_figures,
            top,
            raids,
            flagged,
            emotes,
            chart_url: chart_url(public_base_url, &channel.login, stream),
            regulars,
        })
    }

    /// `login: stream title` (`login: stream` without a title).
    pub fn title(&self) -> String {
        let title = self.figures.title.trim();
        if title.is_empty() {
            format!("{}: stream", self.login)
        } else {
            format!("{}: {title}", self.login)
        }
    }

    /// `2026-11-25 18:00 – 20:30 UTC`.
    pub fn period(&self) -> String {
        let start = self.figures.started_at.to_datetime();
        match self.figures.ended_at {
            Some(end) => {
                let end = end.to_datetime();
                let end_format = if end.date_naive() == start.date_naive() {
                    "%H:%M"
                } else {
                    "%Y-%m-%d %H:%M"
                };
                format!(
                    "{} – {} UTC",
                    start.format("%Y-%m-%d %H:%M"),
                    end.format(end_format)
                )
            }
            None => format!("{} UTC – live", start.format("%Y-%m-%d %H:%M")),
        }
    }

    /// Every figure, labelled, in display order.
    pub fn fields(&self) -> Vec<Field> {
        let f = &self.figures;
        let duration = f.ended_at.map_or(0, |end| end.0 - f.started_at.0);
        let mut fields = vec![
            Field::short("Duration", duration_text(duration)),
            Field::short("Unique chatters", f.unique_chatters),
            Field::short("New chatters", f.new_chatters),
            Field::short("Returning chatters", f.returning_chatters),
            Field::short("First-time chatters", f.first_time_chatters),
            Field::short("Peak chatters", f.peak_chatters),
            Field::short("Messages", f.messages),
            Field::short("Lurkers", f.lurkers),
            Field::short(
                "Retention vs previous stream",
                f.retention
                    .map_or_else(|| "first stream".to_owned(), percent),
            ),
        ];
        fields.extend(
            super::audience::fields(&f.audience, self.regulars)
                .into_iter()
                .map(|(name, value)| Field::short(name, value)),
        );
        fields.extend([
            Field::long(
                "Top chatters",
                self.top
                    .iter()
                    .enumerate()
                    .map(|(i, u)| format!("{}. {} ({})", i + 1, u.login, u.count))
                    .collect(),
            ),
            Field::long(
                "Top emotes",
                self.emotes
                    .iter()
                    .enumerate()
                    .map(|(i, e)| format!("{}. {} ({})", i + 1, e.name, e.count))
                    .collect(),
            ),
            Field::long("Raids received", self.raids.iter().map(raid_text).collect()),
            Field::long(
                "Flagged account-age days",
                self.flagged
                    .iter()
                    .map(|d| format!("{}: {} accounts", d.date, d.count))
                    .collect(),
            ),
        ]);
        fields
    }

    /// The plain-text version (Slack's notification fallback).
    pub fn text(&self) -> String {
        let f = &self.figures;
        format!(
            "Stream recap {} ({}): {} unique chatters ({} new, {} returning, {} first-time), \
             peak {}, {} messages, {} lurkers, retention {}; {}. Chart: {}",
            self.title(),
            self.period(),
            f.unique_chatters,
            f.new_chatters,
            f.returning_chatters,
            f.first_time_chatters,
            f.peak_chatters,
            f.messages,
            f.lurkers,
            f.retention
                .map_or_else(|| "n/a (first stream)".to_owned(), percent),
            super::audience::text(&f.audience, self.regulars),
            self.chart_url,
        )
    }
}

/// `{base}/c/{login}/streams/{id}.png`.
pub fn chart_url(public_base_url: &str, login: &Login, stream: &Stream) -> String {
    format!(
        "{}/c/{login}/streams/{}.png",
        public_base_url.trim_end_matches('/'),
        stream.id
    )
}

/// `2h 05m`, `45m`.
pub fn duration_text(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    let (h, m) = (minutes / 60, minutes % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else {
        format!("{m}m")
    }
}

/// `66.7%` (one decimal).
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

fn raid_text(r: &RaidFigures) -> String {
    let retention = match r.retention {
        Some(x) => format!("retention {} of {} arrivals", percent(x), r.arrivals),
        None => "retention n/a (no arrivals)".to_owned(),
    };
    format!(
        "{} at {} UTC: {} viewers, {retention}",
        r.from_login,
        r.at.to_datetime().format("%H:%M"),
        r.viewers
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_shares_are_shown_plainly() {
        assert_eq!(duration_text(3_600), "1h 00m");
        assert_eq!(duration_text(7_500), "2h 05m");
        assert_eq!(duration_text(59), "0m");
        assert_eq!(duration_text(-5), "0m");
        assert_eq!(percent(0.5), "50.0%");
        assert_eq!(percent(2.0 / 3.0), "66.7%");
    }
}
