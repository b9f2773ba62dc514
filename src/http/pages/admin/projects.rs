//! The project form: adding, changing and removing an event's projects.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::login::CsrfForm;
use super::{Admin, FormField, field, form_capacity};
use crate::domain::{FieldProblem, Problems};
use crate::http::State;
use crate::http::api::projects::{LeadInput, ProjectInput};
use crate::http::pages::site::{
    ConfirmPage, HtmlForm, PageError, check_csrf, confirm, csrf_token, redirect_or_form_again,
    render, see_other, with_cookie,
};
use crate::service;

/// A form sent back with its problems.
const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

#[derive(Deserialize, Default, Clone)]
pub struct ProjectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    repository_url: String,
    #[serde(default)]
    notes_url: String,
    #[serde(default)]
    capacity: String,
    /// One lead per line: `Name` or `Name <email>`.
    #[serde(default)]
    leads: String,
}

impl ProjectForm {
    fn input(&self, creating: bool) -> Result<ProjectInput, Problems> {
        let capacity = form_capacity(&self.capacity)?;
        let leads = self
            .leads
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| match line.split_once('<') {
                Some((name, rest)) => LeadInput {
                    name: name.trim().to_owned(),
                    email: Some(rest.trim_end_matches('>').trim().to_owned()),
                },
                None => LeadInput {
                    name: line.to_owned(),
                    email: None,
                },
            })
            .collect();
        Ok(ProjectInput {
            slug: (!self.slug.trim().is_empty() || !creating)
                .then(|| self.slug.clone())
                .filter(|s| !s.trim().is_empty()),
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            repository_url: Some(Some(self.repository_url.clone())),
            notes_url: Some(Some(self.notes_url.clone())),
            location: Some(self.location.clone()),
            capacity: Some(capacity),
            leads: Some(leads),
        })
    }

    fn fields(&self, problems: &[FieldProblem]) -> Vec<FormField> {
        vec![
            field("name", "Name", "", "text", &self.name, problems),
            field(
                "slug",
                "Address",
                "(made from the name if empty)",
                "text",
                &self.slug,
                problems,
            ),
            field(
                "location",
                "Room or table",
                "",
                "text",
                &self.location,
                problems,
            ),
            field(
                "description",
                "What it is",
                "",
                "textarea",
                &self.description,
                problems,
            ),
            field(
                "repository_url",
                "Repository",
                "(https://...)",
                "text",
                &self.repository_url,
                problems,
            ),
            field(
                "notes_url",
                "Notes pad",
                "(https://...)",
                "text",
                &self.notes_url,
                problems,
            ),
            field(
                "capacity",
                "Places",
                "(empty: no limit)",
                "text",
                &self.capacity,
                problems,
            ),
            field(
                "leads",
                "Leads",
                "(one per line: Name <email>; addresses are never shown)",
                "textarea",
                &self.leads,
                problems,
            ),
        ]
    }
}

#[derive(Template)]
#[template(path = "admin/project_form.html")]
struct ProjectFormPage {
    csrf: String,
    editing: bool,
    slug: String,
    project_slug: String,
    event_title: String,
    name: String,
    fields: Vec<FormField>,
    problems: Vec<FieldProblem>,
}

async fn project_form(
    req: &HttpRequest,
    state: &State,
    slug: String,
    project: Option<String>,
    f: ProjectForm,
    problems: Vec<FieldProblem>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let event = service::events::get(&state.service, slug.clone())
        .await?
        .event;
    let (csrf, cookie) = csrf_token(req, &state.links);
    let page = ProjectFormPage {
        csrf,
        editing: project.is_some(),
        project_slug: project.unwrap_or_default(),
        slug,
        event_title: event.title,
        name: f.name.clone(),
        fields: f.fields(&problems),
        problems,
    };
    Ok(with_cookie(render(status, &page)?, cookie))
}

pub async fn new_project(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    project_form(
        &req,
        &state,
        slug.into_inner(),
        None,
        ProjectForm::default(),
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn create_project(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
    form: HtmlForm<ProjectForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let slug = slug.into_inner();
    let outcome = match form.input(true).and_then(|i| i.into_draft(None)) {
        Ok(draft) => service::projects::create(&state.service, slug.clone(), draft).await,
        Err(problems) => Err(problems.into()),
    };
    let done = |_| format!("/admin/events/{slug}?done=project");
    let again = |problems| project_form(&req, &state, slug.clone(), None, form, problems, INVALID);
    redirect_or_form_again(outcome, done, again).await
}

pub async fn edit_project(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (slug, project) = path.into_inner();
    let detail = service::projects::get(&state.service, slug.clone(), project.clone()).await?;
    let p = &detail.project;
    let form = ProjectForm {
        csrf: String::new(),
        name: p.name.clone(),
        slug: p.slug.clone(),
        description: p.description.clone(),
        location: p.location.clone(),
        repository_url: p.repository_url.clone().unwrap_or_default(),
        notes_url: p.notes_url.clone().unwrap_or_default(),
        capacity: p.capacity.map(|c| c.to_string()).unwrap_or_default(),
        leads: detail
            .leads
            .iter()
            .map(|l| match &l.email {
                Some(e) => format!("{} <{e}>", l.name),
                None => l.name.clone(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    };
    project_form(
        &req,
        &state,
        slug,
        Some(project),
        form,
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn update_project(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    path: web::Path<(String, String)>,
    form: HtmlForm<ProjectForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let (slug, project) = path.into_inner();
    let outcome = match form.input(false) {
        Ok(input) => {
            let apply = move |current| input.into_draft(Some(current));
            service::projects::change(&state.service, slug.clone(), project.clone(), apply).await
        }
        Err(problems) => Err(problems.into()),
    };
    let done = |_| format!("/admin/events/{slug}?done=project");
    let again = |problems| {
        let project = Some(project.clone());
        project_form(&req, &state, slug.clone(), project, form, problems, INVALID)
    };
    redirect_or_form_again(outcome, done, again).await
}

/// "Remove" a project: asks first.
pub async fn delete_project_confirm(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let (slug, project) = path.into_inner();
    let detail = service::projects::get(&state.service, slug.clone(), project.clone()).await?;
    let question = format!("Remove {}?", detail.project.name);
    let consequence = format!(
        "The project leaves the event page, the board and the feeds, with its sessions. The {} people who joined it stay registered for the event, without it.",
        detail.joined
    );
    let action = format!("/admin/events/{slug}/projects/{project}/delete");
    let back = format!("/admin/events/{slug}");
    confirm(
        &req,
        &state.links,
        ConfirmPage {
            question: &question,
            consequence: &consequence,
            action: &action,
            csrf: String::new(),
            yes: "Yes, remove the project",
            no: "No, keep it",
            back: &back,
        },
    )
}

pub async fn delete_project(
    req: HttpRequest,
    state: State,
    _admin: Admin,
    path: web::Path<(String, String)>,
    form: HtmlForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let (slug, project) = path.into_inner();
    service::projects::remove(&state.service, slug.clone(), project).await?;
    Ok(see_other(&format!("/admin/events/{slug}?done=project")))
}
