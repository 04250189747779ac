//! `!viewers`: viewers now, peak viewers, chatters per viewer, current category.

use chatters_core::audience::ViewersNow;

use super::{Context, Reply};

pub(super) async fn answer(ctx: &Context<'_>) -> anyhow::Result<Reply> {
    let Some(now) = ctx.fresh.viewers_now(ctx.channel, ctx.now).await? else {
        return Ok(Reply::new("No stream recorded yet."));
    };
    Ok(Reply::new(text(&now)))
}

/// `1,234 viewers now, peak 1,500, 0.25 chatters per viewer, category: Just Chatting`.
fn text(v: &ViewersNow) -> String {
    let f = &v.figures;
    let Some(latest) = &v.latest else {
        return if v.live {
            "No viewer count yet this stream.".to_owned()
        } else {
            "Offline; the last stream has no viewer count.".to_owned()
        };
    };
    let per_viewer = f
        .chatters_per_viewer
        .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}"));
    let category = if latest.game_name.is_empty() {
        "none".to_owned()
    } else {
        latest.game_name.clone()
    };
    let peak = f.peak_viewers.unwrap_or(latest.viewers);
    if v.live {
        format!(
            "{} viewers now, peak {peak}, {per_viewer} chatters per viewer, category: {category}",
            latest.viewers
        )
    } else {
        format!(
            "Offline. Last stream: peak {peak} viewers, {per_viewer} chatters per viewer, last category: {category}"
        )
    }
}

#[cfg(test)]
mod tests {
    use chatters_core::audience::AudienceFigures;
    use chatters_core::domain::Timestamp;
    use chatters_core::store::Sample;

    use super::*;

    fn now(live: bool, game: &str) -> ViewersNow {
        ViewersNow {
            live,
            latest: Some(Sample {
                at: Timestamp(10),
                viewers: 80,
                game_id: "1".into(),
                game_name: game.into(),
            }),
            figures: AudienceFigures {
                peak_viewers: Some(100),
                chatters_per_viewer: Some(0.25),
                ..AudienceFigures::default()
            },
        }
    }

    #[test]
    fn the_answer_names_viewers_peak_ratio_and_category() {
        assert_eq!(
            text(&now(true, "Just Chatting")),
            "80 viewers now, peak 100, 0.25 chatters per viewer, category: Just Chatting"
        );
        assert_eq!(
            text(&now(false, "")),
            "Offline. Last stream: peak 100 viewers, 0.25 chatters per viewer, last category: none"
        );
    }
}
