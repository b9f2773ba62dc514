//! Registrations and the waitlist: rows, the statements that change them, and the views the
//! API, pages and mail read. The workflows that combine them (signup, cancellation, the
//! waitlist moving up) are `service::registrations`, which locks the event first.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::attendees::AttendeeRow;
use super::events::EventRow;
use super::projects::ProjectRow;
use super::schema::{
    events as events_table, projects as projects_table, registration_projects, registrations,
};
use crate::domain::{EventId, ProjectId, RegistrationId, RegistrationStatus, SignupRequest};
use crate::error::AppError;
use crate::tokens::{self, SecretKey};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = registrations)]
pub struct RegistrationRow {
    pub id: RegistrationId,
    pub event_id: EventId,
    pub name: String,
    pub email: String,
    pub email_normalized: String,
    pub status: RegistrationStatus,
    pub waitlist_seq: Option<i64>,
    pub manage_nonce: String,
    pub manage_token_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Opted out of reminders and organizer messages for this event.
    pub muted: bool,
    /// Wants their name on the event page, among who's going.
    pub show_name: bool,
}

impl RegistrationRow {
    pub fn status(&self) -> RegistrationStatus {
        self.status
    }

    /// The token of this registration's one-click opt-out link.
    pub fn unsubscribe_token(&self, key: &SecretKey) -> String {
        key.sign_row(UNSUBSCRIBE_PURPOSE, self.id.get(), &self.manage_nonce)
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
    if key.verify_row(UNSUBSCRIBE_PURPOSE, token, row.id.get(), &row.manage_nonce) {
        Ok(row)
    } else {
        Err(not_found())
    }
}

/// Stops reminders and organizer messages for one registration.
pub fn mute(
    conn: &mut DbConn,
    registration_id: RegistrationId,
    now: NaiveDateTime,
) -> Result<(), AppError> {
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

/// Replaces the projects a registration joined.
pub fn set_projects(
    conn: &mut DbConn,
    registration_id: RegistrationId,
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
pub fn waitlist_nonempty(conn: &mut DbConn, event_id: EventId) -> Result<bool, AppError> {
    // EXISTS rather than LIMIT: SQLite re-prepares any statement with a bound LIMIT.
    Ok(diesel::select(diesel::dsl::exists(
        registrations::table
            .filter(registrations::event_id.eq(event_id))
            .filter(registrations::status.eq(RegistrationStatus::Waitlisted)),
    ))
    .get_result::<bool>(conn)?)
}

/// How many people wait for a seat.
pub fn waitlist_len(conn: &mut DbConn, event_id: EventId) -> Result<u32, AppError> {
    let n: i64 = registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(RegistrationStatus::Waitlisted))
        .count()
        .get_result(conn)?;
    Ok(n.max(0) as u32)
}

/// Inserts a new registration, or does nothing for an address the event already knows (the
/// unique key of event and address): a known address takes the same statement as a new one.
pub fn insert_unless_known(
    conn: &mut DbConn,
    event_id: EventId,
    request: &SignupRequest,
    place: (RegistrationStatus, Option<i64>),
    manage: (&str, &str),
    now: NaiveDateTime,
) -> Result<Option<RegistrationId>, AppError> {
    let (status, waitlist_seq) = place;
    let (nonce, token_hash) = manage;
    let row = (
        registrations::event_id.eq(event_id),
        registrations::name.eq(request.name.as_str()),
        registrations::email.eq(request.email.as_str()),
        registrations::email_normalized.eq(request.email.normalized()),
        registrations::status.eq(status),
        registrations::waitlist_seq.eq(waitlist_seq),
        registrations::manage_nonce.eq(nonce),
        registrations::manage_token_hash.eq(token_hash),
        registrations::created_at.eq(now),
        registrations::updated_at.eq(now),
        registrations::show_name.eq(request.show_name),
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

pub fn find(
    conn: &mut DbConn,
    registration_id: RegistrationId,
) -> Result<RegistrationRow, AppError> {
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
    registration_ids: &[RegistrationId],
) -> Result<std::collections::HashMap<RegistrationId, MailSubject>, AppError> {
    if registration_ids.is_empty() {
        return Ok(Default::default());
    }
    super::planned_for_values(conn, |conn| read_for_mail(conn, registration_ids))
}

fn read_for_mail(
    conn: &mut DbConn,
    registration_ids: &[RegistrationId],
) -> Result<std::collections::HashMap<RegistrationId, MailSubject>, AppError> {
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
    let memberships: Vec<(RegistrationId, ProjectRow)> = registration_projects::table
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
            .filter(registrations::status.eq(RegistrationStatus::Waitlisted))
            .filter(registrations::waitlist_seq.le(seq))
            .count()
            .get_result::<i64>(conn)?,
    ))
}

/// Every registration of an event for its organizers: going in signup order, then the
/// waitlist in order, then the cancelled.
pub fn list_for_event(
    conn: &mut DbConn,
    event_id: EventId,
) -> Result<Vec<RegistrationView>, AppError> {
    let mut all = Vec::new();
    each_for_event(conn, event_id, 5_000, &mut |views| {
        all.extend(views);
        true
    })?;
    Ok(all)
}

/// The projects each of `rows` joined, by registration (one statement; `rows` are a page or
/// a chunk, well under what a statement may bind).
fn projects_of(
    conn: &mut DbConn,
    rows: &[RegistrationRow],
) -> Result<HashMap<RegistrationId, Vec<ProjectRow>>, AppError> {
    let ids: Vec<RegistrationId> = rows.iter().map(|r| r.id).collect();
    let memberships: Vec<(RegistrationId, ProjectRow)> = registration_projects::table
        .inner_join(projects_table::table)
        .filter(registration_projects::registration_id.eq_any(&ids))
        .order((registration_projects::registration_id, projects_table::id))
        .select((
            registration_projects::registration_id,
            ProjectRow::as_select(),
        ))
        .load(conn)?;
    let mut by_registration: HashMap<RegistrationId, Vec<ProjectRow>> = HashMap::new();
    for (id, project) in memberships {
        by_registration.entry(id).or_default().push(project);
    }
    Ok(by_registration)
}

/// Hands every registration of an event to `take`, `per_chunk` at a time, in the order of
/// [`list_for_event`]: each chunk is read from where the last one ended (by id, or by place
/// on the waitlist), so the whole walk reads each row once however large the event. `take`
/// returns false to stop. Call it inside [`super::consistent_read`] so that the chunks are
/// of one moment.
pub fn each_for_event(
    conn: &mut DbConn,
    event_id: EventId,
    per_chunk: i64,
    take: &mut dyn FnMut(Vec<RegistrationView>) -> bool,
) -> Result<(), AppError> {
    let mut place = 0;
    for status in [
        RegistrationStatus::Going,
        RegistrationStatus::Waitlisted,
        RegistrationStatus::Cancelled,
    ] {
        let waitlist = status == RegistrationStatus::Waitlisted;
        let mut after: Option<i64> = None;
        loop {
            let mut query = registrations::table
                .filter(registrations::event_id.eq(event_id))
                .filter(registrations::status.eq(status))
                .select(RegistrationRow::as_select())
                .limit(per_chunk)
                .into_boxed();
            query = match (waitlist, after) {
                (true, None) => query.order(registrations::waitlist_seq.asc()),
                (true, Some(seq)) => query
                    .filter(registrations::waitlist_seq.gt(seq))
                    .order(registrations::waitlist_seq.asc()),
                (false, None) => query.order(registrations::id.asc()),
                (false, Some(id)) => query
                    .filter(registrations::id.gt(RegistrationId::new(id)))
                    .order(registrations::id.asc()),
            };
            let rows: Vec<RegistrationRow> = query.load(conn)?;
            let Some(last) = rows.last() else { break };
            after = Some(if waitlist {
                last.waitlist_seq.unwrap_or(i64::MAX)
            } else {
                last.id.get()
            });
            let full = rows.len() as i64 == per_chunk;
            let mut projects = projects_of(conn, &rows)?;
            let views = rows
                .into_iter()
                .map(|registration| RegistrationView {
                    waitlist_position: waitlist.then(|| {
                        place += 1;
                        place
                    }),
                    projects: projects.remove(&registration.id).unwrap_or_default(),
                    registration,
                })
                .collect();
            if !take(views) {
                return Ok(());
            }
            if !full {
                break;
            }
        }
    }
    Ok(())
}

/// One page of an event's attendee list, in the order of [`list_for_event`], optionally only
/// those whose name or address contains `search` (any case).
pub struct AttendeePage {
    pub views: Vec<RegistrationView>,
    /// Registrations that match the search (all of them without one).
    pub matching: i64,
    /// Of the whole event: going, waitlisted, cancelled.
    pub counts: (i64, i64, i64),
}

diesel::define_sql_function! {
    /// SQL's `lower`, the same on both databases for the text compared here.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A `LIKE` pattern matching text that contains `search` as typed (`%`, `_` and `\` match
/// only themselves).
fn contains_pattern(search: &str) -> String {
    let mut pattern = String::from("%");
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// One page of an event's attendee list (see [`AttendeePage`]).
pub fn page_for_event(
    conn: &mut DbConn,
    event_id: EventId,
    search: Option<&str>,
    (offset, limit): (i64, i64),
) -> Result<AttendeePage, AppError> {
    use diesel::dsl::sql;
    use diesel::sql_types::Integer;
    let matching = || {
        let mut query = registrations::table
            .filter(registrations::event_id.eq(event_id))
            .into_boxed();
        if let Some(search) = search {
            let pattern = contains_pattern(search);
            query = query.filter(
                lower(registrations::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(registrations::email_normalized.like(pattern).escape('\\')),
            );
        }
        query
    };
    let rank = sql::<Integer>(
        "CASE registrations.status WHEN 'going' THEN 0 WHEN 'waitlisted' THEN 1 ELSE 2 END",
    );
    let rows: Vec<RegistrationRow> = matching()
        .order((
            rank,
            registrations::waitlist_seq.asc(),
            registrations::id.asc(),
        ))
        .offset(offset)
        .limit(limit)
        .select(RegistrationRow::as_select())
        .load(conn)?;
    let by_status: Vec<(RegistrationStatus, i64)> = registrations::table
        .filter(registrations::event_id.eq(event_id))
        .group_by(registrations::status)
        .select((registrations::status, diesel::dsl::count_star()))
        .load(conn)?;
    // Without a search every registration matches: the counts by status add up to them.
    let total: i64 = match search {
        None => by_status.iter().map(|(_, n)| n).sum(),
        Some(_) => matching().count().get_result(conn)?,
    };
    let count = |status| {
        by_status
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    };
    let mut projects = projects_of(conn, &rows)?;
    let mut views = Vec::with_capacity(rows.len());
    // Without a search the waitlisted rows of a page are consecutive places: the first one's
    // place is counted, the rest follow it.
    let mut next_place: Option<i64> = None;
    for registration in rows {
        let place = match (registration.waitlist_seq, search, next_place) {
            (None, _, _) => None,
            (Some(_), None, Some(place)) => Some(place),
            _ => waitlist_position(conn, &registration)?,
        };
        next_place = place.map(|p| p + 1);
        views.push(RegistrationView {
            waitlist_position: place,
            projects: projects.remove(&registration.id).unwrap_or_default(),
            registration,
        });
    }
    Ok(AttendeePage {
        views,
        matching: total,
        counts: (
            count(RegistrationStatus::Going),
            count(RegistrationStatus::Waitlisted),
            count(RegistrationStatus::Cancelled),
        ),
    })
}

/// The going, not opted-out registrations of an event made before `moment` that have no
/// outbox row under their key yet (`{prefix}{registration id}{suffix}`, as `key` names it):
/// the database compares the keys, so a scan that finds nothing to add reads no rows.
pub fn missing_reminder(
    conn: &mut DbConn,
    event_id: EventId,
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
        .filter(registrations::status.eq(RegistrationStatus::Going))
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
    event_id: EventId,
    project_id: Option<ProjectId>,
    skip_muted: bool,
) -> Result<Vec<RegistrationRow>, AppError> {
    let mut query = registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.ne(RegistrationStatus::Cancelled))
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

/// The registration of `email_normalized` at an event, in any status.
pub fn by_address(
    conn: &mut DbConn,
    event_id: EventId,
    email_normalized: &str,
) -> Result<Option<RegistrationRow>, AppError> {
    Ok(registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::email_normalized.eq(email_normalized))
        .select(RegistrationRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// A fresh manage secret: the nonce to store and the hash of the token it derives.
pub fn new_manage_secret(key: &SecretKey) -> (String, String) {
    let nonce = tokens::random_nonce();
    let token_hash = tokens::token_hash(&key.derive_token(MANAGE_PURPOSE, &nonce));
    (nonce, token_hash)
}

/// Someone who cancelled signs up again: the same row (and link) with a new place.
pub fn rejoin(
    conn: &mut DbConn,
    registration_id: RegistrationId,
    request: &SignupRequest,
    place: (RegistrationStatus, Option<i64>),
    now: NaiveDateTime,
) -> Result<RegistrationId, AppError> {
    let (status, waitlist_seq) = place;
    Ok(diesel::update(registrations::table.find(registration_id))
        .set((
            registrations::name.eq(request.name.as_str()),
            registrations::email.eq(request.email.as_str()),
            registrations::status.eq(status),
            registrations::waitlist_seq.eq(waitlist_seq),
            registrations::updated_at.eq(now),
            registrations::show_name.eq(request.show_name),
        ))
        .returning(registrations::id)
        .get_result(conn)?)
}

/// The projects a registration joined, by id.
pub fn project_ids(
    conn: &mut DbConn,
    registration_id: RegistrationId,
) -> Result<Vec<ProjectId>, AppError> {
    Ok(registration_projects::table
        .filter(registration_projects::registration_id.eq(registration_id))
        .select(registration_projects::project_id)
        .load(conn)?)
}

/// The first `n` people of the waitlist, in order.
pub fn waitlist_heads(
    conn: &mut DbConn,
    event_id: EventId,
    n: u32,
) -> Result<Vec<RegistrationRow>, AppError> {
    Ok(registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(RegistrationStatus::Waitlisted))
        .order(registrations::waitlist_seq.asc())
        .limit(i64::from(n))
        .select(RegistrationRow::as_select())
        .load(conn)?)
}

/// Gives a registration a status that holds no waitlist place: `Going` for someone seated
/// from the waitlist, `Cancelled` for a cancellation (the event's seat count is the caller's).
pub fn set_status_off_waitlist(
    conn: &mut DbConn,
    registration_id: RegistrationId,
    status: RegistrationStatus,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(registrations::table.find(registration_id))
        .set((
            registrations::status.eq(status),
            registrations::waitlist_seq.eq(None::<i64>),
            registrations::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Seats every one of `ids` (people at the head of the waitlist), in a few statements.
pub fn seat_from_waitlist(
    conn: &mut DbConn,
    ids: &[RegistrationId],
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    // Well under either database's limit on the values of one statement.
    const IDS_A_STATEMENT: usize = 1000;
    let mut seated = 0;
    for chunk in ids.chunks(IDS_A_STATEMENT) {
        seated += diesel::update(registrations::table.filter(registrations::id.eq_any(chunk)))
            .filter(registrations::status.eq(RegistrationStatus::Waitlisted))
            .set((
                registrations::status.eq(RegistrationStatus::Going),
                registrations::waitlist_seq.eq(None::<i64>),
                registrations::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(seated)
}

/// Notes that a registration changed.
pub fn touch(
    conn: &mut DbConn,
    registration_id: RegistrationId,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(registrations::table.find(registration_id))
        .set(registrations::updated_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// The people going who joined a project.
pub fn going_in_project(
    conn: &mut DbConn,
    project_id: ProjectId,
) -> Result<Vec<RegistrationRow>, AppError> {
    Ok(registrations::table
        .inner_join(registration_projects::table)
        .filter(registration_projects::project_id.eq(project_id))
        .filter(registrations::status.eq(RegistrationStatus::Going))
        .select(RegistrationRow::as_select())
        .load(conn)?)
}

/// Whether a person's name shows among who's going.
pub fn set_show_name(
    conn: &mut DbConn,
    registration_id: RegistrationId,
    show: bool,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    diesel::update(registrations::table.find(registration_id))
        .set((
            registrations::show_name.eq(show),
            registrations::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Who's going, as the event page shows it: the names of at most `limit` people with a seat
/// who asked to be shown, in the order they signed up, each with the projects they joined.
pub fn shown_going(
    conn: &mut DbConn,
    event_id: EventId,
    limit: i64,
) -> Result<Vec<(String, Vec<ProjectId>)>, AppError> {
    let people: Vec<(RegistrationId, String)> = registrations::table
        .filter(registrations::event_id.eq(event_id))
        .filter(registrations::status.eq(RegistrationStatus::Going))
        .filter(registrations::show_name.eq(true))
        .order(registrations::id.asc())
        .limit(limit)
        .select((registrations::id, registrations::name))
        .load(conn)?;
    let ids: Vec<RegistrationId> = people.iter().map(|(id, _)| *id).collect();
    let joined: Vec<(RegistrationId, ProjectId)> = registration_projects::table
        .filter(registration_projects::registration_id.eq_any(&ids))
        .select((
            registration_projects::registration_id,
            registration_projects::project_id,
        ))
        .load(conn)?;
    Ok(people
        .into_iter()
        .map(|(id, name)| {
            let projects = joined
                .iter()
                .filter(|(r, _)| *r == id)
                .map(|(_, p)| *p)
                .collect();
            (name, projects)
        })
        .collect())
}
