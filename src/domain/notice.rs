//! The kinds of email Convene sends. Each is first a row in the outbox, written in the same
//! transaction as the change that called for it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
    EventChanged,
    /// The event is called off.
    EventCancelled,
    /// The event starts soon.
    Reminder,
    /// A message from the organizer.
    OrganizerMessage,
    /// To a project lead: the secret link to the project's board and slots.
    LeadLink,
    /// A project you joined moved one of its slots (time or room).
    SlotMoved,
}

impl Notice {
    pub const ALL: &'static [Notice] = &[
        Notice::SignupConfirmation,
        Notice::AlreadyRegistered,
        Notice::Promoted,
        Notice::RegistrationCancelled,
        Notice::EventChanged,
        Notice::EventCancelled,
        Notice::Reminder,
        Notice::OrganizerMessage,
        Notice::LeadLink,
        Notice::SlotMoved,
    ];

    /// Whether the message carries the event as an `.ics` attachment.
    pub fn attaches_event(self) -> bool {
        matches!(
            self,
            Notice::SignupConfirmation
                | Notice::Promoted
                | Notice::EventChanged
                | Notice::EventCancelled
                | Notice::SlotMoved
        )
    }

    /// Whether the attendee may opt out of this kind (reminders and organizer messages are
    /// bulk mail; the rest are about their own registration).
    pub fn is_bulk(self) -> bool {
        matches!(self, Notice::Reminder | Notice::OrganizerMessage)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Notice::SignupConfirmation => "signup_confirmation",
            Notice::AlreadyRegistered => "already_registered",
            Notice::Promoted => "promoted",
            Notice::RegistrationCancelled => "registration_cancelled",
            Notice::EventChanged => "event_changed",
            Notice::EventCancelled => "event_cancelled",
            Notice::Reminder => "reminder",
            Notice::OrganizerMessage => "organizer_message",
            Notice::LeadLink => "lead_link",
            Notice::SlotMoved => "slot_moved",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|n| n.as_str() == raw)
    }
}
