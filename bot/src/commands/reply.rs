//! Safe chat replies: at most 500 characters, no line breaks or control characters, never
//! starting with `/` or `.` (Twitch would read a command), lists cut with "+N more".

/// Twitch's message length limit, in characters.
pub const MAX_CHARS: usize = 500;

/// A reply that is safe to send as-is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply(String);

impl Reply {
    /// Cleans `text`: control characters become spaces, leading `/`, `.` and spaces are
    /// dropped, and the result is cut to [`MAX_CHARS`] (with an ellipsis).
    pub fn new(text: impl AsRef<str>) -> Self {
        let cleaned: String = text
            .as_ref()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let trimmed =
            cleaned.trim_start_matches(|c: char| c == '/' || c == '.' || c.is_whitespace());
        let trimmed = trimmed.trim_end();
        if trimmed.chars().count() <= MAX_CHARS {
            return Self(trimmed.to_owned());
        }
        let mut cut: String = trimmed.chars().take(MAX_CHARS - 1).collect();
        cut.push('…');
        Self(cut)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `head` followed by as many `items` as fit in [`MAX_CHARS`], joined by `sep`, and
/// " +N more" for the rest.
pub fn list(head: &str, items: &[String], sep: &str) -> Reply {
    let mut out = head.to_owned();
    for (i, item) in items.iter().enumerate() {
        let rest = items.len() - i - 1;
        let more = if rest > 0 {
            format!(" +{rest} more")
        } else {
            String::new()
        };
        let joiner = if i == 0 { "" } else { sep };
        let candidate = out.chars().count() + joiner.chars().count() + item.chars().count();
        let remaining_tail = format!(" +{} more", items.len() - i);
        if candidate + more.chars().count() > MAX_CHARS {
            out.push_str(&remaining_tail);
            return Reply::new(out);
        }
        out.push_str(joiner);
        out.push_str(item);
    }
    Reply::new(out)
}

/// A share as a whole percentage (`42%`), or `n/a`.
pub fn percent(share: Option<f64>) -> String {
    match share {
        Some(s) if s.is_finite() => format!("{}%", (s * 100.0).round() as i64),
        _ => "n/a".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_never_break_lines_or_start_a_command() {
        assert_eq!(
            Reply::new("a\r\nPRIVMSG #x :b").as_str(),
            "a  PRIVMSG #x :b"
        );
        assert_eq!(Reply::new("/ban someone").as_str(), "ban someone");
        assert_eq!(Reply::new(" ..//.me waves").as_str(), "me waves");
        assert_eq!(Reply::new("\u{0}x\u{7}").as_str(), "x");
    }

    #[test]
    fn replies_are_cut_at_500_characters() {
        let r = Reply::new("é".repeat(600));
        assert_eq!(r.as_str().chars().count(), 500);
        assert!(r.as_str().ends_with('…'));
        assert_eq!(Reply::new("x".repeat(500)).as_str().len(), 500);
    }

    #[test]
    fn long_lists_end_with_how_many_more() {
        let items: Vec<String> = (0..200).map(|i| format!("user_number_{i}")).collect();
        let r = list("New: ", &items, ", ");
        assert!(r.as_str().chars().count() <= 500, "{}", r.as_str().len());
        let shown = r.as_str().matches("user_number_").count();
        assert!(
            r.as_str().ends_with(&format!(" +{} more", 200 - shown)),
            "{}",
            r.as_str()
        );
        let short = list("Top: ", &["a (3)".into(), "b (1)".into()], ", ");
        assert_eq!(short.as_str(), "Top: a (3), b (1)");
        assert_eq!(list("Top: ", &[], ", ").as_str(), "Top:");
    }

    #[test]
    fn percentages_round() {
        assert_eq!(percent(Some(0.4)), "40%");
        assert_eq!(percent(Some(0.125)), "13%");
        assert_eq!(percent(None), "n/a");
    }
}
