//! Text fields: single-line values (names, titles, rooms) that may carry no control characters
//! at all, people's names (which strangers can make us mail to anyone, so they may hold no
//! link), and long text (descriptions) whose line ends are normalized to `\n`.

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

/// The message for a person's name that holds something a mail client could show as a link.
pub const NAME_NOT_A_LINK: &str = "must be just a name: web addresses, email addresses, links and the characters < > are not allowed";

/// A person's name as an attendee gives it. The signup mail starts with it and goes to any
/// address the signer typed, so a name must not carry a link, an address or markup: mail
/// clients turn `www.…`, `…://…`, `a@b.c` and bare domains such as `evil.test` into links,
/// in plain text and HTML alike. Dots are fine where names have them (`J.R.R. Tolkien`,
/// `Dr. Ada`), not between two words (`evil.test`) nor between digits (`10.0.0.1`).
pub fn person_name(raw: &str, max_chars: usize) -> Result<SingleLine, String> {
    let name = SingleLine::parse(raw, max_chars)?;
    match link_like_part(name.as_str()) {
        Some(found) => Err(format!("{NAME_NOT_A_LINK} (found \"{found}\")")),
        None => Ok(name),
    }
}

/// Characters that separate domain labels: the ASCII dot and the ones IDNA maps to it.
fn is_dot(c: char) -> bool {
    matches!(c, '.' | '\u{3002}' | '\u{FF0E}' | '\u{FF61}' | '\u{2024}')
}

/// Characters that do not show, with which `evil\u{200B}.test` would look like a domain.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The first part of `text` that a mail client could turn into a link (or that is markup),
/// for the field message; `None` when there is none.
fn link_like_part(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let around = |i: usize| -> String {
        let from = i.saturating_sub(12);
        let to = (i + 13).min(chars.len());
        chars[from..to].iter().collect::<String>().trim().to_owned()
    };
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let after_next = chars.get(i + 2).copied();
        let previous = i.checked_sub(1).map(|j| chars[j]);
        let refused = match c {
            '<' | '>' | '@' | '\u{FF20}' | '\u{FE6B}' => true,
            // `://`, `//host` and `mailto:x`, `tel:+1`: a scheme or a protocol-relative link.
            '/' => next == Some('/'),
            ':' => next.is_some_and(|n| !n.is_whitespace()),
            _ if is_invisible(c) => true,
            _ if is_dot(c) => {
                let word_before = previous.is_some_and(char::is_alphanumeric);
                let digits = previous.is_some_and(|p| p.is_ascii_digit())
                    && next.is_some_and(|n| n.is_ascii_digit());
                let word_after = next.is_some_and(char::is_alphanumeric)
                    && after_next.is_some_and(char::is_alphanumeric);
                digits || (word_before && word_after)
            }
            _ => false,
        };
        if refused {
            return Some(if is_invisible(c) {
                format!("U+{:04X}", c as u32)
            } else {
                around(i)
            });
        }
    }
    None
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

    #[test]
    fn person_names_may_not_hold_links_addresses_or_markup() {
        for bad in [
            "Claim your prize: https://evil.test/win",
            "https://evil.test",
            "www.evil.test",
            "WWW.EVIL.TEST",
            "visit evil.test now",
            "evil.co",
            "t.co",
            "prize at evil\u{3002}test",
            "evil\u{FF0E}test",
            "ada@example.org",
            "ada\u{FF20}example.org",
            "//evil.test",
            "mailto:ada",
            "tel:+123456",
            "<b>Ada</b>",
            "Ada <script>",
            "a > b",
            "10.0.0.1",
            "call 1.2.3.4",
            "пример.рф",
            "evil\u{200B}.test",
            "Ada\u{202E}tset.live",
        ] {
            let refused = person_name(bad, 120);
            assert!(refused.is_err(), "{bad:?} was accepted");
            assert!(
                refused.unwrap_err().starts_with(NAME_NOT_A_LINK),
                "{bad:?} has another message"
            );
        }
    }

    #[test]
    fn person_names_keep_what_real_names_hold() {
        for good in [
            "Ada Lovelace",
            "J.R.R. Tolkien",
            "Dr. Ada King",
            "Ph.D Ada",
            "Ada (she/her)",
            "Team: Rust",
            "O'Brien-Smith",
            "Zoë Ñúñez",
            "李小龙",
            "Grace Hopper, Jr.",
        ] {
            assert!(person_name(good, 120).is_ok(), "{good:?} was refused");
        }
    }

    proptest! {
        #[test]
        fn parsed_single_lines_never_hold_control_characters(raw in any::<String>()) {
            if let Ok(line) = SingleLine::parse_optional(&raw, 10_000) {
                prop_assert!(!line.as_str().chars().any(char::is_control));
            }
        }

        #[test]
        fn accepted_names_hold_no_address_scheme_or_domain(raw in "[a-z.@:/ <>]{0,20}") {
            if let Ok(name) = person_name(&raw, 120) {
                let b = name.as_str().as_bytes();
                prop_assert!(!b.iter().any(|c| matches!(c, b'@' | b'<' | b'>')));
                prop_assert!(!name.as_str().contains("//"));
                let domain_like = b.windows(4).any(|w| {
                    w[0].is_ascii_alphanumeric()
                        && w[1] == b'.'
                        && w[2].is_ascii_alphanumeric()
                        && w[3].is_ascii_alphanumeric()
                });
                prop_assert!(!domain_like);
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
