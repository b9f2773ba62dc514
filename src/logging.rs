//! Logging: `tracing` to standard output, as text or one JSON object per line
//! (`CONVENE_LOG_FORMAT`), filtered by `CONVENE_LOG` (default `info`). Whatever a line says,
//! email addresses in it are masked on the way out (`a***@example.org`), so a recipient named
//! by an SMTP server's error or a library's message does not end up in log storage. Secret
//! tokens in request paths are removed earlier, by the access log (`app::redact_secrets`).

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
