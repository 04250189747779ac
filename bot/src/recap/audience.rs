//! The audience lines of a recap (SPEC "Viewers and categories", "Watch time"): viewers (peak
//! and average), chatters per viewer, the categories, average watch time and how many regulars
//! came. `super::content` adds them to its fields and its plain text.

use chatters_core::audience::{AudienceFigures, watch_text};

/// The audience figures as (label, value), in display order (short fields of the recap).
/// `regulars` is how many regulars the stream had.
pub(super) fn fields(f: &AudienceFigures, regulars: i64) -> [(&'static str, String); 5] {
    [
        ("Viewers (peak / avg)", viewers(f)),
        ("Chatters per viewer", per_viewer(f)),
        ("Average watch time", average_watch(f)),
        ("Regulars", regulars_text(f, regulars)),
        ("Categories", categories(f)),
    ]
}

/// The audience sentence of the plain-text recap.
pub(super) fn text(f: &AudienceFigures, regulars: i64) -> String {
    format!(
        "viewers {} (peak / avg), {} chatters per viewer, average watch time {}, {}, categories: {}",
        viewers(f),
        per_viewer(f),
        average_watch(f),
        regulars_text(f, regulars),
        categories(f)
    )
}

fn viewers(f: &AudienceFigures) -> String {
    match (f.peak_viewers, f.avg_viewers) {
        (Some(peak), Some(avg)) => format!("{peak} / {avg}"),
        _ => "n/a".to_owned(),
    }
}

fn per_viewer(f: &AudienceFigures) -> String {
    f.chatters_per_viewer
        .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}"))
}

fn average_watch(f: &AudienceFigures) -> String {
    f.avg_watch_time
        .map_or_else(|| "n/a".to_owned(), watch_text)
}

fn regulars_text(f: &AudienceFigures, regulars: i64) -> String {
    format!("{} of {regulars} regulars came", f.regulars_present)
}

fn categories(f: &AudienceFigures) -> String {
    if f.categories.is_empty() {
        return "n/a".to_owned();
    }
    let mut names: Vec<&str> = Vec::new();
    for c in &f.categories {
        let name = if c.name.is_empty() {
            "no category"
        } else {
            c.name.as_str()
        };
        if names.last() != Some(&name) {
            names.push(name);
        }
    }
    names.join(" → ")
}

#[cfg(test)]
mod tests {
    use chatters_core::audience::Category;
    use chatters_core::domain::Timestamp;

    use super::*;

    #[test]
    fn the_audience_reads_plainly() {
        let run = |name: &str, from| Category {
            game_id: name.to_owned(),
            name: name.to_owned(),
            from: Timestamp(from),
            until: None,
        };
        let f = AudienceFigures {
            peak_viewers: Some(120),
            avg_viewers: Some(95),
            chatters_per_viewer: Some(0.5),
            categories: vec![run("Just Chatting", 0), run("Chess", 10)],
            avg_watch_time: Some(3729),
            regulars_present: 7,
        };
        assert_eq!(
            text(&f, 9),
            "viewers 120 / 95 (peak / avg), 0.50 chatters per viewer, average watch time 1h 02m 09s, \
             7 of 9 regulars came, categories: Just Chatting → Chess"
        );
        assert_eq!(
            text(&AudienceFigures::default(), 0),
            "viewers n/a (peak / avg), n/a chatters per viewer, average watch time n/a, \
             0 of 0 regulars came, categories: n/a"
        );
    }
}
