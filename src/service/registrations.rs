//! Signing up, cancelling, changing one's projects, and the waitlist that moves up when seats
//! free. Every change locks the event first, so signups, cancellations and capacity changes of
//! one event happen strictly one after another on both databases; the seat decisions
//! themselves are the pure functions of `domain::seats`.

use chrono::NaiveDateTime;

use super::{Effects, Service};
use crate::db::outbox::{self, NewMessage};
use crate::db::projects::{self, ProjectRow};
use crate::db::registrations::{self, RegistrationRow, RegistrationView};
use crate::db::{DbConn, attendees, board, events, lock_event, mail_budgets};
use crate::domain::mail_budget::held_back_reason;
use crate::domain::seats::{Seat, project_has_room, promotions_due};
use crate::domain::{
    EventId, EventStatus, Notice, Problems, ProjectId, RegistrationId, RegistrationStatus,
    SignupRequest, Slug,
};
use crate::error::AppError;
use crate::links::Links;
use crate::tokens::SecretKey;

pub use crate::domain::seats::SignupOutcome;

/// Signs someone up for the event named `slug` (the API's and the form's signup alike),
/// within the client address's signup budget, which the caller has checked.
pub async fn sign_up(
    service: &Service,
    slug: String,
    request: SignupRequest,
) -> Result<SignupOutcome, AppError> {
    let (key, now) = (service.key.clone(), service.clock.now());
    let outcome = service
        .write_grouped(move |conn, fx| sign_up_in(conn, fx, &slug, &request, &key, now))
        .await?;
    service.metrics.signed_up(&outcome);
    Ok(outcome)
}

/// Signs someone up for an event, or tells them by email that they already are.
///
/// The answer is the same either way, and so is the work: a new and a known address run
/// the same statements in the same order (the attendee, the event's lock and projects, the
/// registration read, the seat update, the registration insert, the mail key, the mailbox
/// budget, one outbox insert), the known address's writes changing nothing. Only a returning
/// person who had cancelled, and projects chosen by a newcomer, take statements of their own.
pub fn sign_up_in(
    conn: &mut DbConn,
    fx: &mut Effects,
    slug: &str,
    request: &SignupRequest,
    key: &crate::tokens::SecretKey,
    now: NaiveDateTime,
) -> Result<SignupOutcome, AppError> {
    let email_key = request.email.normalized();
    // The attendee row is the same whatever happens below; made before the event's lock so
    // the lock is held as briefly as possible.
    attendees::ensure(conn, &email_key, key, now)?;
    let event = events::lock_by_slug(conn, slug)?;
    let event_id = event.id;
    if let Some(reason) = event.signup_closed_reason(now) {
        return Err(AppError::Conflict(reason.into()));
    }
    let chosen = projects_to_join(conn, event.id, &request.projects, None)?;
    let existing = registrations::by_address(conn, event.id, &email_key)?;
    let known = existing
        .as_ref()
        .filter(|r| r.status() != RegistrationStatus::Cancelled)
        .map(|r| r.id);

    let someone_waits = registrations::waitlist_nonempty(conn, event.id)?;
    let (seat, waitlist_seq) =
        events::take_place(conn, &event, u32::from(someone_waits), known.is_none())?;
    let status = match seat {
        Seat::Going => RegistrationStatus::Going,
        Seat::Waitlisted => RegistrationStatus::Waitlisted,
    };
    let manage = registrations::new_manage_secret(key);
    let registration_id = match (&existing, known) {
        // Someone who cancelled earlier comes back as a new arrival, with the same link.
        (Some(old), None) => {
            let id = registrations::rejoin(conn, old.id, request, (status, waitlist_seq), now)?;
            registrations::set_projects(conn, id, &chosen)?;
            id
        }
        (_, known) => {
            let inserted = registrations::insert_unless_known(
                conn,
                event_id,
                request,
                (status, waitlist_seq),
                (&manage.0, &manage.1),
                now,
            )?;
            match (inserted, known) {
                (Some(id), None) => {
                    if !chosen.is_empty() {
                        registrations::set_projects(conn, id, &chosen)?;
                    }
                    id
                }
                (None, Some(id)) => id,
                _ => {
                    return Err(AppError::Internal(anyhow::anyhow!(
                        "registration of event {event_id} changed under its lock"
                    )));
                }
            }
        }
    };

    // One "already registered" note an hour is enough: repeated signups must not flood an
    // inbox. A note from this hour or the one before counts, so two are at least an hour
    // apart. A newcomer's confirmation is looked up the same way and never found.
    let (notice, mail_key) = match known {
        Some(_) => (
            Notice::AlreadyRegistered,
            already_registered_key(registration_id, now, 0),
        ),
        None => (
            Notice::SignupConfirmation,
            format!(
                "signup:{registration_id}:{}",
                now.and_utc().timestamp_micros()
            ),
        ),
    };
    let recent_keys = [
        already_registered_key(registration_id, now, 0),
        already_registered_key(registration_id, now, 1),
    ];
    let noted = outbox::first_taken_key(conn, &recent_keys)?;
    let wanted = known.is_none() || noted.is_none();
    let allowed = mail_budgets::spend(conn, &request.email.mailbox_key(), wanted, now)?;
    // A note not wanted is inserted under the key already taken, which adds nothing.
    let mail_key = match noted {
        Some(taken) if !wanted => taken,
        _ => mail_key,
    };
    // A note goes to the address the registration holds, a confirmation to the one typed.
    let recipient = match (&existing, known) {
        (Some(row), Some(_)) => row.email.as_str(),
        _ => request.email.as_str(),
    };
    let message = NewMessage {
        notice,
        event_id,
        registration_id,
        recipient,
    };
    let queued = outbox::enqueue_once(conn, message, &mail_key, now)?;
    if queued {
        fx.mail(1);
        if !allowed {
            // Kept in the outbox, so the organizers see what was held back and why.
            let id = outbox::id_by_key(conn, &mail_key)?;
            outbox::mark_skipped(conn, id, &held_back_reason(), now)?;
        }
    }
    Ok(match known {
        Some(registration_id) => SignupOutcome::AlreadyRegistered { registration_id },
        None => SignupOutcome::Registered {
            registration_id,
            seat,
        },
    })
}

/// The outbox key of the "already registered" note to `registration_id` in the hour of
/// `now`: the note goes out once an hour at most (see `sign_up_in`).
fn already_registered_key(
    registration_id: RegistrationId,
    now: NaiveDateTime,
    hours_back: i64,
) -> String {
    let hour = now.and_utc().timestamp().div_euclid(3600) - hours_back;
    format!("already-registered:{registration_id}:{hour}")
}

/// Resolves project slugs of one event, naming each unknown or full one.
fn projects_to_join(
    conn: &mut DbConn,
    event_id: EventId,
    slugs: &[Slug],
    except_registration: Option<RegistrationId>,
) -> Result<Vec<ProjectRow>, AppError> {
    if slugs.is_empty() {
        return Ok(Vec::new());
    }
    let mut problems = Problems::new();
    let mut chosen: Vec<ProjectRow> = Vec::new();
    let available = projects::for_event(conn, event_id)?;
    for (i, slug) in slugs.iter().enumerate() {
        match available.iter().find(|p| p.slug == slug.as_str()) {
            None => problems.add(
                format!("projects[{i}]"),
                format!("there is no project `{slug}` at this event"),
            ),
            Some(p) if chosen.iter().any(|c| c.id == p.id) => {}
            Some(p) => chosen.push(p.clone()),
        }
    }
    problems.finish()?;
    let ids: Vec<ProjectId> = chosen.iter().map(|p| p.id).collect();
    let mut counts = projects::joined_counts(conn, &ids)?;
    if let Some(own) = except_registration {
        // Someone changing their projects keeps the places they already hold.
        let mine = registrations::project_ids(conn, own)?;
        for (project_id, count) in counts.iter_mut() {
            if mine.contains(project_id) {
                *count -= 1;
            }
        }
    }
    let mut problems = Problems::new();
    for (i, slug) in slugs.iter().enumerate() {
        if let Some(p) = chosen.iter().find(|p| p.slug == slug.as_str()) {
            let joined = counts
                .iter()
                .find(|(id, _)| *id == p.id)
                .map_or(0, |(_, n)| *n);
            if !project_has_room(p.capacity().limit(), joined.max(0) as u32) {
                problems.add(
                    format!("projects[{i}]"),
                    format!("the project `{slug}` is full"),
                );
            }
        }
    }
    problems.finish()?;
    Ok(chosen)
}

/// Seats people from the head of the waitlist while seats are free, telling each by email.
pub fn fill_free_seats(
    conn: &mut DbConn,
    fx: &mut Effects,
    event_id: EventId,
    now: NaiveDateTime,
) -> Result<u32, AppError> {
    let event = events::find(conn, event_id)?;
    // Nobody moves up for an event that is cancelled or over.
    if event.status() != EventStatus::Scheduled || now >= event.ends_at {
        return Ok(0);
    }
    let waiting = registrations::waitlist_len(conn, event_id)?;
    let due = promotions_due(
        event.capacity().limit(),
        event.going_count.max(0) as u32,
        waiting,
    );
    if due == 0 {
        return Ok(0);
    }
    let heads = registrations::waitlist_heads(conn, event_id, due)?;
    let ids: Vec<_> = heads.iter().map(|h| h.id).collect();
    let seated = registrations::seat_from_waitlist(conn, &ids, now)?;
    if seated != ids.len() {
        // Read in this same transaction a moment ago: nobody else can have moved them.
        return Err(AppError::Internal(anyhow::anyhow!(
            "seated {seated} of the {} people at the head of the waitlist",
            ids.len()
        )));
    }
    let mails: Vec<_> = heads
        .iter()
        .map(|head| NewMessage {
            notice: Notice::Promoted,
            event_id,
            registration_id: head.id,
            recipient: &head.email,
        })
        .collect();
    outbox::enqueue_many(conn, &mails, now)?;
    fx.mail(heads.len());
    events::add_going(conn, event_id, heads.len() as i32)?;
    Ok(heads.len() as u32)
}

/// Queues one notice for each of `recipients`.
pub fn notify_all(
    conn: &mut DbConn,
    fx: &mut Effects,
    recipients: &[RegistrationRow],
    notice: &Notice,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    for r in recipients {
        outbox::enqueue(
            conn,
            NewMessage {
                notice: notice.clone(),
                event_id: r.event_id,
                registration_id: r.id,
                recipient: &r.email,
            },
            now,
        )?;
    }
    fx.mail(recipients.len());
    Ok(recipients.len())
}

/// The registration a private manage link names, with its event; every wrong link gets the
/// same 404.
pub async fn by_token(
    service: &Service,
    token: String,
) -> Result<(RegistrationView, events::EventRow), AppError> {
    service
        .read(move |conn| {
            let row = registrations::find_by_token(conn, &token)?;
            let event = events::find(conn, row.event_id)?;
            Ok((registrations::view(conn, row)?, event))
        })
        .await
}

/// The token of a registration's private manage link, for a caller acting for its owner
/// (`--demo` checks its sample people in with it); people get theirs by mail only.
pub async fn manage_token(
    service: &Service,
    registration_id: RegistrationId,
) -> Result<String, AppError> {
    let key = service.key.clone();
    service
        .read(move |conn| Ok(registrations::find(conn, registration_id)?.manage_token(&key)))
        .await
}

/// Cancels the registration a manage link names. A second cancellation changes nothing and
/// sends nothing.
pub async fn cancel(service: &Service, token: String) -> Result<(), AppError> {
    let now = service.clock.now();
    service
        .write_grouped(move |conn, fx| {
            let row = registrations::find_by_token(conn, &token)?;
            cancel_in(conn, fx, row.id, now).map(|_| ())
        })
        .await
}

/// Cancels a registration inside a transaction.
pub fn cancel_in(
    conn: &mut DbConn,
    fx: &mut Effects,
    registration_id: RegistrationId,
    now: NaiveDateTime,
) -> Result<RegistrationRow, AppError> {
    let event_id = registrations::find(conn, registration_id)?.event_id;
    lock_event(conn, event_id)?;
    let current = registrations::find(conn, registration_id)?;
    if current.status() == RegistrationStatus::Cancelled {
        return Ok(current);
    }
    let was_going = current.status() == RegistrationStatus::Going;
    registrations::set_status_off_waitlist(conn, current.id, RegistrationStatus::Cancelled, now)?;
    if was_going {
        events::add_going(conn, event_id, -1)?;
    }
    outbox::enqueue(
        conn,
        NewMessage {
            notice: Notice::RegistrationCancelled,
            event_id,
            registration_id: current.id,
            recipient: &current.email,
        },
        now,
    )?;
    fx.mail(1);
    fill_free_seats(conn, fx, event_id, now)?;
    registrations::find(conn, current.id)
}

/// Replaces the projects of the active registration a manage link names; every unknown or
/// full project is named.
pub async fn change_projects(
    service: &Service,
    token: String,
    slugs: Vec<Slug>,
) -> Result<(), AppError> {
    let now = service.clock.now();
    service
        .write_grouped(move |conn, _fx| {
            let row = registrations::find_by_token(conn, &token)?;
            lock_event(conn, row.event_id)?;
            let current = registrations::find(conn, row.id)?;
            if current.status() == RegistrationStatus::Cancelled {
                return Err(AppError::Conflict(
                    "this registration is cancelled; sign up again to join projects".into(),
                ));
            }
            let chosen = projects_to_join(conn, current.event_id, &slugs, Some(current.id))?;
            registrations::set_projects(conn, current.id, &chosen)?;
            registrations::touch(conn, current.id, now)
        })
        .await
}

/// The event an opt-out link is about, and whether its mail is stopped already.
pub async fn unsubscribe_target(
    service: &Service,
    token: String,
) -> Result<(String, bool), AppError> {
    let key = service.key.clone();
    service
        .read(move |conn| {
            let registration = registrations::find_by_unsubscribe_token(conn, &key, &token)?;
            let event = events::find(conn, registration.event_id)?;
            Ok((event.title, registration.muted))
        })
        .await
}

/// Stops reminders and organizer messages for the registration an opt-out link names;
/// returns the event's title.
pub async fn unsubscribe(service: &Service, token: String) -> Result<String, AppError> {
    let (key, now) = (service.key.clone(), service.clock.now());
    service
        .write_grouped(move |conn, _fx| {
            let row = registrations::find_by_unsubscribe_token(conn, &key, &token)?;
            registrations::mute(conn, row.id, now)?;
            Ok(events::find(conn, row.event_id)?.title)
        })
        .await
}

/// A registration as its owner sees it: with its event and their personal feed's address.
pub struct OwnRegistration {
    pub view: RegistrationView,
    pub event: events::EventRow,
    pub feed_url: Option<String>,
    /// The alarm the person's feed sets before each start, in minutes; None: none.
    pub feed_alarm_minutes: Option<i32>,
}

/// The registration a private manage link names, as its owner sees it.
pub async fn own(service: &Service, token: String) -> Result<OwnRegistration, AppError> {
    let (links, key) = (service.links.clone(), service.key.clone());
    service
        .read(move |conn| own_in(conn, &token, &links, &key))
        .await
}

/// A registration as its owner's page shows it: also the projects of the event to choose
/// from, and the one whose table they are checked in at now.
pub struct OwnPage {
    pub own: OwnRegistration,
    pub projects: Vec<ProjectRow>,
    pub checked_in: Option<ProjectId>,
}

/// The registration a private manage link names, as its owner's page shows it.
pub async fn own_page(service: &Service, token: String) -> Result<OwnPage, AppError> {
    let (links, key, now) = (
        service.links.clone(),
        service.key.clone(),
        service.clock.now(),
    );
    service
        .read(move |conn| {
            let own = own_in(conn, &token, &links, &key)?;
            let checked_in = board::current_checkin(conn, own.view.registration.id, now)?;
            let projects = projects::for_event(conn, own.event.id)?;
            Ok(OwnPage {
                own,
                projects,
                checked_in,
            })
        })
        .await
}

fn own_in(
    conn: &mut DbConn,
    token: &str,
    links: &Links,
    key: &SecretKey,
) -> Result<OwnRegistration, AppError> {
    let row = registrations::find_by_token(conn, token)?;
    let event = events::find(conn, row.event_id)?;
    let view = registrations::view(conn, row)?;
    let attendee = attendees::find(conn, &view.registration.email_normalized)?;
    Ok(OwnRegistration {
        feed_url: attendee
            .as_ref()
            .map(|a| links.personal_feed(&a.feed_token(key))),
        feed_alarm_minutes: attendee.and_then(|a| a.feed_alarm_minutes),
        view,
        event,
    })
}

/// Gives the owner of a manage link a new personal feed address; the old one stops working.
pub async fn rotate_feed(service: &Service, token: String) -> Result<(), AppError> {
    let (key, now) = (service.key.clone(), service.clock.now());
    service
        .write_grouped(move |conn, _fx| {
            let row = registrations::find_by_token(conn, &token)?;
            let attendee = attendees::ensure(conn, &row.email_normalized, &key, now)?;
            attendees::rotate_feed_token(conn, attendee.id, &key, now)?;
            Ok(())
        })
        .await
}

/// Sets the alarm the personal feed of the owner of a manage link gives each event and
/// session (minutes before the start; None: no alarm, the default). The feed changes with it.
pub async fn set_feed_alarm(
    service: &Service,
    token: String,
    minutes: Option<i64>,
) -> Result<(), AppError> {
    let minutes = crate::domain::reminders::feed_alarm(minutes)
        .map_err(|message| AppError::Invalid(Problems::single("minutes", message)))?;
    let (key, now) = (service.key.clone(), service.clock.now());
    service
        .write_grouped(move |conn, _fx| {
            let row = registrations::find_by_token(conn, &token)?;
            let attendee = attendees::ensure(conn, &row.email_normalized, &key, now)?;
            attendees::set_feed_alarm(conn, attendee.id, minutes, now)
        })
        .await
}

/// Shows or hides a person's name among who's going on the event page.
pub async fn set_show_name(service: &Service, token: String, show: bool) -> Result<(), AppError> {
    let now = service.clock.now();
    service
        .write_grouped(move |conn, _fx| {
            let row = registrations::find_by_token(conn, &token)?;
            registrations::set_show_name(conn, row.id, show, now)
        })
        .await
}

/// Every registration of the event named `slug`, for its organizers.
pub async fn list(service: &Service, slug: String) -> Result<Vec<RegistrationView>, AppError> {
    Ok(of_event(service, slug).await?.1)
}

/// The event named `slug` with every registration, for its organizers' attendee list.
pub async fn of_event(
    service: &Service,
    slug: String,
) -> Result<(events::EventRow, Vec<RegistrationView>), AppError> {
    service
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            let registrations = registrations::list_for_event(conn, event.id)?;
            Ok((event, registrations))
        })
        .await
}

/// The longest search the attendee list takes.
pub const SEARCH_MAX_CHARS: usize = 200;

/// One page of the attendee list of the event named `slug` (pages counted from 1), only
/// those whose name or address contains `search` if one is given.
pub async fn attendee_page(
    service: &Service,
    slug: String,
    search: Option<String>,
    (page, per_page): (u32, u32),
) -> Result<(events::EventRow, registrations::AttendeePage), AppError> {
    let search = search
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if search
        .as_ref()
        .is_some_and(|s| s.chars().count() > SEARCH_MAX_CHARS)
    {
        return Err(AppError::Invalid(Problems::single(
            "q",
            format!("a search is at most {SEARCH_MAX_CHARS} characters"),
        )));
    }
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    service
        .read(move |conn| {
            let event = events::find_by_slug(conn, &slug)?;
            let window = (offset, i64::from(per_page));
            let page = registrations::page_for_event(conn, event.id, search.as_deref(), window)?;
            Ok((event, page))
        })
        .await
}

/// Hands every registration of event `event_id`, in the attendee list's order, to `take`
/// `per_chunk` at a time, all read in one consistent view of the database (rows that change
/// meanwhile neither go missing nor come twice). `take` returns false to stop (the reader
/// went away). Memory stays at one chunk whatever the size of the event.
pub async fn each_attendee_chunk<F>(
    service: &Service,
    event_id: EventId,
    per_chunk: u32,
    mut take: F,
) -> Result<(), AppError>
where
    F: FnMut(Vec<registrations::RegistrationView>) -> bool + Send + 'static,
{
    let db = service.db.clone();
    tokio::task::spawn_blocking(move || {
        db.read_blocking_once(|conn| {
            crate::db::consistent_read(conn, |conn| {
                registrations::each_for_event(conn, event_id, i64::from(per_chunk), &mut take)
            })
        })
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
}
