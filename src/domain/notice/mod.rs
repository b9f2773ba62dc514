//! The kinds of email Convene sends, each with what it has to say. Each is first a row in the
//! outbox, written in the same transaction as the change that called for it: its kind in the
//! `kind` column and the rest as a JSON object in `payload` (see [`Notice::payload`]).

mod applies;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

pub use applies::{Attendance, Facts, Obsolete, Standing};

/// One announced change to an event or a slot: what, before and after, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub what: String,
    pub before: String,
    pub after: String,
}

impl From<&crate::domain::drafts::EventChange> for Change {
    fn from(change: &crate::domain::drafts::EventChange) -> Self {
        Change {
            what: change.what.into(),
            before: change.before.clone(),
            after: change.after.clone(),
        }
    }
}

/// Who answers an organizer's message: the organizer who sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTo {
    pub name: String,
    pub email: String,
}

/// A message to be sent, with exactly what its kind needs beyond the current state of its
/// registration and event (which the worker reads when the message goes). The outbox keeps
/// the kind apart from the rest, as the rows of earlier releases do; [`NoticeKind`], the list
/// of kinds, is derived from this enum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[strum_discriminants(
    name(NoticeKind),
    derive(
        Hash,
        strum::VariantArray,
        strum::IntoStaticStr,
        strum::EnumString,
        strum::Display
    ),
    strum(serialize_all = "snake_case")
)]
pub enum Notice {
    /// You signed up: going, or waiting at position N.
    SignupConfirmation,
    /// Someone (perhaps you) signed up again with your address: here is your existing link.
    AlreadyRegistered,
    /// A seat became free and is now yours.
    Promoted,
    /// Your registration is cancelled, as you asked.
    RegistrationCancelled,
    /// The event moved in time or place.
    EventChanged { changes: Vec<Change> },
    /// The event is called off.
    EventCancelled,
    /// The event starts soon: `offset_minutes` before `starts_at`, the start it was scheduled
    /// for (a moved event gets reminders of its own).
    Reminder {
        offset_minutes: i64,
        starts_at: NaiveDateTime,
    },
    /// A message from the organizer, to everyone or to the people at one project.
    OrganizerMessage {
        subject: String,
        body: String,
        project: Option<String>,
        /// Where replies go (rows of earlier releases have none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<ReplyTo>,
    },
    /// To a project lead: the secret link to the project's board and slots.
    LeadLink { lead_link_id: i64 },
    /// A project you joined moved one of its slots (time or room).
    SlotMoved { slot_id: i64, changes: Vec<Change> },
}

impl NoticeKind {
    /// Every kind, in the order above.
    pub const ALL: &'static [NoticeKind] = <Self as strum::VariantArray>::VARIANTS;

    /// Whether the message carries the event (or the slot) as an `.ics` attachment.
    pub fn attaches_event(self) -> bool {
        matches!(
            self,
            Self::SignupConfirmation
                | Self::Promoted
                | Self::EventChanged
                | Self::EventCancelled
                | Self::SlotMoved
                | Self::RegistrationCancelled
        )
    }

    /// Whether the attendee may opt out of this kind (reminders and organizer messages are
    /// bulk mail; the rest are about their own registration).
    pub fn is_bulk(self) -> bool {
        matches!(self, Self::Reminder | Self::OrganizerMessage)
    }

    /// The name in the outbox's `kind` column, the API and the template files.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
}

impl Notice {
    pub fn kind(&self) -> NoticeKind {
        self.into()
    }

    /// The `payload` column: what the notice says beyond its kind, as a JSON object. Earlier
    /// releases wrote (and read) the same fields.
    pub fn payload(&self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut fields)) => {
                fields.remove("kind");
                serde_json::Value::Object(fields).to_string()
            }
            // A tagged enum of plain fields always serializes to an object.
            _ => "{}".into(),
        }
    }

    /// Reads a notice back from the outbox's `kind` and `payload` columns, as this release
    /// and earlier ones wrote them (fields it does not know are ignored). The error says
    /// what is wrong, for the message's `last_error`.
    pub fn from_stored(kind: &str, payload: &str) -> Result<Self, String> {
        if NoticeKind::parse(kind).is_none() {
            return Err(format!("unknown message kind `{}`", kind.escape_default()));
        }
        let mut fields = match serde_json::from_str(payload) {
            Ok(serde_json::Value::Object(fields)) => fields,
            Ok(_) => {
                return Err(format!(
                    "the payload of a {kind} message is not a JSON object"
                ));
            }
            Err(e) => return Err(format!("the payload of a {kind} message is not JSON: {e}")),
        };
        fields.insert("kind".into(), kind.into());
        serde_json::from_value(serde_json::Value::Object(fields))
            .map_err(|e| format!("the payload of a {kind} message cannot be read: {e}"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        text.parse().unwrap()
    }

    fn change(what: &str) -> Change {
        Change {
            what: what.into(),
            before: "before".into(),
            after: "after".into(),
        }
    }

    /// One notice of each kind.
    pub(crate) fn sample(kind: NoticeKind) -> Notice {
        match kind {
            NoticeKind::SignupConfirmation => Notice::SignupConfirmation,
            NoticeKind::AlreadyRegistered => Notice::AlreadyRegistered,
            NoticeKind::Promoted => Notice::Promoted,
            NoticeKind::RegistrationCancelled => Notice::RegistrationCancelled,
            NoticeKind::EventChanged => Notice::EventChanged {
                changes: vec![change("Time"), change("Place")],
            },
            NoticeKind::EventCancelled => Notice::EventCancelled,
            NoticeKind::Reminder => Notice::Reminder {
                offset_minutes: 60,
                starts_at: at("2027-03-06T09:30:00"),
            },
            NoticeKind::OrganizerMessage => Notice::OrganizerMessage {
                subject: "Bring a laptop".into(),
                body: "Power\nstrips".into(),
                project: Some("Docs".into()),
                reply_to: Some(ReplyTo {
                    name: "Olga Organizer".into(),
                    email: "olga@example.org".into(),
                }),
            },
            NoticeKind::LeadLink => Notice::LeadLink { lead_link_id: 7 },
            NoticeKind::SlotMoved => Notice::SlotMoved {
                slot_id: 3,
                changes: vec![change("room")],
            },
        }
    }

    #[test]
    fn every_kind_is_read_back_as_written() {
        for kind in NoticeKind::ALL {
            let notice = sample(*kind);
            assert_eq!(notice.kind(), *kind);
            let payload = notice.payload();
            assert!(!payload.contains("\"kind\""), "{payload}");
            assert_eq!(
                Notice::from_stored(kind.as_str(), &payload),
                Ok(notice),
                "{kind}"
            );
            assert_eq!(NoticeKind::parse(kind.as_str()), Some(*kind));
        }
    }

    /// The rows of the release before typed payloads, as it wrote them.
    #[test]
    fn rows_of_the_previous_release_are_read() {
        let rows = [
            (
                "signup_confirmation",
                r#"{"status":"waitlisted"}"#,
                Notice::SignupConfirmation,
            ),
            ("already_registered", "{}", Notice::AlreadyRegistered),
            ("promoted", "{}", Notice::Promoted),
            (
                "registration_cancelled",
                "{}",
                Notice::RegistrationCancelled,
            ),
            ("event_cancelled", "{}", Notice::EventCancelled),
            (
                "event_changed",
                r#"{"changes":[{"after":"now","before":"then","what":"Time"}]}"#,
                Notice::EventChanged {
                    changes: vec![Change {
                        what: "Time".into(),
                        before: "then".into(),
                        after: "now".into(),
                    }],
                },
            ),
            (
                "reminder",
                r#"{"offset_minutes":1440,"starts_at":"2027-03-06T09:30:00"}"#,
                Notice::Reminder {
                    offset_minutes: 1440,
                    starts_at: at("2027-03-06T09:30:00"),
                },
            ),
            (
                "organizer_message",
                r#"{"body":"x","project":null,"subject":"Hi"}"#,
                Notice::OrganizerMessage {
                    subject: "Hi".into(),
                    body: "x".into(),
                    project: None,
                    reply_to: None,
                },
            ),
            (
                "lead_link",
                r#"{"lead_link_id":12}"#,
                Notice::LeadLink { lead_link_id: 12 },
            ),
            (
                "slot_moved",
                r#"{"changes":[{"after":"B","before":"A","what":"room"}],"slot_id":4}"#,
                Notice::SlotMoved {
                    slot_id: 4,
                    changes: vec![Change {
                        what: "room".into(),
                        before: "A".into(),
                        after: "B".into(),
                    }],
                },
            ),
        ];
        for (kind, payload, expected) in rows {
            assert_eq!(Notice::from_stored(kind, payload), Ok(expected), "{kind}");
        }
    }

    /// What an earlier release reads back from what this one writes: the same fields.
    #[test]
    fn payloads_keep_the_fields_of_the_previous_release() {
        let reminder = sample(NoticeKind::Reminder).payload();
        assert_eq!(
            reminder,
            r#"{"offset_minutes":60,"starts_at":"2027-03-06T09:30:00"}"#
        );
        assert_eq!(Notice::Promoted.payload(), "{}");
        assert_eq!(
            Notice::LeadLink { lead_link_id: 7 }.payload(),
            r#"{"lead_link_id":7}"#
        );
    }

    #[test]
    fn a_broken_payload_is_an_error_that_says_why() {
        let cases = [
            ("reminder", "{", "not JSON"),
            ("reminder", "[]", "not a JSON object"),
            (
                "reminder",
                r#"{"offset_minutes":60}"#,
                "missing field `starts_at`",
            ),
            (
                "reminder",
                r#"{"offset_minutes":"soon","starts_at":"2027-03-06T09:30:00"}"#,
                "invalid type",
            ),
            ("lead_link", "{}", "missing field `lead_link_id`"),
            ("slot_moved", r#"{"slot_id":1}"#, "missing field `changes`"),
            ("postcard", "{}", "unknown message kind `postcard`"),
        ];
        for (kind, payload, expected) in cases {
            let error = Notice::from_stored(kind, payload).unwrap_err();
            assert!(error.contains(expected), "{kind} {payload}: {error}");
        }
    }
}
