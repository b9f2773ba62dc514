//! Validated content of an event or a project, as an organizer wants it to be. The HTTP and
//! CLI layers build drafts from input; the database layer stores them.

use chrono::NaiveDateTime;

use super::{
    Capacity, EmailAddress, EventKind, EventWindow, Geo, LongText, ReminderOffsets, SingleLine,
    Slug, WebUrl,
};

pub const TITLE_MAX: usize = 200;
pub const SUMMARY_MAX: usize = 500;
pub const DESCRIPTION_MAX: usize = 50_000;
pub const PLACE_MAX: usize = 300;
pub const NAME_MAX: usize = 120;
pub const LEADS_MAX: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    pub slug: Slug,
    pub kind: EventKind,
    pub title: SingleLine,
    pub summary: SingleLine,
    pub description: LongText,
    pub window: EventWindow,
    pub venue: SingleLine,
    pub address: SingleLine,
    pub online_url: Option<WebUrl>,
    pub capacity: Capacity,
    pub signup_opens_at: Option<NaiveDateTime>,
    pub signup_closes_at: Option<NaiveDateTime>,
    /// The organizer's own reminder offsets; None: the service default.
    pub reminder_offsets: Option<ReminderOffsets>,
    /// Who organizes it (calendars name them ORGANIZER); empty and None: the site's sender.
    pub contact_name: SingleLine,
    pub contact_email: Option<EmailAddress>,
    pub geo: Option<Geo>,
}

/// One announced change: what, before, after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventChange {
    pub what: &'static str,
    pub before: String,
    pub after: String,
}

impl EventDraft {
    /// Where the event happens, in one line.
    pub fn place(&self) -> String {
        let mut parts: Vec<&str> = [self.venue.as_str(), self.address.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(url) = &self.online_url {
            parts.push(url.as_str());
        }
        if parts.is_empty() {
            "to be announced".into()
        } else {
            parts.join(", ")
        }
    }

    /// The changes of time and place from `previous`, as attendees are told about them.
    pub fn changes_from(&self, previous: &EventDraft) -> Vec<EventChange> {
        let mut changes = Vec::new();
        if self.window != previous.window {
            changes.push(EventChange {
                what: "Time",
                before: previous.window.human(),
                after: self.window.human(),
            });
        }
        let (before, after) = (previous.place(), self.place());
        if before != after {
            changes.push(EventChange {
                what: "Place",
                before,
                after,
            });
        }
        changes
    }

    /// Whether going from `self` to `next` changes what a calendar must show as a new version
    /// of the event: its time or its place. Such changes raise the revision (the iCalendar
    /// SEQUENCE) and are announced to attendees.
    pub fn moves_from(&self, previous: &EventDraft) -> bool {
        self.window != previous.window
            || self.venue != previous.venue
            || self.address != previous.address
            || self.online_url != previous.online_url
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    pub name: SingleLine,
    /// Leads with an address can be written to; the address is never shown publicly.
    pub email: Option<EmailAddress>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectDraft {
    pub slug: Slug,
    pub name: SingleLine,
    pub description: LongText,
    pub repository_url: Option<WebUrl>,
    pub notes_url: Option<WebUrl>,
    /// Room or table.
    pub location: SingleLine,
    pub capacity: Capacity,
    pub leads: Vec<Lead>,
}

/// A validated public signup.
#[derive(Debug, Clone)]
pub struct SignupRequest {
    pub name: SingleLine,
    pub email: EmailAddress,
    pub projects: Vec<Slug>,
    /// Show the name on the event page, among who's going (off unless asked).
    pub show_name: bool,
}
