//! Events and project views as calendar items: the one conversion shared by the feeds and the
//! `.ics` attachments of email, so both always say the same thing.

use chrono::Duration as Days;

use super::{CalEvent, Status, When};
use crate::db::events::EventRow;
use crate::db::projects::ProjectRow;
use crate::domain::text::comma_joined;
use crate::domain::{EventKind, EventStatus};
use crate::links::Links;

pub fn location_of(event: &EventRow) -> String {
    let place: Vec<&str> = [event.venue.as_str(), event.address.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    match (place.is_empty(), &event.online_url) {
        (true, Some(url)) => url.clone(),
        _ => place.join(", "),
    }
}

fn when_of(event: &EventRow) -> When {
    if event.all_day {
        When::AllDay {
            start: event.starts_local.date(),
            end: event.ends_local.date() + Days::days(1),
        }
    } else {
        When::Timed {
            tzid: event.timezone.clone(),
            start_utc: event.starts_at,
            end_utc: event.ends_at,
        }
    }
}

/// The colour each kind of event has in calendars that show RFC 7986 COLOR (CSS names).
pub fn color_of(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Sprint => "darkorange",
        EventKind::HackIn => "seagreen",
        EventKind::Summit => "royalblue",
        EventKind::Meetup => "mediumvioletred",
        EventKind::Other => "slategray",
    }
}

/// An event as the public feeds show it.
pub fn event_item(event: &EventRow, links: &Links) -> CalEvent {
    let cancelled = event.status() == EventStatus::Cancelled;
    let mut description = String::new();
    for part in [event.summary.as_str(), event.description.as_str()] {
        if !part.is_empty() {
            description.push_str(part);
            description.push_str("\n\n");
        }
    }
    if let Some(url) = &event.online_url {
        description.push_str(&format!("Online: {url}\n"));
    }
    description.push_str(&format!("Details and signup: {}", links.event(&event.slug)));
    CalEvent {
        uid: format!("{}@convene", event.uid),
        sequence: event.revision,
        modified: event.updated_at,
        created: event.created_at,
        // Some calendar apps ignore STATUS; the title says it too.
        summary: if cancelled {
            format!("Cancelled: {}", event.title)
        } else {
            event.title.clone()
        },
        description,
        location: location_of(event),
        url: Some(links.event(&event.slug)),
        conference: event.online_url.clone(),
        geo: event.geo().map(|g| (g.latitude(), g.longitude())),
        color: Some(color_of(event.kind)),
        status: if cancelled {
            Status::Cancelled
        } else {
            Status::Confirmed
        },
        categories: vec![event.kind.to_string()],
        organizer: event.contact(),
        alarm_minutes: None,
        when: when_of(event),
    }
}

/// A slot a project booked: its own event in the project's calendar, with its own stable UID.
pub fn slot_item(
    event: &EventRow,
    project: &ProjectRow,
    slot: &crate::db::board::SlotRow,
    links: &Links,
) -> CalEvent {
    let cancelled = event.status() == EventStatus::Cancelled;
    let mut description = format!("{} at {}", project.name, event.title);
    if let Some(url) = &project.notes_url {
        description.push_str(&format!("\nNotes: {url}"));
    }
    description.push_str(&format!("\nBoard: {}", links.board(&event.slug)));
    CalEvent {
        uid: format!("{}-slot@convene", slot.uid),
        sequence: event.revision + slot.revision,
        modified: slot.updated_at.max(event.updated_at),
        created: slot.created_at,
        summary: if cancelled {
            format!("Cancelled: {} ({})", slot.title, project.name)
        } else {
            format!("{} ({})", slot.title, project.name)
        },
        description,
        location: comma_joined(&[&slot.room, &event.venue]),
        url: Some(links.board(&event.slug)),
        conference: event.online_url.clone(),
        geo: event.geo().map(|g| (g.latitude(), g.longitude())),
        color: Some(color_of(event.kind)),
        status: if cancelled {
            Status::Cancelled
        } else {
            Status::Confirmed
        },
        categories: vec![event.kind.to_string()],
        organizer: event.contact(),
        alarm_minutes: None,
        when: When::Timed {
            tzid: event.timezone.clone(),
            start_utc: slot.starts_at,
            end_utc: slot.ends_at,
        },
    }
}

/// A moved slot as an email attachment.
pub fn slot_attachment(
    event: &EventRow,
    project: &ProjectRow,
    slot: &crate::db::board::SlotRow,
    links: &Links,
    organizer: (String, String),
    now: chrono::NaiveDateTime,
) -> String {
    let mut item = slot_item(event, project, slot, links);
    item.organizer = item.organizer.or(Some(organizer));
    super::render(&super::Calendar {
        name: format!("{} at {}", project.name, event.title),
        description: String::new(),
        refresh_minutes: 60,
        method: Some("PUBLISH"),
        stamped: Some(now),
        public: true,
        events: vec![item],
    })
}

/// The event as a calendar file attached to email (`METHOD:PUBLISH`), tentative for someone
/// on the waitlist.
pub fn email_attachment(
    event: &EventRow,
    links: &Links,
    tentative: bool,
    organizer: (String, String),
    now: chrono::NaiveDateTime,
) -> String {
    let mut item = event_item(event, links);
    item.organizer = item.organizer.or(Some(organizer));
    if tentative && item.status == Status::Confirmed {
        item.status = Status::Tentative;
    }
    super::render(&super::Calendar {
        name: event.title.clone(),
        description: String::new(),
        refresh_minutes: 60,
        method: Some("PUBLISH"),
        stamped: Some(now),
        public: true,
        events: vec![item],
    })
}

/// What removes the event from the calendar of someone who cancelled their registration:
/// `METHOD:CANCEL` for the UID their confirmation carried, the same SEQUENCE and a later
/// DTSTAMP (so a confirmation after signing up again, later still, wins over it), the event
/// marked cancelled for that person.
pub fn cancellation_attachment(
    event: &EventRow,
    links: &Links,
    organizer: (String, String),
    now: chrono::NaiveDateTime,
) -> String {
    let mut item = event_item(event, links);
    item.organizer = item.organizer.or(Some(organizer));
    item.status = Status::Cancelled;
    item.summary = format!("Cancelled: {}", event.title);
    item.description = format!(
        "You cancelled your registration.\n\nDetails and signup: {}",
        links.event(&event.slug)
    );
    super::render(&super::Calendar {
        name: event.title.clone(),
        description: String::new(),
        refresh_minutes: 60,
        method: Some("CANCEL"),
        stamped: Some(now),
        public: true,
        events: vec![item],
    })
}
