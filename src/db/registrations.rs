//! Registrations and the waitlist. Every change here runs inside a write transaction and
//! begins by locking the event, so signups, cancellations and capacity changes of one event
//! happen strictly one after another on both databases; the seat decisions themselves are the
//! pure functions of `domain::seats`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::attendees::AttendeeRow;
use super::events::{self, EventRow};
use super::outbox::{self, NewMessage};
use super::projects::{self, ProjectRow};
use super::schema::{
    events as events_table, projects as projects_table, registration_projects, registrations,
};
use super::{DbConn, lock_event};
use crate::domain::mail_budget::held_back_reason;
use crate::domain::seats::{Seat, project_has_room, promotions_due, seat_for_newcomer};
use crate::domain::{Notice, Problems, RegistrationStatus, SignupRequest, Slug};
use crate::error::AppError;
use crate::tokens::{self, SecretKey};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = registrations)]
pub struct RegistrationRow {
    pub id: i64,
    pub event_id: i64,
    pub name: String,
    pub email: String,
    pub email_normalized: String,
    pub status: String,
    pub waitlist_seq: Option<i64>,
    pub manage_nonce: String,
    pub manage_token_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Opted out of reminders and organizer messages for this event.
    pub muted: bool,
}

impl RegistrationRow {
    pub fn status(&self) -> RegistrationStatus {
        RegistrationStatus::parse(&self.status).unwrap_or(RegistrationStatus::Cancelled)
    }

    /// The token of this registration's one-click opt-out link.
    pub fn unsubscribe_token(&self, key: &SecretKey) -> String {
        key.sign_row(UNSUBSCRIBE_PURPOSE, self.id, &self.manage_nonce)
    }

    /// The attendee's private manage token, rebuilt from the stored nonce.
    pub fn manage_token(&self, key: &SecretKey) -> String {
        key.derive_token(MANAGE_PURPOSE, &self.manage_nonce)
    }
}

const MANAGE_PURPOSE: &str = "manage";
const UNSUBSCRIBE_PURPOSE: &str = "unsubscribe";

/// The registration an opt-out link names; every wrong link gets the same 404.
pub fn find_by_unsubscribe_token(
    conn: &mut DbConn,
    key: &SecretKey,
    token: &str,
) -> Result<RegistrationRow, AppError> {
    let not_found = || AppError::not_found("no registration for this link");
    let id = tokens::signed_row_id(token).ok_or_else(not_found)?;
    let row = registrations::table
        .find(id)
        .select(RegistrationRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(not_found)?;
    if key.verify_row(UNSUBSCRIBE_PURPOSE, token, row.id, &row.manage_nonce) {
        Ok(row)
    } else {
        Err(not_found())
    }
}

/// Stops reminders and organizer messages for one registration.
pub fn mute(conn: &mut DbConn, registration_id: i64, now: NaiveDateTime) -> Result<(), AppError> {
    diesel::update(registrations::table.find(registration_id))
        .set((
            registrations::muted.eq(true),
            registrations::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A registration as its owner and the organizers see it.
#[derive(Debug, Clone)]
pub struct RegistrationView {
    pub registration: RegistrationRow,
    /// 1 for the head of the waitlist; `None` unless waitlisted.
    pub waitlist_position: Option<i64>,
    pub projects: Vec<ProjectRow>,
}

/// What a signup did. The HTTP answer is the same for both; only the email differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupOutcome {
    Registered { registration_id: i64, seat: Seat },
    AlreadyRegistered { registration_id: i64 },
}

/// Resolves project slugs of one event, naming each unknown or full one.
fn projects_to_join(
    conn: &mut DbConn,
    event_id: i64,
    slugs: &[Slug],
    except_registration: Option<i64>,
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
    let ids: Vec<i64> = chosen.iter().map(|p| p.id).collect();
    let mut counts = projects::joined_counts(conn, &ids)?;
    if let Some(own) = except_registration {
        // Someone changing their projects keeps the places they already hold.
        let mine: Vec<i64> = registration_projects::table
            .filter(registration_projects::registration_id.eq(own))
            .select(registration_projects::project_id)
            .load(conn)?;
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

fn set_projects(
    conn: &mut DbConn,
    registration_id: i64,
    chosen: &[ProjectRow],
) -> Result<(), AppError> {
    diesel::delete(
        registration_projects::table
            .filter(registration_projects::registration_id.eq(registration_id)),
    )
    .execute(conn)?;
    for project in chosen {
        diesel::insert_into(registration_projects::table)
            .values((
                registration_projects::registration_id.eq(registration_id),
                registration_projects::project_id.eq(project.id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Whether anyone waits for a seat (one indexed row, not a count).
fn waitlist_nonempty(conn: &mut DbConn, event_id: i64) -> Result<bool, AppError> {
    // EXISTS rather than LIMIT: SQLite re-prepares any statement with a bound LIMIT.
    Ok(diesel::select(diesel::dsl::exists(
        registrations::table
            .filter(registrations::event_id.eq(event_id))
            .filter(registrations::status.eq(RegistrationStatus::Waitlisted.as_str())),
    ))
    .get_result::<bool>(conn)?)
}

fn waitlist_len(conn: &mut DbConn, event_id: i64) -> Result<u32, AppError> {
    let n: i64 = registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(RegistrationStatus::Waitlisted.as_str()))
        .count()
        .get_result(conn)?;
    Ok(n.max(0) as u32)
}

/// Takes a seat, or a place at the end of the waitlist, for a newcomer; for someone already
/// registered (`newcomer` false) the same statement runs and changes nothing, so that both
/// take the same time.
fn take_place(
    conn: &mut DbConn,
    event: &EventRow,
    waiting: u32,
    newcomer: bool,
) -> Result<(Seat, Option<i64>), AppError> {
    let seat = seat_for_newcomer(
        event.capacity().limit(),
        event.going_count.max(0) as u32,
        waiting,
    );
    let (seats, places) = match (newcomer, seat) {
        (false, _) => (0, 0),
        (true, Seat::Going) => (1, 0),
        (true, Seat::Waitlisted) => (0, 1),
    };
    // The lock already serializes this; the guard in the WHERE clause makes the database
    // itself refuse an overbooking should that ever change.
    let taken: Option<i64> = diesel::update(events_table::table.find(event.id))
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("")
                .bind::<diesel::sql_types::Integer, _>(seats)
                .sql(" = 0")
                .or(events_table::capacity.is_null())
                .or(events_table::going_count.lt(events_table::capacity.assume_not_null())),
        )
        .set((
            events_table::going_count.eq(events_table::going_count + seats),
            events_table::waitlist_seq.eq(events_table::waitlist_seq + i64::from(places)),
        ))
        .returning(events_table::waitlist_seq)
        .get_result(conn)
        .optional()?;
    let Some(seq) = taken else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "seat accounting of event {} is inconsistent",
            event.id
        )));
    };
    // A known address's insert does nothing, but its row must still pass the table's checks.
    Ok((seat, matches!(seat, Seat::Waitlisted).then_some(seq)))
}

/// The outbox key of the "already registered" note to `registration_id` in the hour of
/// `now`: the note goes out once an hour at most (see `sign_up`).
fn already_registered_key(registration_id: i64, now: NaiveDateTime, hours_back: i64) -> String {
    let hour = now.and_utc().timestamp().div_euclid(3600) - hours_back;
    format!("already-registered:{registration_id}:{hour}")
}

/// Inserts a new registration, or does nothing for an address the event already knows (the
/// unique key of event and address): a known address takes the same statement as a new one.
fn insert_unless_known(
    conn: &mut DbConn,
    event_id: i64,
    request: &SignupRequest,
    place: (RegistrationStatus, Option<i64>),
    manage: (&str, &str),
    now: NaiveDateTime,
) -> Result<Option<i64>, AppError> {
    let (status, waitlist_seq) = place;
    let (nonce, token_hash) = manage;
    let row = (
        registrations::event_id.eq(event_id),
        registrations::name.eq(request.name.as_str()),
        registrations::email.eq(request.email.as_str()),
        registrations::email_normalized.eq(request.email.normalized()),
        registrations::status.eq(status.as_str()),
        registrations::waitlist_seq.eq(waitlist_seq),
        registrations::manage_nonce.eq(nonce),
        registrations::manage_token_hash.eq(token_hash),
        registrations::created_at.eq(now),
        registrations::updated_at.eq(now),
    );
    let conflict = (registrations::event_id, registrations::email_normalized);
    // Upserts do not build on the multi-backend connection.
    Ok(match conn {
        DbConn::Postgres(pg) => diesel::insert_into(registrations::table)
            .values(row)
            .on_conflict(conflict)
            .do_nothing()
            .returning(registrations::id)
            .get_result(pg)
            .optional()?,
        DbConn::Sqlite(lite) => diesel::insert_into(registrations::table)
            .values(row)
            .on_conflict(conflict)
            .do_nothing()
            .returning(registrations::id)
            .get_result(lite)
            .optional()?,
    })
}

/// Signs someone up for an event, or tells them by email that they already are.
///
/// The answer is the same either way, and so is the work: a new and a known address run
/// the same statements in the same order (the attendee, the event's lock and projects, the
/// registration read, the seat update, the registration insert, the mail key, the mailbox
/// budget, one outbox insert), the known address's writes changing nothing. Only a returning
/// person who had cancelled, and projects chosen by a newcomer, take statements of their own.
pub fn sign_up(
    conn: &mut DbConn,
    slug: &str,
    request: &SignupRequest,
    key: &SecretKey,
    now: NaiveDateTime,
) -> Result<SignupOutcome, AppError> {
    let email_key = request.email.normalized();
    // The attendee row is the same whatever happens below; made before the event's lock so
    // the lock is held as briefly as possible.
    super::attendees::ensure(conn, &email_key, key, now)?;
    let event = events::lock_by_slug(conn, slug)?;
    let event_id = event.id;
    if let Some(reason) = event.signup_closed_reason(now) {
        return Err(AppError::Conflict(reason.into()));
    }
    let chosen = projects_to_join(conn, event.id, &request.projects, None)?;
    let existing: Option<RegistrationRow> = registrations::table
        .filter(registrations::event_id.eq(event.id))
        .filter(registrations::email_normalized.eq(&email_key))
        .select(RegistrationRow::as_select())
        .get_result(conn)
        .optional()?;
    let known = existing
        .as_ref()
        .filter(|r| r.status() != RegistrationStatus::Cancelled)
        .map(|r| r.id);

    let someone_waits = waitlist_nonempty(conn, event.id)?;
    let (seat, waitlist_seq) = take_place(conn, &event, u32::from(someone_waits), known.is_none())?;
    let status = match seat {
        Seat::Going => RegistrationStatus::Going,
        Seat::Waitlisted => RegistrationStatus::Waitlisted,
    };
    let nonce = tokens::random_nonce();
    let token_hash = tokens::token_hash(&key.derive_token(MANAGE_PURPOSE, &nonce));
    let registration_id = match (&existing, known) {
        // Someone who cancelled earlier comes back as a new arrival, with the same link.
        (Some(old), None) => {
            let id = diesel::update(registrations::table.find(old.id))
                .set((
                    registrations::name.eq(request.name.as_str()),
                    registrations::email.eq(request.email.as_str()),
                    registrations::status.eq(status.as_str()),
                    registrations::waitlist_seq.eq(waitlist_seq),
                    registrations::updated_at.eq(now),
                ))
                .returning(registrations::id)
                .get_result(conn)?;
            set_projects(conn, id, &chosen)?;
            id
        }
        (_, known) => {
            let inserted = insert_unless_known(
                conn,
                event_id,
                request,
                (status, waitlist_seq),
                (&nonce, &token_hash),
                now,
            )?;
            match (inserted, known) {
                (Some(id), None) => {
                    if !chosen.is_empty() {
                        set_projects(conn, id, &chosen)?;
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
    let noted: Option<String> = {
        use super::schema::outbox;
        outbox::table
            .filter(outbox::dedupe_key.eq_any(&recent_keys))
            .select(outbox::dedupe_key.assume_not_null())
            .load::<String>(conn)?
            .into_iter()
            .next()
    };
    let wanted = known.is_none() || noted.is_none();
    let allowed = super::mail_budgets::spend(conn, &request.email.mailbox_key(), wanted, now)?;
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
    if queued && !allowed {
        // Kept in the outbox, so the organizers see what was held back and why.
        let id: i64 = {
            use super::schema::outbox;
            outbox::table
                .filter(outbox::dedupe_key.eq(&mail_key))
                .select(outbox::id)
                .get_result(conn)?
        };
        outbox::mark_skipped(conn, id, &held_back_reason(), now)?;
    }
    Ok(match known {
        Some(registration_id) => SignupOutcome::AlreadyRegistered { registration_id },
        None => SignupOutcome::Registered {
            registration_id,
            seat,
        },
    })
}

/// Seats people from the head of the waitlist while seats are free, telling each by email.
pub fn fill_free_seats(
    conn: &mut DbConn,
    event_id: i64,
    now: NaiveDateTime,
) -> Result<u32, AppError> {
    let event = events::find(conn, event_id)?;
    // Nobody moves up for an event that is cancelled or over.
    if event.status() != crate::domain::EventStatus::Scheduled || now >= event.ends_at {
        return Ok(0);
    }
    let waiting = waitlist_len(conn, event_id)?;
    let due = promotions_due(
        event.capacity().limit(),
        event.going_count.max(0) as u32,
        waiting,
    );
    if due == 0 {
        return Ok(0);
    }
    let heads: Vec<RegistrationRow> = registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(RegistrationStatus::Waitlisted.as_str()))
        .order(registrations::waitlist_seq.asc())
        .limit(i64::from(due))
        .select(RegistrationRow::as_select())
        .load(conn)?;
    for head in &heads {
        diesel::update(registrations::table.find(head.id))
            .set((
                registrations::status.eq(RegistrationStatus::Going.as_str()),
                registrations::waitlist_seq.eq(None::<i64>),
                registrations::updated_at.eq(now),
            ))
            .execute(conn)?;
        outbox::enqueue(
            conn,
            NewMessage {
                notice: Notice::Promoted,
                event_id,
                registration_id: head.id,
                recipient: &head.email,
            },
            now,
        )?;
    }
    diesel::update(events_table::table.find(event_id))
        .set(events_table::going_count.eq(events_table::going_count + heads.len() as i32))
        .execute(conn)?;
    Ok(heads.len() as u32)
}

pub fn find_by_token(conn: &mut DbConn, token: &str) -> Result<RegistrationRow, AppError> {
    // Every wrong token gets the same answer, whatever part of it was wrong.
    let not_found = || AppError::not_found("no registration for this link");
    if token.is_empty() || token.len() > 100 {
        return Err(not_found());
    }
    registrations::table
        .filter(registrations::manage_token_hash.eq(tokens::token_hash(token)))
        .select(RegistrationRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(not_found)
}

pub fn find(conn: &mut DbConn, registration_id: i64) -> Result<RegistrationRow, AppError> {
    Ok(registrations::table
        .find(registration_id)
        .select(RegistrationRow::as_select())
        .get_result(conn)?)
}

/// What a message about one registration may mention: the registration (with its waitlist
/// place and projects), its event, and the attendee record of its address if there is one.
pub struct MailSubject {
    pub view: RegistrationView,
    pub event: EventRow,
    pub attendee: Option<AttendeeRow>,
}

/// The mail subjects of several registrations, read together: one query for the
/// registrations with their events and attendees, one for their projects, and one per
/// waitlisted registration for its place. Registrations that no longer exist are missing from
/// the answer.
pub fn for_mail(
    conn: &mut DbConn,
    registration_ids: &[i64],
) -> Result<std::collections::HashMap<i64, MailSubject>, AppError> {
    if registration_ids.is_empty() {
        return Ok(Default::default());
    }
    super::planned_for_values(conn, |conn| read_for_mail(conn, registration_ids))
}

fn read_for_mail(
    conn: &mut DbConn,
    registration_ids: &[i64],
) -> Result<std::collections::HashMap<i64, MailSubject>, AppError> {
    use super::schema::attendees;
    let rows: Vec<(RegistrationRow, EventRow, Option<AttendeeRow>)> = registrations::table
        .filter(registrations::id.eq_any(registration_ids))
        .inner_join(events_table::table)
        .left_join(
            attendees::table.on(attendees::email_normalized.eq(registrations::email_normalized)),
        )
        .select((
            RegistrationRow::as_select(),
            EventRow::as_select(),
            Option::<AttendeeRow>::as_select(),
        ))
        .load(conn)?;
    // Ordered by name in the database, as the pages list them.
    let memberships: Vec<(i64, ProjectRow)> = registration_projects::table
        .inner_join(projects_table::table)
        .filter(registration_projects::registration_id.eq_any(registration_ids))
        .order(projects_table::name.asc())
        .select((
            registration_projects::registration_id,
            ProjectRow::as_select(),
        ))
        .load(conn)?;
    let mut subjects = std::collections::HashMap::with_capacity(rows.len());
    for (registration, event, attendee) in rows {
        let projects = memberships
            .iter()
            .filter(|(id, _)| *id == registration.id)
            .map(|(_, p)| p.clone())
            .collect();
        let waitlist_position = waitlist_position(conn, &registration)?;
        subjects.insert(
            registration.id,
            MailSubject {
                view: RegistrationView {
                    registration,
                    waitlist_position,
                    projects,
                },
                event,
                attendee,
            },
        );
    }
    Ok(subjects)
}

/// Cancels a registration. A second cancellation changes nothing and sends nothing.
pub fn cancel(
    conn: &mut DbConn,
    registration_id: i64,
    now: NaiveDateTime,
) -> Result<RegistrationRow, AppError> {
    let event_id = find(conn, registration_id)?.event_id;
    lock_event(conn, event_id)?;
    let current = find(conn, registration_id)?;
    if current.status() == RegistrationStatus::Cancelled {
        return Ok(current);
    }
    let was_going = current.status() == RegistrationStatus::Going;
    diesel::update(registrations::table.find(current.id))
        .set((
            registrations::status.eq(RegistrationStatus::Cancelled.as_str()),
            registrations::waitlist_seq.eq(None::<i64>),
            registrations::updated_at.eq(now),
        ))
        .execute(conn)?;
    if was_going {
        diesel::update(events_table::table.find(event_id))
            .set(events_table::going_count.eq(events_table::going_count - 1))
            .execute(conn)?;
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
    fill_free_seats(conn, event_id, now)?;
    find(conn, current.id)
}

/// Replaces the projects an active registration joined.
pub fn change_projects(
    conn: &mut DbConn,
    registration_id: i64,
    slugs: &[Slug],
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let event_id = find(conn, registration_id)?.event_id;
    lock_event(conn, event_id)?;
    let current = find(conn, registration_id)?;
    if current.status() == RegistrationStatus::Cancelled {
        return Err(AppError::Conflict(
            "this registration is cancelled; sign up again to join projects".into(),
        ));
    }
    let chosen = projects_to_join(conn, event_id, slugs, Some(current.id))?;
    set_projects(conn, current.id, &chosen)?;
    diesel::update(registrations::table.find(current.id))
        .set(registrations::updated_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// A registration with its waitlist position and projects.
pub fn view(
    conn: &mut DbConn,
    registration: RegistrationRow,
) -> Result<RegistrationView, AppError> {
    let waitlist_position = waitlist_position(conn, &registration)?;
    let projects = registration_projects::table
        .inner_join(projects_table::table)
        .filter(registration_projects::registration_id.eq(registration.id))
        .order(projects_table::name.asc())
        .select(ProjectRow::as_select())
        .load(conn)?;
    Ok(RegistrationView {
        registration,
        waitlist_position,
        projects,
    })
}

/// A waitlisted registration's place (1 for the head of the waitlist); `None` unless waitlisted.
fn waitlist_position(
    conn: &mut DbConn,
    registration: &RegistrationRow,
) -> Result<Option<i64>, AppError> {
    let Some(seq) = registration.waitlist_seq else {
        return Ok(None);
    };
    Ok(Some(
        registrations::table
            .filter(registrations::event_id.eq(registration.event_id))
            .filter(registrations::status.eq(RegistrationStatus::Waitlisted.as_str()))
            .filter(registrations::waitlist_seq.le(seq))
            .count()
            .get_result::<i64>(conn)?,
    ))
}

/// Every registration of an event for its organizers: going in signup order, then the
/// waitlist in order, then the cancelled.
pub fn list_for_event(conn: &mut DbConn, event_id: i64) -> Result<Vec<RegistrationView>, AppError> {
    let rows: Vec<RegistrationRow> = registrations::table
        .filter(registrations::event_id.eq(event_id))
        .order(registrations::id.asc())
        .select(RegistrationRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let memberships: Vec<(i64, ProjectRow)> = registration_projects::table
        .inner_join(projects_table::table)
        .filter(registration_projects::registration_id.eq_any(&ids))
        .select((
            registration_projects::registration_id,
            ProjectRow::as_select(),
        ))
        .load(conn)?;
    let mut waiting: Vec<&RegistrationRow> =
        rows.iter().filter(|r| r.waitlist_seq.is_some()).collect();
    waiting.sort_by_key(|r| r.waitlist_seq);
    let mut views: Vec<RegistrationView> = rows
        .iter()
        .map(|r| RegistrationView {
            registration: r.clone(),
            waitlist_position: waiting
                .iter()
                .position(|w| w.id == r.id)
                .map(|p| p as i64 + 1),
            projects: memberships
                .iter()
                .filter(|(id, _)| *id == r.id)
                .map(|(_, p)| p.clone())
                .collect(),
        })
        .collect();
    let rank = |v: &RegistrationView| match v.registration.status() {
        RegistrationStatus::Going => (0, 0),
        RegistrationStatus::Waitlisted => (1, v.waitlist_position.unwrap_or(0)),
        RegistrationStatus::Cancelled => (2, 0),
    };
    views.sort_by_key(|v| (rank(v), v.registration.id));
    Ok(views)
}

/// The going, not opted-out registrations of an event made before `moment` that have no
/// outbox row under their key yet (`{prefix}{registration id}{suffix}`, as `key` names it):
/// the database compares the keys, so a scan that finds nothing to add reads no rows.
pub fn missing_reminder(
    conn: &mut DbConn,
    event_id: i64,
    moment: NaiveDateTime,
    key: (&str, &str),
) -> Result<Vec<RegistrationRow>, AppError> {
    use super::schema::outbox;
    use diesel::dsl::{exists, not, sql};
    use diesel::sql_types::{Nullable, Text};
    // Written the same way by SQLite and PostgreSQL.
    let (prefix, suffix) = key;
    let key = sql::<Nullable<Text>>("")
        .bind::<Text, _>(prefix.to_owned())
        .sql(" || CAST(registrations.id AS TEXT) || ")
        .bind::<Text, _>(suffix.to_owned());
    Ok(registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(RegistrationStatus::Going.as_str()))
        .filter(registrations::muted.eq(false))
        .filter(registrations::created_at.lt(moment))
        .filter(not(exists(
            outbox::table.filter(outbox::dedupe_key.eq(key)),
        )))
        .select(RegistrationRow::as_select())
        .load(conn)?)
}

/// Active registrations (going and waitlisted) of an event, optionally only those that joined
/// one project, optionally leaving out those who opted out of bulk mail.
pub fn active(
    conn: &mut DbConn,
    event_id: i64,
    project_id: Option<i64>,
    skip_muted: bool,
) -> Result<Vec<RegistrationRow>, AppError> {
    let mut query = registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.ne(RegistrationStatus::Cancelled.as_str()))
        .select(RegistrationRow::as_select())
        .into_boxed();
    if skip_muted {
        query = query.filter(registrations::muted.eq(false));
    }
    if let Some(project_id) = project_id {
        let members = registration_projects::table
            .filter(registration_projects::project_id.eq(project_id))
            .select(registration_projects::registration_id);
        query = query.filter(registrations::id.eq_any(members));
    }
    Ok(query.load(conn)?)
}

/// Queues one notice for each of `recipients`.
pub fn notify_all(
    conn: &mut DbConn,
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
    Ok(recipients.len())
}
