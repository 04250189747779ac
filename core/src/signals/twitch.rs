//! Twitch's `emotes` tag: `25:0-4,6-10/1902:12-16` = emote `25` at code points 0–4 and 6–10
//! (two uses), emote `1902` at 12–16. An emote's name is the text at its first position.

use std::sync::Arc;

use super::emote::{Emote, MessageSignals, Provider};

/// A range of code points `[start, end]` (inclusive, as Twitch gives them).
pub(super) type Span = (u32, u32);

/// Adds the tag's emotes to `out` and their positions to `covered`. Malformed parts are
/// skipped; an emote whose first position is outside the text is named by its id.
pub(super) fn read_tag(tag: &str, text: &str, out: &mut MessageSignals, covered: &mut Vec<Span>) {
    for part in tag.split('/') {
        let Some((id, ranges)) = part.split_once(':') else {
            continue;
        };
        if id.is_empty() {
            continue;
        }
        let mut count = 0u32;
        let mut first = None;
        for range in ranges.split(',') {
            let Some((a, b)) = range.split_once('-') else {
                continue;
            };
            let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) else {
                continue;
            };
            if b < a {
                continue;
            }
            count += 1;
            covered.push((a, b));
            first = first.or(Some((a, b)));
        }
        let Some((a, b)) = first else {
            continue;
        };
        let name = slice_chars(text, a, b).unwrap_or(id);
        let emote = Arc::new(Emote {
            provider: Provider::Twitch,
            id: id.into(),
            name: name.into(),
        });
        out.add_emote(&emote, count);
    }
}

/// The text of code points `[a, b]`, if inside `text`.
fn slice_chars(text: &str, a: u32, b: u32) -> Option<&str> {
    let (a, b) = (a as usize, b as usize);
    if text.is_ascii() {
        return text.get(a..=b);
    }
    let mut indices = text.char_indices().map(|(i, _)| i).chain([text.len()]);
    let start = indices.nth(a)?;
    let end = indices.nth(b - a)?;
    text.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(tag: &str, text: &str) -> (Vec<(String, String, u32)>, Vec<Span>) {
        let mut out = MessageSignals::default();
        let mut covered = Vec::new();
        read_tag(tag, text, &mut out, &mut covered);
        let emotes = out
            .emotes
            .iter()
            .map(|u| (u.emote.id.to_string(), u.emote.name.to_string(), u.count))
            .collect();
        (emotes, covered)
    }

    #[test]
    fn several_uses_of_one_emote_count_each() {
        let (emotes, covered) = read("25:0-4,6-10/1902:12-16", "Kappa Kappa Keepo");
        assert_eq!(
            emotes,
            vec![
                ("25".into(), "Kappa".into(), 2),
                ("1902".into(), "Keepo".into(), 1)
            ]
        );
        assert_eq!(covered, vec![(0, 4), (6, 10), (12, 16)]);
    }

    #[test]
    fn positions_are_code_points_not_bytes() {
        // "ü" is two bytes, one code point.
        let (emotes, _) = read("25:5-9", "über Kappa");
        assert_eq!(emotes, vec![("25".into(), "Kappa".into(), 1)]);
        // An emoji before the emote.
        let (emotes, _) = read("305954156:2-9", "🔥 PogChamp");
        assert_eq!(emotes, vec![("305954156".into(), "PogChamp".into(), 1)]);
    }

    #[test]
    fn malformed_parts_are_skipped_and_names_outside_the_text_fall_back_to_the_id() {
        let (emotes, _) = read("x/:1-2/25:a-b,0-4/9:50-60", "Kappa");
        assert_eq!(
            emotes,
            vec![
                ("25".into(), "Kappa".into(), 1),
                ("9".into(), "9".into(), 1)
            ]
        );
    }
}
