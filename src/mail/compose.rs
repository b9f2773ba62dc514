//! Turns a notice into a complete message. Each kind has three templates under
//! `web/templates/email/`: `KIND.subject.txt`, `KIND.txt` and `KIND.html`. Headers are built
//! with lettre's typed API (names and subjects cannot add headers), bodies have normalized
//! line ends, and the Message-ID is the outbox row's own.

use askama::Template;
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header};

use crate::domain::Notice;
use crate::error::AppError;

/// A project as a message mentions it.
#[derive(Debug, Clone, Default)]
pub struct ProjectLine {
    pub name: String,
    /// Room or table.
    pub location: String,
    pub notes_url: Option<String>,
}

/// One change to an event, before and after.
#[derive(Debug, Clone)]
pub struct Change {
    pub what: String,
    pub before: String,
    pub after: String,
}

/// Everything a notice may mention.
#[derive(Debug, Clone, Default)]
pub struct NoticeContext {
    pub name: String,
    pub email: String,
    pub event_title: String,
    /// The event's time in its own zone, with the zone named.
    pub when: String,
    /// Venue and address.
    pub place: String,
    pub online_url: Option<String>,
    pub event_url: String,
    pub manage_url: String,
    /// The attendee's personal calendar feed.
    pub feed_url: Option<String>,
    /// One-click opt-out of reminders and organizer messages for this event.
    pub unsubscribe_url: Option<String>,
    pub going: bool,
    pub waitlist_position: i64,
    pub projects: Vec<ProjectLine>,
    pub changes: Vec<Change>,
    /// "24 hours", for reminders.
    pub reminder_in: String,
    pub message_subject: String,
    pub message_body: String,
    pub message_project: Option<String>,
    /// The event as an iCalendar object, attached when the notice calls for it.
    pub calendar: Option<String>,
    /// For project leads: the project and the secret link to its board.
    pub project_name: String,
    pub lead_url: String,
    pub board_url: String,
    /// For a moved slot: its title, room and time (in the event's zone).
    pub slot_title: String,
    pub slot_room: String,
    pub slot_when: String,
}

macro_rules! notice_templates {
    ($($kind:ident => $subject:literal, $text:literal, $html:literal;)+) => {
        mod templates {
            use askama::Template;
            use super::NoticeContext;
            $(
                pub mod $kind {
                    use super::*;

                    #[derive(Template)]
                    #[template(path = $subject, escape = "none")]
                    pub struct Subject<'a> {
                        pub c: &'a NoticeContext,
                    }

                    #[derive(Template)]
                    #[template(path = $text, escape = "none")]
                    pub struct Text<'a> {
                        pub c: &'a NoticeContext,
                    }

                    #[derive(Template)]
                    #[template(path = $html)]
                    pub struct Html<'a> {
                        pub c: &'a NoticeContext,
                        pub subject: &'a str,
                    }
                }
            )+
        }

        /// Subject, plain text and HTML of a notice.
        fn render(notice: Notice, c: &NoticeContext) -> Result<(String, String, String), askama::Error> {
            match notice {
                $(
                    notice_kind!($kind) => {
                        let subject = templates::$kind::Subject { c }.render()?;
                        let subject = subject.trim().to_owned();
                        let text = templates::$kind::Text { c }.render()?;
                        let html = templates::$kind::Html { c, subject: &subject }.render()?;
                        Ok((subject, text, html))
                    }
                )+
            }
        }
    };
}

macro_rules! notice_kind {
    (signup_confirmation) => {
        Notice::SignupConfirmation
    };
    (already_registered) => {
        Notice::AlreadyRegistered
    };
    (promoted) => {
        Notice::Promoted
    };
    (registration_cancelled) => {
        Notice::RegistrationCancelled
    };
    (event_changed) => {
        Notice::EventChanged
    };
    (event_cancelled) => {
        Notice::EventCancelled
    };
    (reminder) => {
        Notice::Reminder
    };
    (organizer_message) => {
        Notice::OrganizerMessage
    };
    (lead_link) => {
        Notice::LeadLink
    };
    (slot_moved) => {
        Notice::SlotMoved
    };
}

notice_templates! {
    signup_confirmation => "email/signup_confirmation.subject.txt", "email/signup_confirmation.txt", "email/signup_confirmation.html";
    already_registered => "email/already_registered.subject.txt", "email/already_registered.txt", "email/already_registered.html";
    promoted => "email/promoted.subject.txt", "email/promoted.txt", "email/promoted.html";
    registration_cancelled => "email/registration_cancelled.subject.txt", "email/registration_cancelled.txt", "email/registration_cancelled.html";
    event_changed => "email/event_changed.subject.txt", "email/event_changed.txt", "email/event_changed.html";
    event_cancelled => "email/event_cancelled.subject.txt", "email/event_cancelled.txt", "email/event_cancelled.html";
    reminder => "email/reminder.subject.txt", "email/reminder.txt", "email/reminder.html";
    organizer_message => "email/organizer_message.subject.txt", "email/organizer_message.txt", "email/organizer_message.html";
    lead_link => "email/lead_link.subject.txt", "email/lead_link.txt", "email/lead_link.html";
    slot_moved => "email/slot_moved.subject.txt", "email/slot_moved.txt", "email/slot_moved.html";
}

/// A header with a fixed name and a value we built ourselves.
macro_rules! simple_header {
    ($name:ident, $text:literal) => {
        #[derive(Clone)]
        struct $name(String);

        impl header::Header for $name {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($text)
            }

            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self(s.to_owned()))
            }

            fn display(&self) -> HeaderValue {
                // Values come from our own URLs; a line break could never be part of one.
                HeaderValue::new(Self::name(), self.0.replace(['\r', '\n'], ""))
            }
        }
    };
}

// RFC 3834: tells auto-responders not to answer.
simple_header!(AutoSubmitted, "Auto-Submitted");
// RFC 2369 and RFC 8058: the mail client's own unsubscribe button, one click.
simple_header!(ListUnsubscribe, "List-Unsubscribe");
simple_header!(ListUnsubscribePost, "List-Unsubscribe-Post");

/// Line ends become CR LF. (A line holding a single dot cannot end the SMTP DATA phase early:
/// lettre's SMTP client dot-stuffs every line that starts with a dot, as RFC 5321 asks, and
/// the receiving server removes the extra dot again. Doing it here as well would double it.)
pub fn normalize_body(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n")
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
    let (subject, text, html) = render(notice, c).map_err(|e| internal(e.to_string()))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject.replace(['\r', '\n'], " "))
        .message_id(Some(format!("<{message_id}@{host}>")))
        .header(AutoSubmitted("auto-generated".into()));
    if notice.is_bulk()
        && let Some(url) = &c.unsubscribe_url
    {
        builder = builder
            .header(ListUnsubscribe(format!("<{url}>")))
            .header(ListUnsubscribePost("List-Unsubscribe=One-Click".into()));
    }
    let alternative = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(normalize_body(&text)),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(normalize_body(&html)),
        );
    let body = match (&c.calendar, notice.attaches_event()) {
        (Some(calendar), true) => {
            let content_type = ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
                .map_err(|e| internal(e.to_string()))?;
            MultiPart::mixed().multipart(alternative).singlepart(
                Attachment::new("event.ics".into()).body(calendar.clone(), content_type),
            )
        }
        _ => alternative,
    };
    builder.multipart(body).map_err(|e| internal(e.to_string()))
}

/// The message `convene send-test-email` sends to check an operator's settings.
pub fn test_message(from: &str, to: &str) -> Result<Message, AppError> {
    let from: Mailbox = from.parse().map_err(|e| {
        AppError::config(format!("CONVENE_MAIL_FROM `{from}` is not a mailbox: {e}"))
    })?;
    let to: Mailbox = to
        .parse()
        .map_err(|e| AppError::config(format!("`{to}` is not an address: {e}")))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject("Convene test message")
        .header(AutoSubmitted("auto-generated".into()))
        .header(ContentType::TEXT_PLAIN)
        .body(normalize_body(
            "This is a test message from Convene. If you can read it, the mail settings work.\n",
        ))
        .map_err(|e| AppError::config(format!("cannot build the test message: {e}")))
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
            place: "Hall B, Main St 1".into(),
            event_url: "https://c.example/events/s".into(),
            manage_url: "https://c.example/manage/TOKEN".into(),
            feed_url: Some("https://c.example/feeds/FEED.ics".into()),
            unsubscribe_url: Some("https://c.example/unsubscribe/U".into()),
            waitlist_position: 3,
            projects: vec![ProjectLine {
                name: "Twisted".into(),
                location: "Table 3".into(),
                notes_url: None,
            }],
            reminder_in: "1 day".into(),
            calendar: Some("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".into()),
            ..NoticeContext::default()
        }
    }

    fn raw(notice: Notice, c: &NoticeContext) -> String {
        let from: Mailbox = "Convene <convene@example.org>".parse().unwrap();
        String::from_utf8(
            compose(notice, c, &from, "abc", "example.org")
                .unwrap()
                .formatted(),
        )
        .unwrap()
    }

    #[test]
    fn every_notice_renders_with_subject_text_and_html() {
        for notice in Notice::ALL {
            let message = raw(*notice, &context());
            assert!(
                message.contains("Message-ID: <abc@example.org>"),
                "{notice:?}"
            );
            assert!(
                message.contains("text/plain") && message.contains("text/html"),
                "{notice:?}"
            );
            let (subject, _, html) = render(*notice, &context()).unwrap();
            assert!(!subject.is_empty() && !subject.contains('\n'), "{notice:?}");
            assert!(
                !html.contains("<script>"),
                "{notice:?}: the HTML part is escaped"
            );
            assert_eq!(
                message.contains("text/calendar"),
                notice.attaches_event(),
                "{notice:?}"
            );
            assert_eq!(
                message.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
                notice.is_bulk(),
                "{notice:?}"
            );
        }
    }

    #[test]
    fn confirmation_names_the_position_and_the_links() {
        let (subject, text, html) = render(Notice::SignupConfirmation, &context()).unwrap();
        assert_eq!(subject, "Waitlist #3: Sprint </title><script>");
        assert!(text.contains("waitlist at position 3"));
        assert!(text.contains("https://c.example/manage/TOKEN"));
        assert!(text.contains("  - Twisted (Table 3)"));
        assert!(text.contains("https://c.example/feeds/FEED.ics"));
        assert!(
            html.contains("Sprint &#60;/title&#62;&#60;script&#62;"),
            "{html}"
        );
    }

    fn golden_context(notice: Notice) -> NoticeContext {
        let lead = notice == Notice::LeadLink;
        let slot = notice == Notice::SlotMoved;
        let changes = match notice {
            Notice::EventChanged => vec![
                Change {
                    what: "Time".into(),
                    before: "Sat 6 Mar 2027, 09:30–17:00 (Europe/Berlin)".into(),
                    after: "Sun 7 Mar 2027, 10:00–16:00 (Europe/Berlin)".into(),
                },
                Change {
                    what: "Place".into(),
                    before: "Hall B, Main St 1".into(),
                    after: "Room <2>, Main St 1".into(),
                },
            ],
            Notice::SlotMoved => vec![Change {
                what: "room".into(),
                before: "Room 1".into(),
                after: "Room <2>".into(),
            }],
            _ => Vec::new(),
        };
        let message = notice == Notice::OrganizerMessage;
        NoticeContext {
            name: "Ada <Lovelace>".into(),
            email: "ada@example.org".into(),
            event_title: "Sprint & \"friends\" <b>".into(),
            when: "Sat 6 Mar 2027, 09:30–17:00 (Europe/Berlin)".into(),
            place: if lead {
                String::new()
            } else {
                "Hall B, Main St 1".into()
            },
            online_url: (!lead).then(|| "https://meet.example/sprint?a=1&b=2".into()),
            event_url: "https://c.example/events/sprint".into(),
            manage_url: if lead {
                String::new()
            } else {
                "https://c.example/manage/TOKEN".into()
            },
            feed_url: (!lead).then(|| "https://c.example/feeds/FEED.ics".into()),
            unsubscribe_url: notice
                .is_bulk()
                .then(|| "https://c.example/unsubscribe/U".into()),
            going: notice != Notice::EventChanged,
            waitlist_position: if notice == Notice::EventChanged { 2 } else { 0 },
            projects: if lead {
                Vec::new()
            } else {
                vec![
                    ProjectLine {
                        name: "Twisted <web>".into(),
                        location: "Table 3".into(),
                        notes_url: Some("https://pad.example/p/twisted".into()),
                    },
                    ProjectLine {
                        name: "Docs".into(),
                        location: String::new(),
                        notes_url: None,
                    },
                ]
            },
            changes,
            reminder_in: if notice == Notice::Reminder {
                "24 hours".into()
            } else {
                "0 minutes".into()
            },
            message_subject: if message {
                "Bring a <laptop>".into()
            } else {
                String::new()
            },
            message_body: if message {
                "Power strips\n.\nat every table & <b>more</b>".into()
            } else {
                String::new()
            },
            message_project: message.then(|| "Twisted <web>".into()),
            calendar: None,
            project_name: if lead || slot {
                "Twisted <web>".into()
            } else {
                String::new()
            },
            lead_url: if lead {
                "https://c.example/lead/LEAD".into()
            } else {
                String::new()
            },
            board_url: "https://c.example/events/sprint/board".into(),
            slot_title: if slot {
                "Sprint <planning>".into()
            } else {
                String::new()
            },
            slot_room: if slot {
                "Room <2>".into()
            } else {
                String::new()
            },
            slot_when: if slot {
                "Sat 6 Mar 2027, 14:00 – 15:00 (Europe/Berlin)".into()
            } else {
                String::new()
            },
        }
    }

    #[test]
    fn every_notice_renders_as_its_golden_file() {
        let mut cases: Vec<(String, NoticeContext, Notice)> = Notice::ALL
            .iter()
            .map(|n| (n.as_str().to_owned(), golden_context(*n), *n))
            .collect();
        let mut waitlisted = golden_context(Notice::SignupConfirmation);
        waitlisted.going = false;
        waitlisted.waitlist_position = 3;
        cases.push((
            "signup_confirmation_waitlisted".into(),
            waitlisted,
            Notice::SignupConfirmation,
        ));
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/mail");
        let update = std::env::var_os("CONVENE_UPDATE_GOLDEN").is_some();
        for (name, context, notice) in cases {
            let (subject, text, html) = render(notice, &context).unwrap();
            let rendered = format!("Subject: {subject}\n\n--- text\n{text}\n--- html\n{html}\n");
            let path = dir.join(format!("{name}.txt"));
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &rendered).unwrap();
            }
            let expected = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                rendered, expected,
                "{name}: the rendered mail differs from {path:?}"
            );
        }
    }

    #[test]
    fn line_ends_are_normalized() {
        assert_eq!(normalize_body("a\n.\nb\r.x\r\n"), "a\r\n.\r\nb\r\n.x\r\n");
    }
}
