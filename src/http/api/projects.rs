//! `/api/v1/events/{slug}/projects`: the projects at an event, their leads and tables.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::projects::ProjectDetail;
use crate::domain::drafts::{DESCRIPTION_MAX, LEADS_MAX, NAME_MAX, PLACE_MAX, TITLE_MAX};
use crate::domain::{
    Capacity, EmailAddress, Lead, LongText, Problems, ProjectDraft, SingleLine, Slug, WebUrl,
};
use crate::error::AppError;
use crate::http::State;
use crate::http::auth::Organizer;
use crate::http::input::{nullable, nullable_whole};
use crate::service;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LeadBody {
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectBody {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub repository_url: Option<String>,
    pub notes_url: Option<String>,
    /// Room or table.
    pub location: String,
    /// Places; null means unlimited.
    pub capacity: Option<i32>,
    /// Names only: leads' addresses are never shown.
    pub leads: Vec<LeadBody>,
    /// Active registrations that joined this project.
    pub joined_count: i64,
}

impl From<&ProjectDetail> for ProjectBody {
    fn from(d: &ProjectDetail) -> Self {
        let p = &d.project;
        Self {
            slug: p.slug.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            repository_url: p.repository_url.clone(),
            notes_url: p.notes_url.clone(),
            location: p.location.clone(),
            capacity: p.capacity,
            leads: d
                .leads
                .iter()
                .map(|l| LeadBody {
                    name: l.name.clone(),
                })
                .collect(),
            joined_count: d.joined,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadInput {
    pub name: String,
    pub email: Option<String>,
}

/// A project to create (name required) or the fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    /// Made from the name when left out on creation.
    #[schema(pattern = r"^\s*[a-z0-9]+(-[a-z0-9]+)*\s*$")]
    pub slug: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// An http(s) URL; empty or null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "uri-reference")]
    pub repository_url: Option<Option<String>>,
    /// An http(s) URL; empty or null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "uri-reference")]
    pub notes_url: Option<Option<String>>,
    pub location: Option<String>,
    #[serde(default, deserialize_with = "nullable_whole")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 100_000)]
    pub capacity: Option<Option<i64>>,
    /// Replaces the leads when given.
    pub leads: Option<Vec<LeadInput>>,
}

fn url_field(
    p: &mut Problems,
    field: &str,
    value: Option<Option<String>>,
) -> Option<Option<WebUrl>> {
    value.map(|v| {
        v.filter(|s| !s.trim().is_empty())
            .and_then(|s| p.check(field, WebUrl::parse(&s)))
    })
}

impl ProjectInput {
    pub fn into_draft(self, base: Option<ProjectDraft>) -> Result<ProjectDraft, Problems> {
        let mut p = Problems::new();
        if base.is_none() && self.name.is_none() {
            p.add("name", "is required");
        }
        let name = self
            .name
            .as_deref()
            .and_then(|n| p.check("name", SingleLine::parse(n, TITLE_MAX)));
        let slug = match (&self.slug, &name, &base) {
            (Some(s), _, _) => p.check("slug", Slug::parse(s)),
            (None, Some(n), None) => p.check(
                "slug",
                Slug::from_title(n.as_str())
                    .ok_or_else(|| "could not be made from the name; give one".to_owned()),
            ),
            _ => None,
        };
        let description = self
            .description
            .as_deref()
            .and_then(|d| p.check("description", LongText::parse(d, DESCRIPTION_MAX)));
        let repository_url = url_field(&mut p, "repository_url", self.repository_url);
        let notes_url = url_field(&mut p, "notes_url", self.notes_url);
        let location = self
            .location
            .as_deref()
            .and_then(|l| p.check("location", SingleLine::parse_optional(l, PLACE_MAX)));
        let capacity = self
            .capacity
            .and_then(|c| p.check("capacity", Capacity::parse(c)));
        let leads = self.leads.map(|leads| {
            if leads.len() > LEADS_MAX {
                p.add("leads", format!("at most {LEADS_MAX} leads"));
            }
            leads
                .iter()
                .enumerate()
                .filter_map(|(i, l)| {
                    let name = p.check(
                        &format!("leads[{i}].name"),
                        SingleLine::parse(&l.name, NAME_MAX),
                    );
                    let email = match l.email.as_deref().filter(|e| !e.trim().is_empty()) {
                        Some(e) => {
                            Some(p.check(&format!("leads[{i}].email"), EmailAddress::parse(e))?)
                        }
                        None => None,
                    };
                    Some(Lead { name: name?, email })
                })
                .collect::<Vec<_>>()
        });
        p.finish()?;
        let empty = || SingleLine::parse_optional("", 1).expect("empty text is valid");
        Ok(match base {
            None => ProjectDraft {
                slug: slug.ok_or_else(|| Problems::single("slug", "is required"))?,
                name: name.ok_or_else(|| Problems::single("name", "is required"))?,
                description: description
                    .unwrap_or_else(|| LongText::parse("", 1).expect("empty text is valid")),
                repository_url: repository_url.flatten(),
                notes_url: notes_url.flatten(),
                location: location.unwrap_or_else(empty),
                capacity: capacity.unwrap_or(Capacity::UNLIMITED),
                leads: leads.unwrap_or_default(),
            },
            Some(b) => ProjectDraft {
                slug: slug.unwrap_or(b.slug),
                name: name.unwrap_or(b.name),
                description: description.unwrap_or(b.description),
                repository_url: repository_url.unwrap_or(b.repository_url),
                notes_url: notes_url.unwrap_or(b.notes_url),
                location: location.unwrap_or(b.location),
                capacity: capacity.unwrap_or(b.capacity),
                leads: leads.unwrap_or(b.leads),
            },
        })
    }
}

#[utoipa::path(get, path = "/api/v1/events/{slug}/projects", tag = "projects", params(("slug" = String, Path)),
    responses((status = 200, body = [ProjectBody]), (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn list(
    state: State,
    organizer: Option<Organizer>,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let slug = slug.into_inner();
    visible(&state, organizer.as_ref(), &slug).await?;
    let details = service::projects::list(&state.service, slug).await?;
    Ok(HttpResponse::Ok().json(details.iter().map(ProjectBody::from).collect::<Vec<_>>()))
}

#[utoipa::path(post, path = "/api/v1/events/{slug}/projects", tag = "projects", params(("slug" = String, Path)), request_body = ProjectInput, security(("bearer" = [])),
    responses((status = 201, body = ProjectBody),
               (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn create(
    state: State,
    _organizer: Organizer,
    slug: web::Path<String>,
    input: web::Json<ProjectInput>,
) -> Result<HttpResponse, AppError> {
    let draft = input.into_inner().into_draft(None)?;
    let detail = service::projects::create(&state.service, slug.into_inner(), draft).await?;
    Ok(HttpResponse::Created().json(ProjectBody::from(&detail)))
}

#[utoipa::path(get, path = "/api/v1/events/{slug}/projects/{project}", tag = "projects", params(("slug" = String, Path), ("project" = String, Path)),
    responses((status = 200, body = ProjectBody), (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn get(
    state: State,
    organizer: Option<Organizer>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (slug, project) = path.into_inner();
    visible(&state, organizer.as_ref(), &slug).await?;
    let detail = service::projects::get(&state.service, slug, project).await?;
    Ok(HttpResponse::Ok().json(ProjectBody::from(&detail)))
}

#[utoipa::path(patch, path = "/api/v1/events/{slug}/projects/{project}", tag = "projects", params(("slug" = String, Path), ("project" = String, Path)), request_body = ProjectInput, security(("bearer" = [])),
    responses((status = 200, body = ProjectBody),
               (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn update(
    state: State,
    _organizer: Organizer,
    path: web::Path<(String, String)>,
    input: web::Json<ProjectInput>,
) -> Result<HttpResponse, AppError> {
    let ((slug, project), input) = (path.into_inner(), input.into_inner());
    let detail = service::projects::change(&state.service, slug, project, move |current| {
        input.into_draft(Some(current))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ProjectBody::from(&detail)))
}

#[utoipa::path(delete, path = "/api/v1/events/{slug}/projects/{project}", tag = "projects", params(("slug" = String, Path), ("project" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Removed; registrations stay, without this project"),
               (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn delete(
    state: State,
    _organizer: Organizer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (slug, project) = path.into_inner();
    service::projects::remove(&state.service, slug, project).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The projects of a draft are for organizers only: to anybody else its event is not found.
async fn visible(state: &State, organizer: Option<&Organizer>, slug: &str) -> Result<(), AppError> {
    if organizer.is_none() {
        service::events::find(&state.service, slug.to_owned())
            .await?
            .public()?;
    }
    Ok(())
}
