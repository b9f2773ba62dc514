//! Turns a notice into a complete message: its rendered templates (see `notices`), headers
//! built with lettre's typed API (names and subjects cannot add headers), bodies with
//! normalized line ends, and the outbox row's own Message-ID.

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header};

use super::notices::{NoticeMail, Rendered};
use crate::error::AppError;

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

/// The complete message for one outbox row, with `calendar` attached if its kind carries the
/// event. `message_id` is the row's own, so a retried delivery carries the same Message-ID and
/// receivers can drop the duplicate.
pub fn compose(
    mail: &NoticeMail,
    calendar: Option<&str>,
    from: &Mailbox,
    message_id: &str,
    host: &str,
) -> Result<Message, AppError> {
    let kind = mail.kind();
    let internal = |e: String| {
        AppError::Internal(anyhow::anyhow!(
            "cannot build a {} message: {e}",
            kind.as_str()
        ))
    };
    let recipient = mail.to();
    let to = Mailbox::new(
        Some(recipient.name.clone()),
        recipient
            .email
            .parse()
            .map_err(|e| internal(format!("{e}")))?,
    );
    let Rendered {
        subject,
        text,
        html,
    } = mail.render().map_err(|e| internal(e.to_string()))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject.replace(['\r', '\n'], " "))
        .message_id(Some(format!("<{message_id}@{host}>")))
        .header(AutoSubmitted("auto-generated".into()));
    if let Some((name, address)) = mail.reply_to() {
        // A typed mailbox: lettre encodes the name, so nothing in it can add a header. An
        // address lettre does not take costs the message its Reply-To, never its delivery.
        match address.parse() {
            Ok(address) => builder = builder.reply_to(Mailbox::new(Some(name.clone()), address)),
            Err(e) => {
                tracing::warn!(error = %e, "an organizer's address is no Reply-To; sent without")
            }
        }
    }
    if kind.is_bulk()
        && let Some(url) = &recipient.unsubscribe_url
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
    let body = match (calendar, kind.attaches_event()) {
        (Some(calendar), true) => {
            // The part's method says what the calendar object itself says.
            let method = if calendar.contains("\r\nMETHOD:CANCEL\r\n") {
                "CANCEL"
            } else {
                "PUBLISH"
            };
            let content_type =
                ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
                    .map_err(|e| internal(e.to_string()))?;
            MultiPart::mixed().multipart(alternative).singlepart(
                Attachment::new("event.ics".into()).body(calendar.to_owned(), content_type),
            )
        }
        _ => alternative,
    };
    builder.multipart(body).map_err(|e| internal(e.to_string()))
}

/// The message `convene send-test-email` sends to check an operator's settings.
pub fn test_message(from: &Mailbox, to: &str) -> Result<Message, AppError> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| AppError::config(format!("`{to}` is not an address: {e}")))?;
    Message::builder()
        .from(from.clone())
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
    use crate::domain::NoticeKind;
    use crate::mail::notices::{
        AlreadyRegistered, Change, EventCancelled, EventChanged, EventLines, LeadLink,
        OrganizerMessage, ProjectLine, Promoted, Recipient, RegistrationCancelled, Reminder,
        SignupConfirmation, SlotLines, SlotMoved,
    };

    /// An attendee with the links the worker gives every kind (the opt-out for bulk ones only).
    fn attendee(kind: NoticeKind) -> Recipient {
        Recipient {
            name: "Ada <Lovelace>".into(),
            email: "ada@example.org".into(),
            manage_url: Some("https://c.example/manage/TOKEN".into()),
            feed_url: Some("https://c.example/feeds/FEED.ics".into()),
            unsubscribe_url: kind
                .is_bulk()
                .then(|| "https://c.example/unsubscribe/U".into()),
        }
    }

    fn event() -> EventLines {
        EventLines {
            title: "Sprint & \"friends\" <b>".into(),
            when: "Sat 6 Mar 2027, 09:30–17:00 (Europe/Berlin)".into(),
            place: "Hall B, Main St 1".into(),
            online_url: Some("https://meet.example/sprint?a=1&b=2".into()),
            url: "https://c.example/events/sprint".into(),
        }
    }

    fn projects() -> Vec<ProjectLine> {
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
    }

    fn change(what: &str, before: &str, after: &str) -> Change {
        Change {
            what: what.into(),
            before: before.into(),
            after: after.into(),
        }
    }

    /// A notice of `kind` as the worker builds it, with text that needs escaping.
    fn sample(kind: NoticeKind) -> NoticeMail {
        let (to, event) = (attendee(kind), event());
        match kind {
            NoticeKind::SignupConfirmation => SignupConfirmation {
                to,
                event,
                going: true,
                waitlist_position: 0,
                projects: projects(),
            }
            .into(),
            NoticeKind::AlreadyRegistered => AlreadyRegistered {
                to,
                event,
                going: true,
                waitlist_position: 0,
            }
            .into(),
            NoticeKind::Promoted => Promoted {
                to,
                event,
                projects: projects(),
            }
            .into(),
            NoticeKind::RegistrationCancelled => RegistrationCancelled { to, event }.into(),
            NoticeKind::EventChanged => EventChanged {
                to,
                event,
                changes: vec![
                    change(
                        "Time",
                        "Sat 6 Mar 2027, 09:30–17:00 (Europe/Berlin)",
                        "Sun 7 Mar 2027, 10:00–16:00 (Europe/Berlin)",
                    ),
                    change("Place", "Hall B, Main St 1", "Room <2>, Main St 1"),
                ],
                going: false,
                waitlist_position: 2,
            }
            .into(),
            NoticeKind::EventCancelled => EventCancelled { to, event }.into(),
            NoticeKind::Reminder => Reminder {
                to,
                event,
                projects: projects(),
                starts_in: "24 hours".into(),
            }
            .into(),
            NoticeKind::OrganizerMessage => OrganizerMessage {
                to,
                event,
                subject: "Bring a <laptop>".into(),
                body: "Power strips\n.\nat every table & <b>more</b>, see https://example.org/plan?a=1&b=<2> (not javascript:alert(1))".into(),
                project: Some("Twisted <web>".into()),
                reply_to: Some(("Olga \"The\" Organizer".into(), "olga@example.org".into())),
            }
            .into(),
            NoticeKind::LeadLink => LeadLink {
                to: Recipient {
                    manage_url: None,
                    feed_url: None,
                    ..to
                },
                event: EventLines {
                    place: String::new(),
                    online_url: None,
                    ..event
                },
                project: "Twisted <web>".into(),
                lead_url: "https://c.example/lead/LEAD".into(),
                board_url: "https://c.example/events/sprint/board".into(),
            }
            .into(),
            NoticeKind::SlotMoved => SlotMoved {
                to,
                event,
                project: "Twisted <web>".into(),
                slot: SlotLines {
                    title: "Sprint <planning>".into(),
                    room: "Room <2>".into(),
                    when: "Sat 6 Mar 2027, 14:00 – 15:00 (Europe/Berlin)".into(),
                },
                changes: vec![change("room", "Room 1", "Room <2>")],
            }
            .into(),
        }
    }

    const CALENDAR: &str = "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n";

    fn raw(mail: &NoticeMail) -> String {
        let from: Mailbox = "Convene <convene@example.org>".parse().unwrap();
        String::from_utf8(
            compose(mail, Some(CALENDAR), &from, "abc", "example.org")
                .unwrap()
                .formatted(),
        )
        .unwrap()
    }

    #[test]
    fn every_notice_renders_with_subject_text_and_html() {
        for kind in NoticeKind::ALL {
            let mail = sample(*kind);
            assert_eq!(mail.kind(), *kind);
            let message = raw(&mail);
            assert!(message.contains("Message-ID: <abc@example.org>"), "{kind}");
            assert!(
                message.contains("text/plain") && message.contains("text/html"),
                "{kind}"
            );
            let Rendered { subject, html, .. } = mail.render().unwrap();
            assert!(!subject.is_empty() && !subject.contains('\n'), "{kind}");
            assert!(!html.contains("<b>"), "{kind}: the HTML part is escaped");
            assert_eq!(
                message.contains("text/calendar"),
                kind.attaches_event(),
                "{kind}"
            );
            assert_eq!(
                message.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
                kind.is_bulk(),
                "{kind}"
            );
            // Only an organizer's message has someone to answer it; the name stays one quoted
            // phrase of the header.
            assert_eq!(
                message.contains("Reply-To: \"Olga \\\"The\\\" Organizer\" <olga@example.org>\r\n"),
                *kind == NoticeKind::OrganizerMessage,
                "{kind}: {message}"
            );
        }
    }

    #[test]
    fn confirmation_names_the_position_and_the_links() {
        let NoticeMail::SignupConfirmation(mut confirmation) =
            sample(NoticeKind::SignupConfirmation)
        else {
            unreachable!()
        };
        confirmation.going = false;
        confirmation.waitlist_position = 3;
        let Rendered {
            subject,
            text,
            html,
        } = NoticeMail::from(confirmation).render().unwrap();
        assert_eq!(subject, "Waitlist #3: Sprint & \"friends\" <b>");
        assert!(text.contains("waitlist at position 3"));
        assert!(text.contains("https://c.example/manage/TOKEN"));
        assert!(text.contains("  - Twisted <web> (Table 3)"));
        assert!(text.contains("https://c.example/feeds/FEED.ics"));
        assert!(
            html.contains("Sprint &#38; &#34;friends&#34; &#60;b&#62;"),
            "{html}"
        );
    }

    /// The subject, text and HTML of every kind, as `tests/golden/mail/KIND.txt` holds them
    /// (`CONVENE_UPDATE_GOLDEN=1` writes them anew). A waitlisted signup is rendered as well.
    #[test]
    fn every_notice_renders_as_its_golden_file() {
        let mut cases: Vec<(String, NoticeMail)> = NoticeKind::ALL
            .iter()
            .map(|kind| (kind.as_str().to_owned(), sample(*kind)))
            .collect();
        if let NoticeMail::SignupConfirmation(mut waitlisted) =
            sample(NoticeKind::SignupConfirmation)
        {
            waitlisted.going = false;
            waitlisted.waitlist_position = 3;
            cases.push(("signup_confirmation_waitlisted".into(), waitlisted.into()));
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/mail");
        let update = std::env::var_os("CONVENE_UPDATE_GOLDEN").is_some();
        for (name, mail) in cases {
            let Rendered {
                subject,
                text,
                html,
            } = mail.render().unwrap();
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
