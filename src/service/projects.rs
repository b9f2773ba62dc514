//! Adding, changing and removing the projects of an event. Leads with an address get a secret
//! link to the project's board by email; every open board shows the change at once.

use chrono::NaiveDateTime;

use super::{Effects, Service};
use crate::db::projects::{self, ProjectDetail, ProjectRow};
use crate::db::{DbConn, board, events, outbox};
use crate::domain::{EventId, Notice, Problems, ProjectDraft};
use crate::error::AppError;
use crate::tokens::SecretKey;

/// The projects of the event named `slug`, with their leads and how many joined.
pub async fn list(service: &Service, slug: String) -> Result<Vec<ProjectDetail>, AppError> {
    service
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            projects::details_for_event(conn, event.id)
        })
        .await
}

/// One project of the event named `slug`.
pub async fn get(
    service: &Service,
    slug: String,
    project: String,
) -> Result<ProjectDetail, AppError> {
    service
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            let row = projects::find_by_slug(conn, event.id, &project)?;
            Ok(projects::details(conn, vec![row])?.remove(0))
        })
        .await
}

/// Adds a project to the event named `slug`; a taken slug is a field error.
pub async fn create(
    service: &Service,
    slug: String,
    draft: ProjectDraft,
) -> Result<ProjectDetail, AppError> {
    let (now, key) = (service.clock.now(), service.key.clone());
    service
        .write(move |conn, fx| {
            let event = events::find_by_slug(conn, &slug)?;
            let row = projects::insert(conn, event.id, &draft, now)?;
            sync_lead_links(conn, fx, &row, &key, now)?;
            fx.board(conn, event.id)?;
            Ok(projects::details(conn, vec![row])?.remove(0))
        })
        .await
}

/// Changes a project: `apply` turns the stored project into the wanted one (or names what is
/// wrong with the change).
pub async fn change<F>(
    service: &Service,
    slug: String,
    project: String,
    apply: F,
) -> Result<ProjectDetail, AppError>
where
    F: FnOnce(ProjectDraft) -> Result<ProjectDraft, Problems> + Send + 'static,
{
    let (now, key) = (service.clock.now(), service.key.clone());
    service
        .write(move |conn, fx| {
            let event = events::find_by_slug(conn, &slug)?;
            let row = projects::find_by_slug(conn, event.id, &project)?;
            let current = projects::details(conn, vec![row])?.remove(0);
            let next = apply(current.to_draft()?)?;
            let row = projects::update(conn, current.project.id, &next, now)?;
            sync_lead_links(conn, fx, &row, &key, now)?;
            fx.board(conn, event.id)?;
            Ok(projects::details(conn, vec![row])?.remove(0))
        })
        .await
}

/// Removes a project; registrations stay, without it.
pub async fn remove(service: &Service, slug: String, project: String) -> Result<(), AppError> {
    service
        .write(move |conn, fx| {
            let event = events::find_by_slug(conn, &slug)?;
            let row = projects::find_by_slug(conn, event.id, &project)?;
            projects::delete(conn, row.id)?;
            fx.board(conn, event.id)
        })
        .await
}

/// Gives each lead with an address a secret link to the project's board (and mails it to
/// them), and revokes the links of leads no longer listed. Call after the leads changed.
fn sync_lead_links(
    conn: &mut DbConn,
    fx: &mut Effects,
    project: &ProjectRow,
    key: &SecretKey,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let draft = events::find(conn, project.event_id)?.is_draft();
    let wanted = board::leads_with_address(conn, project.id)?;
    let existing = board::lead_links_of(conn, project.id)?;
    let removed: Vec<i64> = existing
        .iter()
        .filter(|l| !wanted.iter().any(|(_, _, n)| *n == l.email_normalized))
        .map(|l| l.id)
        .collect();
    board::delete_lead_links(conn, &removed)?;
    let mut added = 0;
    for (name, email, normalized) in &wanted {
        if existing.iter().any(|l| l.email_normalized == *normalized) {
            continue;
        }
        let id = board::insert_lead_link(conn, project.id, (name, email, normalized), key, now)?;
        // A draft's leads get their links when it is published.
        if !draft {
            outbox::enqueue_without_registration(
                conn,
                Notice::LeadLink { lead_link_id: id },
                project.event_id,
                email,
                now,
            )?;
            added += 1;
        }
    }
    fx.mail(added);
    Ok(added)
}

/// Mails every lead of a just-published event the link to their board (kept from when the
/// event was a draft).
pub(super) fn send_waiting_lead_links(
    conn: &mut DbConn,
    fx: &mut Effects,
    event_id: EventId,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let mut sent = 0;
    for project in projects::for_event(conn, event_id)? {
        for link in board::lead_links_of(conn, project.id)? {
            outbox::enqueue_without_registration(
                conn,
                Notice::LeadLink {
                    lead_link_id: link.id,
                },
                event_id,
                &link.email,
                now,
            )?;
            sent += 1;
        }
    }
    fx.mail(sent);
    Ok(())
}
