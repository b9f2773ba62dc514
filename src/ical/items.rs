//! Events and project views as calendar items: the one conversion shared by the feeds and the
//! `.ics` attachments of email, so both always say the same thing.

use chrono::Duration as Days;

use super::{CalEvent, Status, When};
use crate::db::events::EventRow;
use crate::db::projects::ProjectRow;
use crate::domain::EventStatus;
use crate::domain::text::comma_joined;
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
            start_local: event.starts_local,
            end_local: event.ends_local,
            start_utc: event.starts_at,
            end_utc: event.ends_at,
        }
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
        status: if cancelled {
            Status::Cancelled
        } else {
            Status::Confirmed
        },
        categories: vec![event.kind.to_string()],
        organizer: None,
        when: when_of(event),
    }
}

/// The event as one project sees it: the project's room or table first, its links in the text.
pub fn project_item(event: &EventRow, project: &ProjectRow, links: &Links) -> CalEvent {
    let mut item = event_item(event, links);
    item.uid = format!("{}-{}@convene", event.uid, project.uid);
    item.sequence = event.revision + project.revision;
    item.modified = item.modified.max(project.updated_at);
    if event.status() != EventStatus::Cancelled {
        item.summary = format!("{}: {}", project.name, event.title);
    }
    let mut text = String::new();
    if !project.description.is_empty() {
        text.push_str(&project.description);
        text.push_str("\n\n");
    }
    if !project.location.is_empty() {
        text.push_str(&format!("Room or table: {}\n", project.location));
    }
    if let Some(url) = &project.notes_url {
        text.push_str(&format!("Notes: {url}\n"));
    }
    if let Some(url) = &project.repository_url {
        text.push_str(&format!("Repository: {url}\n"));
    }
    item.description = format!("{text}\n{}", item.description);
    if !project.location.is_empty() {
        item.location = comma_joined(&[&project.location, &item.location]);
    }
    item
}

/// The event as a calendar file attached to email (`METHOD:PUBLISH`), tentative for someone
/// on the waitlist.
/// A slot a project booked: its own event in the project's calendar, with its own stable UID.
pub fn slot_item(
    event: &EventRow,
    project: &ProjectRow,
    slot: &crate::db::board::SlotRow,
    links: &Links,
) -> CalEvent {
    use crate::domain::time::local_naive;
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
        status: if cancelled {
            Status::Cancelled
        } else {
            Status::Confirmed
        },
        categories: vec![event.kind.to_string()],
        organizer: None,
        when: When::Timed {
            tzid: event.timezone.clone(),
            start_local: local_naive(slot.starts_at, &event.timezone).unwrap_or(slot.starts_at),
            end_local: local_naive(slot.ends_at, &event.timezone).unwrap_or(slot.ends_at),
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
) -> String {
    let mut item = slot_item(event, project, slot, links);
    item.organizer = Some(organizer);
    super::render(&super::Calendar {
        name: format!("{} at {}", project.name, event.title),
        description: String::new(),
        refresh_minutes: 60,
        method: Some("PUBLISH"),
        events: vec![item],
    })
}

pub fn email_attachment(
    event: &EventRow,
    links: &Links,
    tentative: bool,
    organizer: (String, String),
) -> String {
    let mut item = event_item(event, links);
    item.organizer = Some(organizer);
    if tentative && item.status == Status::Confirmed {
        item.status = Status::Tentative;
    }
    super::render(&super::Calendar {
        name: event.title.clone(),
        description: String::new(),
        refresh_minutes: 60,
        method: Some("PUBLISH"),
        events: vec![item],
    })
}
