//! Signups and registrations: the public signup, the organizer's list, and the attendee's own
//! registration reached through the secret token from their email.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::registrations::RegistrationView;
use crate::domain::drafts::NAME_MAX;
use crate::domain::time::instant_text;
use crate::domain::{EmailAddress, Problems, SignupRequest, Slug, person_name};
use crate::error::AppError;
use crate::http::State;
use crate::http::auth::Organizer;
use crate::service::{self, registrations::SignupOutcome};

/// The most projects one person may join at one event.
pub const PROJECTS_MAX: usize = 50;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupInput {
    pub name: String,
    pub email: String,
    /// Slugs of the projects to join.
    #[serde(default)]
    pub projects: Vec<String>,
    /// Show the name on the event page among who's going (default: not shown).
    #[serde(default)]
    pub show_name: bool,
}

pub fn project_slugs(p: &mut Problems, raw: &[String]) -> Vec<Slug> {
    if raw.len() > PROJECTS_MAX {
        p.add("projects", format!("at most {PROJECTS_MAX} projects"));
        return Vec::new();
    }
    raw.iter()
        .enumerate()
        .filter_map(|(i, s)| p.check(&format!("projects[{i}]"), Slug::parse(s)))
        .collect()
}

impl SignupInput {
    pub fn parse(self) -> Result<SignupRequest, Problems> {
        let mut p = Problems::new();
        let name = p.check("name", person_name(&self.name, NAME_MAX));
        let email = p.check("email", EmailAddress::parse(&self.email));
        let projects = project_slugs(&mut p, &self.projects);
        p.finish()?;
        match (name, email) {
            (Some(name), Some(email)) => Ok(SignupRequest {
                name,
                email,
                projects,
                show_name: self.show_name,
            }),
            _ => Err(Problems::single("name", "is required")),
        }
    }
}

/// The answer to every accepted signup, whether or not the address was known.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignupAccepted {
    pub message: String,
}

pub const CHECK_INBOX: &str = "Thank you. Check your inbox: we have sent the details of your registration, and your private link to manage it, to the address you gave.";

#[utoipa::path(post, path = "/api/v1/events/{slug}/registrations", tag = "registrations", params(("slug" = String, Path)), request_body = SignupInput,
    responses((status = 202, description = "Accepted; the same answer for a new and a known address. Status, position and the manage link go to the address only.", body = SignupAccepted),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 409, description = "Signup is closed (cancelled, over, not open yet, closed)", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, description = "Invalid fields (a name holding a link or an address, too), an unknown or full project", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 429, description = "Too many signups from this client address; `Retry-After` says when to try again", body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn sign_up(
    req: HttpRequest,
    state: State,
    slug: web::Path<String>,
    input: web::Json<SignupInput>,
) -> Result<HttpResponse, AppError> {
    let request = input.into_inner().parse()?;
    perform_signup(&state, &req, slug.into_inner(), request).await?;
    Ok(HttpResponse::Accepted().json(SignupAccepted {
        message: CHECK_INBOX.into(),
    }))
}

/// The signup as the API and the form both make it: within the client address's signup
/// budget, then the use case.
pub async fn perform_signup(
    state: &State,
    req: &HttpRequest,
    slug: String,
    request: SignupRequest,
) -> Result<SignupOutcome, AppError> {
    state.signup_limit.check(state.client(req).ip)?;
    service::registrations::sign_up(&state.service, slug, request).await
}

/// A registration as its owner sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OwnRegistrationBody {
    pub event: String,
    pub event_title: String,
    pub name: String,
    pub email: String,
    #[schema(value_type = crate::domain::RegistrationStatus)]
    pub status: String,
    /// 1 for the head of the waitlist; null unless waitlisted.
    pub waitlist_position: Option<i64>,
    /// Slugs of the projects joined.
    pub projects: Vec<String>,
    /// The attendee's personal calendar feed (every event they signed up for).
    pub feed_url: Option<String>,
    /// Minutes before each start that the personal feed sets an alarm; null: no alarm.
    pub feed_alarm_minutes: Option<i32>,
    /// Whether the name shows on the event page among who's going.
    pub show_name: bool,
}

/// A registration in an organizer's list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegistrationBody {
    pub name: String,
    pub email: String,
    #[schema(value_type = crate::domain::RegistrationStatus)]
    pub status: String,
    pub waitlist_position: Option<i64>,
    pub projects: Vec<String>,
    pub registered_at: String,
    pub updated_at: String,
}

impl From<&RegistrationView> for RegistrationBody {
    fn from(v: &RegistrationView) -> Self {
        Self {
            name: v.registration.name.clone(),
            email: v.registration.email.clone(),
            status: v.registration.status.to_string(),
            waitlist_position: v.waitlist_position,
            projects: v.projects.iter().map(|p| p.slug.clone()).collect(),
            registered_at: instant_text(v.registration.created_at),
            updated_at: instant_text(v.registration.updated_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/events/{slug}/registrations", tag = "registrations", params(("slug" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Going, then the waitlist in order, then the cancelled", body = [RegistrationBody]),
               (status = 401, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn list(
    state: State,
    _organizer: Organizer,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let views = service::registrations::list(&state.service, slug.into_inner()).await?;
    Ok(HttpResponse::Ok().json(views.iter().map(RegistrationBody::from).collect::<Vec<_>>()))
}

async fn own_body(state: &State, token: String) -> Result<OwnRegistrationBody, AppError> {
    let own = service::registrations::own(&state.service, token).await?;
    let v = &own.view.registration;
    Ok(OwnRegistrationBody {
        event: own.event.slug,
        event_title: own.event.title,
        name: v.name.clone(),
        email: v.email.clone(),
        status: v.status.to_string(),
        waitlist_position: own.view.waitlist_position,
        projects: own.view.projects.iter().map(|p| p.slug.clone()).collect(),
        feed_url: own.feed_url,
        feed_alarm_minutes: own.feed_alarm_minutes,
        show_name: v.show_name,
    })
}

#[utoipa::path(get, path = "/api/v1/registrations/{token}", tag = "registrations", params(("token" = String, Path, description = "The secret token from the confirmation email")),
    responses((status = 200, body = OwnRegistrationBody), (status = 404, description = "The same answer for every wrong token", body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn get_own(state: State, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let body = own_body(&state, token.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeProjectsInput {
    /// The complete new list of project slugs.
    pub projects: Vec<String>,
}

#[utoipa::path(patch, path = "/api/v1/registrations/{token}", tag = "registrations", params(("token" = String, Path)), request_body = ChangeProjectsInput,
    responses((status = 200, body = OwnRegistrationBody),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 409, description = "The registration is cancelled", body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn change_own(
    state: State,
    token: web::Path<String>,
    input: web::Json<ChangeProjectsInput>,
) -> Result<HttpResponse, AppError> {
    let mut p = Problems::new();
    let slugs = project_slugs(&mut p, &input.projects);
    p.finish()?;
    let token = token.into_inner();
    service::registrations::change_projects(&state.service, token.clone(), slugs).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(own_body(&state, token).await?))
}

#[utoipa::path(post, path = "/api/v1/registrations/{token}/cancel", tag = "registrations", params(("token" = String, Path)),
    responses((status = 200, description = "Cancelled (again: unchanged); the head of the waitlist moves up", body = OwnRegistrationBody),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn cancel_own(state: State, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    service::registrations::cancel(&state.service, token.clone()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(own_body(&state, token).await?))
}

#[utoipa::path(post, path = "/api/v1/registrations/{token}/feed-token", tag = "registrations", params(("token" = String, Path)),
    responses((status = 200, description = "A new personal feed link; the old one stops working", body = OwnRegistrationBody),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn rotate_feed(state: State, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    service::registrations::rotate_feed(&state.service, token.clone()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(own_body(&state, token).await?))
}

/// The alarm of one's personal feed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedAlarmInput {
    /// Minutes before each start (0 to 10080); null: no alarm, the default.
    #[serde(default, deserialize_with = "crate::http::input::nullable_whole")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10080)]
    pub minutes: Option<Option<i64>>,
}

#[utoipa::path(put, path = "/api/v1/registrations/{token}/feed-alarm", tag = "registrations", params(("token" = String, Path)),
    request_body = FeedAlarmInput,
    responses((status = 200, description = "Every event and session of the personal feed now carries this alarm", body = OwnRegistrationBody),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn set_feed_alarm(
    state: State,
    token: web::Path<String>,
    input: web::Json<FeedAlarmInput>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let minutes = input.minutes.flatten();
    service::registrations::set_feed_alarm(&state.service, token.clone(), minutes).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(own_body(&state, token).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowNameInput {
    /// true: the name shows on the event page among who's going (while going); false: not.
    pub show: bool,
}

#[utoipa::path(put, path = "/api/v1/registrations/{token}/show-name", tag = "registrations", params(("token" = String, Path)),
    request_body = ShowNameInput,
    responses((status = 200, description = "The registration, its name shown or not", body = OwnRegistrationBody),
               (status = 404, body = crate::error::ProblemDocument, content_type = "application/problem+json"),
               (status = 422, body = crate::error::ProblemDocument, content_type = "application/problem+json")))]
pub async fn set_show_name(
    state: State,
    token: web::Path<String>,
    input: web::Json<ShowNameInput>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    service::registrations::set_show_name(&state.service, token.clone(), input.show).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(own_body(&state, token).await?))
}
