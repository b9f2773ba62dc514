//! What each kind of notice says: one context per kind, rendered by its three templates under
//! `web/templates/email/` (`KIND.subject.txt`, `KIND.txt`, `KIND.html`). The parts every
//! notice shares, the recipient with the links at the foot and the event, are types of their
//! own, so that the templates' shared pieces (`_event`, `_footer`, `_projects`) read the same
//! fields whatever the kind.

use askama::Template;

use crate::domain::NoticeKind;
pub use crate::domain::notice::Change;

/// Who a message goes to, and the links at its foot.
#[derive(Debug, Clone, Default)]
pub struct Recipient {
    pub name: String,
    pub email: String,
    /// Their registration's own page; none for a project lead, who need not be registered.
    pub manage_url: Option<String>,
    /// The attendee's personal calendar feed.
    pub feed_url: Option<String>,
    /// One-click opt-out of reminders and organizer messages for this event (bulk kinds only).
    pub unsubscribe_url: Option<String>,
}

/// The event as a message shows it.
#[derive(Debug, Clone, Default)]
pub struct EventLines {
    pub title: String,
    /// The event's time in its own zone, with the zone named.
    pub when: String,
    /// Venue and address.
    pub place: String,
    pub online_url: Option<String>,
    pub url: String,
}

/// A project as a message mentions it.
#[derive(Debug, Clone, Default)]
pub struct ProjectLine {
    pub name: String,
    /// Room or table.
    pub location: String,
    pub notes_url: Option<String>,
}

/// A project's session as a message shows it.
#[derive(Debug, Clone, Default)]
pub struct SlotLines {
    pub title: String,
    pub room: String,
    /// Its time in the event's zone, with the zone named.
    pub when: String,
}

/// You signed up: going, or waiting at `waitlist_position`.
#[derive(Debug, Clone)]
pub struct SignupConfirmation {
    pub to: Recipient,
    pub event: EventLines,
    pub going: bool,
    pub waitlist_position: i64,
    pub projects: Vec<ProjectLine>,
}

/// You signed up again: nothing changed.
#[derive(Debug, Clone)]
pub struct AlreadyRegistered {
    pub to: Recipient,
    pub event: EventLines,
    pub going: bool,
    pub waitlist_position: i64,
}

/// A seat became free and is now yours.
#[derive(Debug, Clone)]
pub struct Promoted {
    pub to: Recipient,
    pub event: EventLines,
    pub projects: Vec<ProjectLine>,
}

/// Your registration is cancelled.
#[derive(Debug, Clone)]
pub struct RegistrationCancelled {
    pub to: Recipient,
    pub event: EventLines,
}

/// The event moved in time or place.
#[derive(Debug, Clone)]
pub struct EventChanged {
    pub to: Recipient,
    pub event: EventLines,
    pub changes: Vec<Change>,
    pub going: bool,
    pub waitlist_position: i64,
}

/// The event is called off.
#[derive(Debug, Clone)]
pub struct EventCancelled {
    pub to: Recipient,
    pub event: EventLines,
}

/// The event starts soon.
#[derive(Debug, Clone)]
pub struct Reminder {
    pub to: Recipient,
    pub event: EventLines,
    pub projects: Vec<ProjectLine>,
    /// "24 hours".
    pub starts_in: String,
}

/// A message from the organizers.
#[derive(Debug, Clone)]
pub struct OrganizerMessage {
    pub to: Recipient,
    pub event: EventLines,
    pub subject: String,
    pub body: String,
    /// The project whose people it goes to; none: everyone at the event.
    pub project: Option<String>,
    /// The organizer who wrote it, whom replies reach: (name, address).
    pub reply_to: Option<(String, String)>,
}

impl OrganizerMessage {
    /// The body for the HTML part: escaped, with each web address in it made a link (only
    /// `http` and `https` ones: a `javascript:` address stays text).
    pub fn body_html(&self) -> String {
        let escape = |text: &str| {
            askama::filters::escape(text, askama::filters::Html)
                .map(|safe| safe.to_string())
                .unwrap_or_default()
        };
        let mut finder = linkify::LinkFinder::new();
        finder.kinds(&[linkify::LinkKind::Url]);
        let mut html = String::with_capacity(self.body.len() + 64);
        for span in finder.spans(&self.body) {
            let text = span.as_str();
            let web = text.starts_with("https://") || text.starts_with("http://");
            match span.kind() {
                Some(linkify::LinkKind::Url) if web => {
                    let url = escape(text);
                    html.push_str(&format!("<a href=\"{url}\">{url}</a>"));
                }
                _ => html.push_str(&escape(text)),
            }
        }
        html
    }
}

/// A project lead's secret link to the project's board.
#[derive(Debug, Clone)]
pub struct LeadLink {
    pub to: Recipient,
    pub event: EventLines,
    pub project: String,
    pub lead_url: String,
    pub board_url: String,
}

/// A project you joined moved one of its sessions.
#[derive(Debug, Clone)]
pub struct SlotMoved {
    pub to: Recipient,
    pub event: EventLines,
    pub project: String,
    pub slot: SlotLines,
    pub changes: Vec<Change>,
}

/// A notice's subject line and its two bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

macro_rules! notice_mails {
    ($($kind:ident in $module:ident => $subject:literal, $text:literal, $html:literal;)+) => {
        /// A notice ready to be rendered: the context of its kind.
        #[derive(Debug, Clone)]
        pub enum NoticeMail {
            $($kind($kind),)+
        }

        $(
            impl From<$kind> for NoticeMail {
                fn from(context: $kind) -> Self {
                    NoticeMail::$kind(context)
                }
            }
        )+

        mod templates {
            $(
                pub mod $module {
                    use askama::Template;

                    #[derive(Template)]
                    #[template(path = $subject, escape = "none")]
                    pub struct Subject<'a> {
                        pub c: &'a super::super::$kind,
                    }

                    #[derive(Template)]
                    #[template(path = $text, escape = "none")]
                    pub struct Text<'a> {
                        pub c: &'a super::super::$kind,
                    }

                    #[derive(Template)]
                    #[template(path = $html)]
                    pub struct Html<'a> {
                        pub c: &'a super::super::$kind,
                        pub subject: &'a str,
                    }
                }
            )+
        }

        /// The template files of each kind, for the test that they are its own.
        #[cfg(test)]
        const TEMPLATE_FILES: &[(NoticeKind, [&str; 3])] =
            &[$((NoticeKind::$kind, [$subject, $text, $html]),)+];

        impl NoticeMail {
            pub fn kind(&self) -> NoticeKind {
                match self {
                    $(NoticeMail::$kind(_) => NoticeKind::$kind,)+
                }
            }

            /// Where replies go, for the kinds that have someone to answer them.
            pub fn reply_to(&self) -> Option<&(String, String)> {
                match self {
                    NoticeMail::OrganizerMessage(c) => c.reply_to.as_ref(),
                    _ => None,
                }
            }

            pub fn to(&self) -> &Recipient {
                match self {
                    $(NoticeMail::$kind(c) => &c.to,)+
                }
            }

            /// The subject (on one line), plain text and HTML.
            pub fn render(&self) -> Result<Rendered, askama::Error> {
                match self {
                    $(
                        NoticeMail::$kind(c) => {
                            let subject = templates::$module::Subject { c }.render()?;
                            let subject = subject.trim().to_owned();
                            let text = templates::$module::Text { c }.render()?;
                            let html = templates::$module::Html { c, subject: &subject }.render()?;
                            Ok(Rendered { subject, text, html })
                        }
                    )+
                }
            }
        }
    };
}

notice_mails! {
    SignupConfirmation in signup_confirmation => "email/signup_confirmation.subject.txt", "email/signup_confirmation.txt", "email/signup_confirmation.html";
    AlreadyRegistered in already_registered => "email/already_registered.subject.txt", "email/already_registered.txt", "email/already_registered.html";
    Promoted in promoted => "email/promoted.subject.txt", "email/promoted.txt", "email/promoted.html";
    RegistrationCancelled in registration_cancelled => "email/registration_cancelled.subject.txt", "email/registration_cancelled.txt", "email/registration_cancelled.html";
    EventChanged in event_changed => "email/event_changed.subject.txt", "email/event_changed.txt", "email/event_changed.html";
    EventCancelled in event_cancelled => "email/event_cancelled.subject.txt", "email/event_cancelled.txt", "email/event_cancelled.html";
    Reminder in reminder => "email/reminder.subject.txt", "email/reminder.txt", "email/reminder.html";
    OrganizerMessage in organizer_message => "email/organizer_message.subject.txt", "email/organizer_message.txt", "email/organizer_message.html";
    LeadLink in lead_link => "email/lead_link.subject.txt", "email/lead_link.txt", "email/lead_link.html";
    SlotMoved in slot_moved => "email/slot_moved.subject.txt", "email/slot_moved.txt", "email/slot_moved.html";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_templates_named_after_it() {
        let kinds: Vec<NoticeKind> = TEMPLATE_FILES.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(kinds, NoticeKind::ALL);
        for (kind, files) in TEMPLATE_FILES {
            let name = kind.as_str();
            assert_eq!(
                files.map(str::to_owned),
                [
                    format!("email/{name}.subject.txt"),
                    format!("email/{name}.txt"),
                    format!("email/{name}.html"),
                ]
            );
        }
    }
}
