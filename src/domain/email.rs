//! An attendee's or organizer's email address, and the normalized form used for uniqueness.

use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    address: String,
}

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be empty".into());
        }
        if trimmed.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        if trimmed.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("must not contain spaces or control characters".into());
        }
        // A bare address only: display names, comments and quoted local parts are refused so
        // that the address can be placed in a mail header without any interpretation.
        if trimmed.contains(['<', '>', '"', '(', ')', ',', ';', '\\', '[', ']']) {
            return Err("must be a plain address such as ada@example.org".into());
        }
        let parsed = email_address::EmailAddress::from_str(trimmed)
            .map_err(|_| "is not a valid email address".to_owned())?;
        if !parsed.domain().contains('.') && parsed.domain() != "localhost" {
            return Err("must have a domain such as example.org".into());
        }
        Ok(Self {
            address: trimmed.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The key under which an address is unique: the whole address in lower case, so that
    /// `Alice@Example.test` and `alice@example.test` are one person.
    pub fn normalized(&self) -> String {
        self.address.to_lowercase()
    }

    /// The mailbox that mail to this address lands in, as far as limits on mail go: the
    /// normalized address without a `+tag` in its local part, since `ada+1@example.org` and
    /// `ada+2@example.org` reach the same inbox at most providers. Only for counting: mail
    /// still goes to the address as typed.
    pub fn mailbox_key(&self) -> String {
        let normalized = self.normalized();
        match normalized.rsplit_once('@') {
            Some((local, domain)) => {
                let base = local.split_once('+').map_or(local, |(base, _)| base);
                // `+tag@host` alone has no base to fold to; it stays its own mailbox.
                if base.is_empty() {
                    normalized.clone()
                } else {
                    format!("{base}@{domain}")
                }
            }
            None => normalized.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for good in [
            "ada@example.org",
            "A.Lovelace+sprint@Example.Test",
            "x@sub.domain.io",
        ] {
            assert!(EmailAddress::parse(good).is_ok(), "{good} was refused");
        }
    }

    #[test]
    fn refuses_what_is_not_a_plain_address() {
        let cases = [
            ("", "empty"),
            ("ada", "no at sign"),
            ("ada@", "no domain"),
            ("@example.org", "no local part"),
            ("ada@example", "no dot in the domain"),
            ("Ada <ada@example.org>", "display name"),
            ("ada@example.org\r\nBcc: x@evil.test", "header injection"),
            ("a da@example.org", "space"),
            ("ada@exa\0mple.org", "NUL"),
        ];
        for (raw, why) in cases {
            assert!(
                EmailAddress::parse(raw).is_err(),
                "accepted {raw:?} ({why})"
            );
        }
        assert!(EmailAddress::parse(&format!("{}@example.org", "a".repeat(250))).is_err());
    }

    #[test]
    fn tags_fold_into_one_mailbox() {
        let key = |raw: &str| EmailAddress::parse(raw).unwrap().mailbox_key();
        assert_eq!(key("Ada+1@Example.org"), "ada@example.org");
        assert_eq!(key("ada+x+y@example.org"), "ada@example.org");
        assert_eq!(key("ada@example.org"), "ada@example.org");
        assert_eq!(key("+only@example.org"), "+only@example.org");
        assert_ne!(key("ada@example.org"), key("ada@example.net"));
        let typed = EmailAddress::parse("Ada+Sprint@Example.org").unwrap();
        assert_eq!(typed.as_str(), "Ada+Sprint@Example.org");
    }

    #[test]
    fn normalizes_letter_case() {
        let a = EmailAddress::parse("Alice@Example.test").unwrap();
        let b = EmailAddress::parse("alice@example.test").unwrap();
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(a.as_str(), "Alice@Example.test");
    }
}
