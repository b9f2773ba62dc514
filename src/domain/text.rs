//! Text fields: single-line values (names, titles, rooms) that may carry no control characters
//! at all, and long text (descriptions) whose line ends are normalized to `\n`.

/// A trimmed, non-empty (unless allowed) line of text without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleLine(String);

impl SingleLine {
    /// Parses a required line of at most `max_chars` characters.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, String> {
        let value = Self::parse_optional(raw, max_chars)?;
        if value.0.is_empty() {
            return Err("must not be empty".into());
        }
        Ok(value)
    }

    /// Parses a line that may be empty.
    pub fn parse_optional(raw: &str, max_chars: usize) -> Result<Self, String> {
        let trimmed = raw.trim();
        if let Some(c) = trimmed.chars().find(|c| c.is_control()) {
            return Err(format!(
                "must be a single line without control characters (found U+{:04X})",
                c as u32
            ));
        }
        let count = trimmed.chars().count();
        if count > max_chars {
            return Err(format!(
                "must be at most {max_chars} characters (got {count})"
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for SingleLine {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Multi-line text: CR LF and bare CR become `\n`, tabs are kept, other control characters
/// (NUL included, which PostgreSQL would refuse) are rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongText(String);

impl LongText {
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, String> {
        let normalized = raw.replace("\r\n", "\n").replace('\r', "\n");
        if let Some(c) = normalized
            .chars()
            .find(|c| c.is_control() && *c != '\n' && *c != '\t')
        {
            return Err(format!(
                "must not contain control characters (found U+{:04X})",
                c as u32
            ));
        }
        let trimmed = normalized.trim_end();
        let count = trimmed.chars().count();
        if count > max_chars {
            return Err(format!(
                "must be at most {max_chars} characters (got {count})"
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The non-empty parts, joined with ", " (a place from its venue and address, and the like).
pub fn comma_joined(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn single_line_rejects_line_breaks_and_nul() {
        for bad in [
            "Bob\r\nBcc: x@evil.test",
            "a\nb",
            "a\rb",
            "nul\0byte",
            "tab\there",
            "\u{7f}",
        ] {
            assert!(SingleLine::parse(bad, 100).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn single_line_trims_and_limits_length() {
        assert_eq!(SingleLine::parse("  Ada  ", 10).unwrap().as_str(), "Ada");
        assert!(SingleLine::parse("   ", 10).is_err());
        assert!(
            SingleLine::parse_optional("   ", 10)
                .unwrap()
                .as_str()
                .is_empty()
        );
        assert!(SingleLine::parse("ééééé", 5).is_ok());
        assert!(SingleLine::parse("éééééé", 5).is_err());
    }

    #[test]
    fn long_text_normalizes_line_ends() {
        let text = LongText::parse("one\r\ntwo\rthree\n", 100).unwrap();
        assert_eq!(text.as_str(), "one\ntwo\nthree");
        assert!(LongText::parse("bad\0", 100).is_err());
        assert!(LongText::parse("bell\u{7}", 100).is_err());
    }

    proptest! {
        #[test]
        fn parsed_single_lines_never_hold_control_characters(raw in any::<String>()) {
            if let Ok(line) = SingleLine::parse_optional(&raw, 10_000) {
                prop_assert!(!line.as_str().chars().any(char::is_control));
            }
        }

        #[test]
        fn parsed_long_text_has_no_carriage_returns(raw in any::<String>()) {
            if let Ok(text) = LongText::parse(&raw, 100_000) {
                prop_assert!(!text.as_str().contains('\r'));
                prop_assert!(!text.as_str().contains('\0'));
            }
        }
    }
}
