//! RFC 5545 content lines: TEXT escaping, parameter quoting, and folding at 75 octets without
//! splitting a UTF-8 character. Every line ends with CR LF.

/// Escapes a TEXT value. Line ends (CR LF, bare CR, bare LF) become `\n`; backslash, semicolon
/// and comma are escaped; the colon is not. Control characters other than tab, which
/// iCalendar does not allow, are dropped.
pub fn escape_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value: double quotes and control characters cannot appear at all, and a value
/// holding `:`, `;` or `,` is quoted.
pub fn param_value(raw: &str) -> String {
    // A caret is written twice (RFC 6868), so that no reader turns `^n` in a name into a
    // new line.
    let cleaned: String = raw
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect::<String>()
        .replace('^', "^^");
    if cleaned.contains([':', ';', ',']) {
        format!("\"{cleaned}\"")
    } else {
        cleaned
    }
}

const MAX_OCTETS: usize = 75;

/// Appends `line` folded: no physical line longer than 75 octets, continuation lines starting
/// with one space, a multi-byte character never split, CR LF after each.
pub fn push_folded(out: &mut String, line: &str) {
    let mut budget = MAX_OCTETS;
    let mut used = 0;
    for c in line.chars() {
        let width = c.len_utf8();
        if used + width > budget {
            out.push_str("\r\n ");
            // The leading space counts toward the continuation line's 75 octets.
            budget = MAX_OCTETS - 1;
            used = 0;
        }
        out.push(c);
        used += width;
    }
    out.push_str("\r\n");
}

/// Builds a calendar object line by line.
#[derive(Debug, Default)]
pub struct ContentWriter {
    out: String,
    line: String,
}

impl ContentWriter {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            out: String::with_capacity(capacity),
            line: String::with_capacity(256),
        }
    }

    /// A property whose value is already in its final form (dates, numbers, URIs, names).
    pub fn raw(&mut self, name: &str, params: &[(&str, &str)], value: &str) {
        self.line.clear();
        self.line.push_str(name);
        for (key, val) in params {
            self.line.push(';');
            self.line.push_str(key);
            self.line.push('=');
            self.line.push_str(&param_value(val));
        }
        self.line.push(':');
        // A raw value cannot carry a line break into the output.
        self.line
            .extend(value.chars().filter(|c| *c != '\r' && *c != '\n'));
        push_folded(&mut self.out, &self.line);
    }

    /// A TEXT property, escaped.
    pub fn text(&mut self, name: &str, value: &str) {
        let escaped = escape_text(value);
        self.raw(name, &[], &escaped);
    }

    pub fn begin(&mut self, component: &str) {
        self.raw("BEGIN", &[], component);
    }

    pub fn end(&mut self, component: &str) {
        self.raw("END", &[], component);
    }

    /// Lines this writer made before (a whole component, already folded).
    pub fn append(&mut self, lines: &str) {
        self.out.push_str(lines);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reverses folding and TEXT escaping, as a calendar client does.
    pub(crate) fn unfold(text: &str) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for physical in text.split("\r\n") {
            if let Some(rest) = physical.strip_prefix(' ') {
                lines
                    .last_mut()
                    .expect("a continuation follows a line")
                    .push_str(rest);
            } else if !physical.is_empty() {
                lines.push(physical.to_owned());
            }
        }
        lines
    }

    pub(crate) fn unescape(value: &str) -> String {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') | Some('N') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn text_escaping() {
        assert_eq!(escape_text("a, b; c\\d: e"), "a\\, b\\; c\\\\d: e");
        assert_eq!(
            escape_text("one\r\ntwo\rthree\nfour"),
            "one\\ntwo\\nthree\\nfour"
        );
        assert_eq!(escape_text("bell\u{7}nul\0"), "bellnul");
        assert_eq!(escape_text("x\r\nBEGIN:VALARM\r\n"), "x\\nBEGIN:VALARM\\n");
    }

    #[test]
    fn parameters_are_quoted_when_needed() {
        assert_eq!(param_value("Europe/Berlin"), "Europe/Berlin");
        assert_eq!(param_value("a:b"), "\"a:b\"");
        assert_eq!(param_value("say \"hi\";"), "\"say hi;\"");
    }

    #[test]
    fn folding_respects_75_octets_and_characters() {
        let mut out = String::new();
        let line = format!("SUMMARY:{}", "日本語のタイトル🎉".repeat(20));
        push_folded(&mut out, &line);
        for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(
                physical.len() <= 75,
                "{} octets: {physical}",
                physical.len()
            );
        }
        assert!(out.ends_with("\r\n"));
        assert!(!out.replace("\r\n", "").contains('\r'));
        assert_eq!(unfold(&out), vec![line]);
    }

    #[test]
    fn a_short_line_is_not_folded() {
        let mut out = String::new();
        push_folded(&mut out, &format!("X:{}", "a".repeat(73)));
        assert_eq!(out.matches("\r\n").count(), 1);
        let mut out = String::new();
        push_folded(&mut out, &format!("X:{}", "a".repeat(74)));
        assert_eq!(out.matches("\r\n").count(), 2);
    }

    #[test]
    fn a_raw_value_cannot_break_the_line() {
        let mut w = ContentWriter::default();
        w.raw("URL", &[], "https://x.example/\r\nBEGIN:VALARM");
        assert_eq!(w.finish(), "URL:https://x.example/BEGIN:VALARM\r\n");
    }

    proptest! {
        #[test]
        fn any_text_round_trips(text in any::<String>()) {
            let mut w = ContentWriter::default();
            w.text("SUMMARY", &text);
            let out = w.finish();
            for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
                prop_assert!(physical.len() <= 75);
            }
            prop_assert!(!out.replace("\r\n", "").contains(['\r', '\n']));
            let lines = unfold(&out);
            prop_assert_eq!(lines.len(), 1);
            let value = lines[0].strip_prefix("SUMMARY:").unwrap();
            let expected: String = text
                .replace("\r\n", "\n")
                .replace('\r', "\n")
                .chars()
                .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
                .collect();
            prop_assert_eq!(unescape(value), expected);
        }
    }
}
