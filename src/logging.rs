//! Logging: `tracing` to standard output, as text or one JSON object per line
//! (`CONVENE_LOG_FORMAT`), filtered by `CONVENE_LOG` (default `info`). Whatever a line says,
//! email addresses in it are masked on the way out (`a***@example.org`), so a recipient named
//! by an SMTP server's error or a library's message does not end up in log storage. Secret
//! tokens in request paths are removed earlier, by the access log ([`redact_secrets`], from
//! the one list [`SECRET_SEGMENTS`] that a test checks against the route table).

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

pub fn init(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONVENE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MaskedStdout);
    if json {
        builder.json().with_current_span(false).init();
    } else {
        builder.with_ansi(false).init();
    }
}

/// Standard output, with email addresses masked in each line written.
#[derive(Clone, Copy)]
pub struct MaskedStdout;

impl<'a> MakeWriter<'a> for MaskedStdout {
    type Writer = MaskedWriter<std::io::Stdout>;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedWriter(std::io::stdout())
    }
}

/// Masks email addresses in what passes through. The formatter writes each log line in one
/// call, so an address is never split between two writes.
pub struct MaskedWriter<W>(pub W);

impl<W: Write> Write for MaskedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(mask_emails(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c)
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

/// `alice.smith@example.org` becomes `a***@example.org`: the domain stays (it tells an
/// operator which provider refused), the person does not.
pub fn mask_emails(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '@' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The local part is what was just copied: find where it starts.
        let mut start = i;
        while start > 0 && is_local_char(chars[start - 1]) {
            start -= 1;
        }
        let mut end = i + 1;
        while end < chars.len() && is_domain_char(chars[end]) {
            end += 1;
        }
        let domain: String = chars[i + 1..end].iter().collect();
        let domain = domain.trim_end_matches(['.', '-']);
        let local_len = i - start;
        if local_len == 0 || !domain.contains('.') {
            out.push('@');
            i += 1;
            continue;
        }
        // Drop the copied local part but its first character.
        let keep: String = chars[start..start + 1].iter().collect();
        let copied: usize = chars[start..i].iter().map(|c| c.len_utf8()).sum();
        out.truncate(out.len() - copied);
        out.push_str(&keep);
        out.push_str("***@");
        out.push_str(domain);
        i += 1 + domain.chars().count();
    }
    out
}

/// The path segments that are followed by a secret token: manage links, project leads' links,
/// personal feeds, unsubscribe links and an attendee's own registration in the API. The one
/// list behind both the access log's redaction and the pages kept out of caches
/// (`http::private`); a test fails when a route with a `{token}` is not covered.
pub const SECRET_SEGMENTS: &[&str] = &["manage", "lead", "feeds", "unsubscribe", "registrations"];

/// A request path for the log, with the segment after each of [`SECRET_SEGMENTS`] replaced:
/// each of those is a credential. `/events/x/registrations` (the public signup) has nothing
/// after it and stays as it is.
pub fn redact_secrets(path: &str) -> String {
    let mut out = Vec::new();
    let mut hide_next = false;
    for segment in path.split('/') {
        // `/manage//TOKEN` still hides the token.
        if segment.is_empty() {
            out.push(segment);
            continue;
        }
        if hide_next {
            out.push(if segment.ends_with(".ics") {
                "…redacted….ics"
            } else {
                "…redacted…"
            });
            hide_next = false;
            continue;
        }
        hide_next = SECRET_SEGMENTS.contains(&segment);
        out.push(segment);
    }
    out.join("/")
}

/// Whether `path` carries a secret token (see [`SECRET_SEGMENTS`]).
pub fn has_secret(path: &str) -> bool {
    redact_secrets(path) != path
}

#[cfg(test)]
mod redaction_tests {
    use super::{SECRET_SEGMENTS, redact_secrets};

    #[test]
    fn secrets_stay_out_of_the_log() {
        assert_eq!(
            redact_secrets("/manage/abc/cancel"),
            "/manage/…redacted…/cancel"
        );
        assert_eq!(redact_secrets("/lead/abc"), "/lead/…redacted…");
        assert_eq!(redact_secrets("/feeds/abc.ics"), "/feeds/…redacted….ics");
        assert_eq!(
            redact_secrets("/api/v1/registrations/abc"),
            "/api/v1/registrations/…redacted…"
        );
        assert_eq!(
            redact_secrets("/api/v1/events/x/registrations"),
            "/api/v1/events/x/registrations"
        );
        assert_eq!(redact_secrets("/events/sprint"), "/events/sprint");
        assert_eq!(redact_secrets("/manage//abc"), "/manage//…redacted…");
    }

    /// The route patterns of the route table: every string literal in `http/mod.rs` that starts
    /// with `/` (scopes included: a pattern inside `/api/v1` is checked on its own, which is
    /// what the segment-wise redaction sees too).
    fn route_patterns() -> Vec<String> {
        let source = include_str!("http/mod.rs");
        let table = &source[source.find("pub fn routes").expect("the route table")..];
        table
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|literal| literal.starts_with('/'))
            .map(str::to_owned)
            .collect()
    }

    /// A route parameter whose name says it is a secret.
    fn is_secret_parameter(segment: &str) -> bool {
        segment.starts_with('{') && segment.contains("token")
    }

    #[test]
    fn every_route_with_a_token_is_redacted() {
        let patterns = route_patterns();
        assert!(
            patterns.iter().any(|p| p == "/lead/{token}"),
            "the route table was not found: {patterns:?}"
        );
        let mut covered = std::collections::BTreeSet::new();
        for pattern in &patterns {
            let mut segments: Vec<&str> = pattern.split('/').collect();
            let Some(secret_at) = segments.iter().position(|s| is_secret_parameter(s)) else {
                continue;
            };
            covered.insert(segments[secret_at - 1].to_owned());
            for s in &mut segments {
                if is_secret_parameter(s) {
                    // `{token}` and `{token}.ics` alike.
                    *s = if s.ends_with(".ics") {
                        "S3CRET.ics"
                    } else {
                        "S3CRET"
                    };
                } else if s.starts_with('{') {
                    *s = "x";
                }
            }
            let path = segments.join("/");
            let logged = redact_secrets(&path);
            assert!(
                !logged.contains("S3CRET"),
                "the route {pattern} logs its token: {logged}"
            );
        }
        // No entry of the list is left over from a route that is gone.
        for segment in SECRET_SEGMENTS {
            assert!(
                covered.contains(*segment),
                "`{segment}` is in SECRET_SEGMENTS but no route has a token after it"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mask_emails;
    use proptest::prelude::*;

    #[test]
    fn addresses_are_masked_wherever_they_appear() {
        assert_eq!(
            mask_emails("550 5.1.1 <bob.jones@example.org>: no such user"),
            "550 5.1.1 <b***@example.org>: no such user"
        );
        assert_eq!(
            mask_emails(r#"{"to":"a+tag@mail.example.co.uk."}"#),
            r#"{"to":"a***@mail.example.co.uk."}"#
        );
        assert_eq!(
            mask_emails("x@y.org and y@z.net"),
            "x***@y.org and y***@z.net"
        );
    }

    #[test]
    fn other_at_signs_stay() {
        assert_eq!(mask_emails("meet @ 14:00"), "meet @ 14:00");
        assert_eq!(mask_emails("user@localhost"), "user@localhost");
        assert_eq!(mask_emails("@handle"), "@handle");
        assert_eq!(mask_emails("café@"), "café@");
    }

    proptest! {
        #[test]
        fn no_local_part_survives(local in "[a-z0-9._%+-]{2,20}", domain in "[a-z]{1,10}\\.[a-z]{2,5}", before in "\\PC{0,20}", after in " \\PC{0,20}") {
            let line = format!("{before} <{local}@{domain}>{after}");
            let masked = mask_emails(&line);
            let hidden = format!("{local}@{domain}");
            prop_assert!(!masked.contains(&hidden));
            let kept = format!("***@{domain}");
            prop_assert!(masked.contains(&kept));
        }
    }
}
