//! Slugs name events and projects in URLs: lower-case letters, digits and single hyphens.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

pub const MAX_SLUG_LEN: usize = 64;

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > MAX_SLUG_LEN {
            return Err(format!("must be at most {MAX_SLUG_LEN} characters"));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if !s.chars().all(allowed) || s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return Err(
                "must be lower-case letters, digits and single hyphens, such as pycon-sprints-2027"
                    .into(),
            );
        }
        Ok(Self(s.to_owned()))
    }

    /// A slug made from a title, for callers that did not choose one.
    pub fn from_title(title: &str) -> Option<Self> {
        let mut out = String::new();
        for c in title.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            if out.len() >= MAX_SLUG_LEN {
                break;
            }
        }
        let trimmed = out.trim_matches('-');
        Self::parse(trimmed).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_refuses() {
        assert!(Slug::parse("pycon-sprints-2027").is_ok());
        for bad in [
            "",
            "Upper",
            "a--b",
            "-a",
            "a-",
            "a b",
            "a/b",
            "ä",
            "a.ics",
            &"a".repeat(65),
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn from_title_makes_a_valid_slug() {
        assert_eq!(
            Slug::from_title("PyCon Sprints: Day 1!").unwrap().as_str(),
            "pycon-sprints-day-1"
        );
        assert!(Slug::from_title("!!!").is_none());
    }

    proptest! {
        #[test]
        fn from_title_is_always_valid(title in any::<String>()) {
            if let Some(slug) = Slug::from_title(&title) {
                prop_assert!(Slug::parse(slug.as_str()).is_ok());
            }
        }
    }
}
