//! Projects at an event, their leads, and how many people joined each.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{project_leads, projects, registration_projects, registrations};
use super::{DbConn, is_unique_violation};
use crate::domain::{
    Capacity, EmailAddress, EventId, Lead, LongText, Problems, ProjectDraft, ProjectId,
    RegistrationStatus, SingleLine, Slug, WebUrl,
};
use crate::error::AppError;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = projects)]
pub struct ProjectRow {
    pub id: ProjectId,
    pub event_id: EventId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub repository_url: Option<String>,
    pub notes_url: Option<String>,
    pub location: String,
    pub capacity: Option<i32>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub uid: String,
    /// Raised when the project's room or table changes; added to the event's revision in the
    /// project's calendar feed.
    pub revision: i32,
    /// The sprint board: what the project is doing now, and next.
    pub now_line: String,
    pub next_line: String,
    pub board_updated_at: Option<NaiveDateTime>,
}

impl ProjectRow {
    pub fn capacity(&self) -> Capacity {
        Capacity::from_db(self.capacity)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = project_leads)]
pub struct LeadRow {
    pub id: i64,
    pub project_id: ProjectId,
    pub position: i32,
    pub name: String,
    pub email: Option<String>,
}

/// A project with its leads and the number of active registrations that joined it.
#[derive(Debug, Clone)]
pub struct ProjectDetail {
    pub project: ProjectRow,
    pub leads: Vec<LeadRow>,
    pub joined: i64,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = projects, treat_none_as_null = true)]
struct ProjectColumns<'a> {
    slug: &'a str,
    name: &'a str,
    description: &'a str,
    repository_url: Option<&'a str>,
    notes_url: Option<&'a str>,
    location: &'a str,
    capacity: Option<i32>,
    updated_at: NaiveDateTime,
}

impl<'a> ProjectColumns<'a> {
    fn of(draft: &'a ProjectDraft, now: NaiveDateTime) -> Self {
        Self {
            slug: draft.slug.as_str(),
            name: draft.name.as_str(),
            description: draft.description.as_str(),
            repository_url: draft.repository_url.as_ref().map(WebUrl::as_str),
            notes_url: draft.notes_url.as_ref().map(WebUrl::as_str),
            location: draft.location.as_str(),
            capacity: draft.capacity.as_db(),
            updated_at: now,
        }
    }
}

fn slug_taken(draft: &ProjectDraft) -> AppError {
    AppError::Invalid(Problems::single(
        "slug",
        format!("this event already has a project `{}`", draft.slug),
    ))
}

fn replace_leads(
    conn: &mut DbConn,
    project_id: ProjectId,
    draft: &ProjectDraft,
) -> Result<(), AppError> {
    diesel::delete(project_leads::table.filter(project_leads::project_id.eq(project_id)))
        .execute(conn)?;
    for (position, lead) in draft.leads.iter().enumerate() {
        diesel::insert_into(project_leads::table)
            .values((
                project_leads::project_id.eq(project_id),
                project_leads::position.eq(position as i32),
                project_leads::name.eq(lead.name.as_str()),
                project_leads::email.eq(lead.email.as_ref().map(|e| e.as_str())),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn insert(
    conn: &mut DbConn,
    event_id: EventId,
    draft: &ProjectDraft,
    now: NaiveDateTime,
) -> Result<ProjectRow, AppError> {
    let row = diesel::insert_into(projects::table)
        .values((
            ProjectColumns::of(draft, now),
            projects::event_id.eq(event_id),
            projects::created_at.eq(now),
            projects::uid.eq(uuid::Uuid::new_v4().simple().to_string()),
        ))
        .returning(projects::id)
        .get_result::<ProjectId>(conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                slug_taken(draft)
            } else {
                e.into()
            }
        })?;
    replace_leads(conn, row, draft)?;
    find(conn, row)
}

pub fn update(
    conn: &mut DbConn,
    project_id: ProjectId,
    draft: &ProjectDraft,
    now: NaiveDateTime,
) -> Result<ProjectRow, AppError> {
    let current = find(conn, project_id)?;
    let moved = current.location != draft.location.as_str();
    let row = diesel::update(projects::table.find(project_id))
        .set((
            ProjectColumns::of(draft, now),
            projects::revision.eq(current.revision + i32::from(moved)),
        ))
        .returning(projects::id)
        .get_result::<ProjectId>(conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                slug_taken(draft)
            } else {
                e.into()
            }
        })?;
    replace_leads(conn, row, draft)?;
    find(conn, row)
}

pub fn delete(conn: &mut DbConn, project_id: ProjectId) -> Result<(), AppError> {
    diesel::delete(projects::table.find(project_id)).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConn, project_id: ProjectId) -> Result<ProjectRow, AppError> {
    Ok(projects::table
        .find(project_id)
        .select(ProjectRow::as_select())
        .get_result(conn)?)
}

pub fn find_by_slug(
    conn: &mut DbConn,
    event_id: EventId,
    slug: &str,
) -> Result<ProjectRow, AppError> {
    if crate::domain::Slug::parse(slug).is_err() {
        return Err(AppError::not_found(format!(
            "no project `{}` at this event",
            slug.escape_default()
        )));
    }
    projects::table
        .filter(projects::event_id.eq(event_id))
        .filter(projects::slug.eq(slug))
        .select(ProjectRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found(format!("no project `{slug}` at this event")))
}

pub fn for_event(conn: &mut DbConn, event_id: EventId) -> Result<Vec<ProjectRow>, AppError> {
    Ok(projects::table
        .filter(projects::event_id.eq(event_id))
        .order((projects::name.asc(), projects::id.asc()))
        .select(ProjectRow::as_select())
        .load(conn)?)
}

/// How many active (going or waitlisted) registrations joined each of `project_ids`.
pub fn joined_counts(
    conn: &mut DbConn,
    project_ids: &[ProjectId],
) -> Result<Vec<(ProjectId, i64)>, AppError> {
    Ok(registration_projects::table
        .inner_join(registrations::table)
        .filter(registration_projects::project_id.eq_any(project_ids))
        .filter(registrations::status.ne(RegistrationStatus::Cancelled))
        .group_by(registration_projects::project_id)
        .select((registration_projects::project_id, diesel::dsl::count_star()))
        .load(conn)?)
}

pub fn details(conn: &mut DbConn, rows: Vec<ProjectRow>) -> Result<Vec<ProjectDetail>, AppError> {
    let ids: Vec<ProjectId> = rows.iter().map(|p| p.id).collect();
    let counts = joined_counts(conn, &ids)?;
    let leads: Vec<LeadRow> = project_leads::table
        .filter(project_leads::project_id.eq_any(&ids))
        .order((
            project_leads::project_id.asc(),
            project_leads::position.asc(),
        ))
        .select(LeadRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|project| ProjectDetail {
            joined: counts
                .iter()
                .find(|(id, _)| *id == project.id)
                .map_or(0, |(_, n)| *n),
            leads: leads
                .iter()
                .filter(|l| l.project_id == project.id)
                .cloned()
                .collect(),
            project,
        })
        .collect())
}

pub fn details_for_event(
    conn: &mut DbConn,
    event_id: EventId,
) -> Result<Vec<ProjectDetail>, AppError> {
    let rows = for_event(conn, event_id)?;
    details(conn, rows)
}

impl ProjectDetail {
    /// The stored project as a draft, to apply a change to.
    pub fn to_draft(&self) -> Result<ProjectDraft, AppError> {
        let d = self;
        let stored = |e: String| {
            AppError::Internal(anyhow::anyhow!(
                "stored project {} is invalid: {e}",
                d.project.slug
            ))
        };
        let p = &d.project;
        Ok(ProjectDraft {
            slug: Slug::parse(&p.slug).map_err(stored)?,
            name: SingleLine::parse_optional(&p.name, usize::MAX).map_err(stored)?,
            description: LongText::parse(&p.description, usize::MAX).map_err(stored)?,
            repository_url: p
                .repository_url
                .as_deref()
                .map(WebUrl::parse)
                .transpose()
                .map_err(stored)?,
            notes_url: p
                .notes_url
                .as_deref()
                .map(WebUrl::parse)
                .transpose()
                .map_err(stored)?,
            location: SingleLine::parse_optional(&p.location, usize::MAX).map_err(stored)?,
            capacity: p.capacity(),
            leads: d
                .leads
                .iter()
                .map(|l| {
                    Ok(Lead {
                        name: SingleLine::parse_optional(&l.name, usize::MAX).map_err(stored)?,
                        email: l
                            .email
                            .as_deref()
                            .map(EmailAddress::parse)
                            .transpose()
                            .map_err(stored)?,
                    })
                })
                .collect::<Result<_, AppError>>()?,
        })
    }
}
