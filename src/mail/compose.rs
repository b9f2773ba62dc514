//! Turns a notice about a registration into a complete message: headers built with lettre's
//! typed API (so names and subjects cannot add headers), a plain-text body from a template with
//! normalized line ends, and a stable Message-ID per outbox row.

use askama::Template;
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, header};

use crate::domain::Notice;
use crate::error::AppError;

/// Everything a notice may mention.
#[derive(Debug, Clone)]
pub struct NoticeContext {
    pub name: String,
    pub email: String,
    pub event_title: String,
    pub when: String,
    pub venue: String,
    pub address: String,
    pub online_url: Option<String>,
    pub event_url: String,
    pub manage_url: String,
    /// The attendee's personal calendar feed.
    pub feed_url: Option<String>,
    pub going: bool,
    pub waitlist_position: i64,
    pub projects: Vec<String>,
}

macro_rules! notice_template {
    ($name:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path, escape = "none")]
        #[allow(
            dead_code,
            reason = "every notice gets the same context; each template uses part of it"
        )]
        struct $name<'a> {
            name: &'a str,
            event_title: &'a str,
            when: &'a str,
            venue: &'a str,
            address: &'a str,
            online_url: Option<&'a str>,
            event_url: &'a str,
            manage_url: &'a str,
            feed_url: Option<&'a str>,
            going: bool,
            waitlist_position: i64,
            projects: &'a [String],
        }

        impl<'a> $name<'a> {
            fn of(c: &'a NoticeContext) -> Self {
                Self {
                    name: &c.name,
                    event_title: &c.event_title,
                    when: &c.when,
                    venue: &c.venue,
                    address: &c.address,
                    online_url: c.online_url.as_deref(),
                    event_url: &c.event_url,
                    manage_url: &c.manage_url,
                    feed_url: c.feed_url.as_deref(),
                    going: c.going,
                    waitlist_position: c.waitlist_position,
                    projects: &c.projects,
                }
            }
        }
    };
}

notice_template!(SignupConfirmationText, "email/signup_confirmation.txt");
notice_template!(AlreadyRegisteredText, "email/already_registered.txt");
notice_template!(PromotedText, "email/promoted.txt");
notice_template!(
    RegistrationCancelledText,
    "email/registration_cancelled.txt"
);

fn subject(notice: Notice, c: &NoticeContext) -> String {
    match notice {
        Notice::SignupConfirmation if c.going => format!("You're going: {}", c.event_title),
        Notice::SignupConfirmation => {
            format!("Waitlist #{}: {}", c.waitlist_position, c.event_title)
        }
        Notice::AlreadyRegistered => format!("You're already registered: {}", c.event_title),
        Notice::Promoted => format!("A seat is yours: {}", c.event_title),
        Notice::RegistrationCancelled => format!("Cancelled: {}", c.event_title),
    }
}

fn body(notice: Notice, c: &NoticeContext) -> Result<String, askama::Error> {
    match notice {
        Notice::SignupConfirmation => SignupConfirmationText::of(c).render(),
        Notice::AlreadyRegistered => AlreadyRegisteredText::of(c).render(),
        Notice::Promoted => PromotedText::of(c).render(),
        Notice::RegistrationCancelled => RegistrationCancelledText::of(c).render(),
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): tells auto-responders not to answer.
#[derive(Clone)]
struct AutoSubmitted;

impl header::Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// Line ends become CR LF and a line holding a single dot gains a second one, so a body can
/// never end the SMTP DATA phase early, whatever a template or a user put in it.
pub fn normalize_body(text: &str) -> String {
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    unified
        .split('\n')
        .map(|line| {
            if line.starts_with('.') {
                format!(".{line}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// The complete message for one outbox row. `message_id` is the row's own, so a retried
/// delivery carries the same Message-ID and receivers can drop the duplicate.
pub fn compose(
    notice: Notice,
    c: &NoticeContext,
    from: &Mailbox,
    message_id: &str,
    host: &str,
) -> Result<Message, AppError> {
    let internal = |e: String| {
        AppError::Internal(anyhow::anyhow!(
            "cannot build a {} message: {e}",
            notice.as_str()
        ))
    };
    let to = Mailbox::new(
        Some(c.name.clone()),
        c.email.parse().map_err(|e| internal(format!("{e}")))?,
    );
    let text = body(notice, c).map_err(|e| internal(e.to_string()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject(notice, c))
        .message_id(Some(format!("<{message_id}@{host}>")))
        .header(AutoSubmitted)
        .header(ContentType::TEXT_PLAIN)
        .body(normalize_body(&text))
        .map_err(|e| internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> NoticeContext {
        NoticeContext {
            name: "Ada Lovelace".into(),
            email: "ada@example.org".into(),
            event_title: "Sprint </title><script>".into(),
            when: "Sat 6 Mar 2027, 09:30–17:00 (Europe/Berlin)".into(),
            venue: "Hall B".into(),
            address: "Main St 1".into(),
            online_url: None,
            event_url: "https://c.example/events/s".into(),
            manage_url: "https://c.example/manage/TOKEN".into(),
            feed_url: Some("https://c.example/feeds/FEED.ics".into()),
            going: false,
            waitlist_position: 3,
            projects: vec!["Twisted".into()],
        }
    }

    #[test]
    fn confirmation_names_the_position_and_the_link() {
        let from: Mailbox = "Convene <convene@example.org>".parse().unwrap();
        let msg = compose(
            Notice::SignupConfirmation,
            &context(),
            &from,
            "abc",
            "example.org",
        )
        .unwrap();
        let raw = String::from_utf8(msg.formatted()).unwrap();
        assert!(raw.contains("Message-ID: <abc@example.org>"), "{raw}");
        assert!(raw.contains("Auto-Submitted: auto-generated"));
        assert!(raw.contains("position 3"));
        assert!(raw.contains("https://c.example/manage/TOKEN"));
        assert!(raw.contains("  - Twisted"));
        assert!(raw.contains("https://c.example/feeds/FEED.ics"));
        assert!(raw.contains("<script>"), "plain text is not HTML-escaped");
    }

    #[test]
    fn bodies_cannot_end_the_data_phase() {
        assert_eq!(normalize_body("a\n.\nb\r.x\r\n"), "a\r\n..\r\nb\r\n..x\r\n");
    }
}
