//! The signed-in organizer's API tokens as a page: the list (never the secrets), a form that
//! creates one and shows its secret once, and a revoke button per token. The rules are those
//! of `convene organizer token` (`domain::api_token`, `service::organizers`).

use actix_web::http::StatusCode;
use askama::Template;
use serde::Deserialize;

use crate::domain::TokenRequest;
use crate::error::AppError;
use crate::http::State;
use crate::http::pages::admin::Admin;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::organizers::{ApiTokenRow, MAX_API_TOKENS};
use crate::domain::api_token::{LABEL_MAX, expiry_text, time_text};
use crate::http::pages::site::{
    HtmlForm, PageError, check_csrf, csrf_token, problem_for, render, see_other,
};
use crate::service;

/// The lifetimes offered in the form, as `--expires-in` takes them.
const LIFETIMES: &[(&str, &str)] = &[
    ("", "Never (until revoked)"),
    ("7d", "In 7 days"),
    ("30d", "In 30 days"),
    ("90d", "In 90 days"),
    ("365d", "In a year"),
];

struct TokenLine {
    id: i64,
    label: String,
    created: String,
    last_used: String,
    expires: String,
}

struct CreatedToken {
    id: i64,
    label: String,
    secret: String,
    expires: String,
}

#[derive(Default)]
struct FormView {
    label: String,
    expires_in: String,
    expires_at: String,
    label_problem: Option<String>,
    expires_in_problem: Option<String>,
    expires_at_problem: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct TokensPage {
    csrf: String,
    tokens: Vec<TokenLine>,
    created: Option<CreatedToken>,
    refused: Option<String>,
    form: FormView,
    lifetimes: &'static [(&'static str, &'static str)],
    max_tokens: i64,
    label_max: usize,
}

/// Renders the page; it may show a secret, so nobody keeps a copy.
async fn page(
    req: &HttpRequest,
    state: &State,
    organizer_id: i64,
    status: StatusCode,
    created: Option<CreatedToken>,
    refused: Option<String>,
    form: FormView,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let rows: Vec<ApiTokenRow> = service::organizers::tokens(&state.service, organizer_id).await?;
    let tokens = rows
        .into_iter()
        .map(|t| TokenLine {
            id: t.id,
            label: t.label,
            created: time_text(t.created_at),
            last_used: t.last_used_at.map_or_else(|| "never".to_owned(), time_text),
            expires: expiry_text(t.expires_at, now),
        })
        .collect();
    let (csrf, cookie) = csrf_token(req, &state.links);
    let mut response = render(
        status,
        &TokensPage {
            csrf,
            tokens,
            created,
            refused,
            form,
            lifetimes: LIFETIMES,
            max_tokens: MAX_API_TOKENS,
            label_max: LABEL_MAX,
        },
    )?;
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(crate::http::pages::site::with_cookie(response, cookie))
}

pub async fn list(req: HttpRequest, state: State, admin: Admin) -> Result<HttpResponse, PageError> {
    page(
        &req,
        &state,
        admin.0.id,
        StatusCode::OK,
        None,
        None,
        FormView::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    expires_in: String,
    #[serde(default)]
    expires_at: String,
}

/// Creates a token and answers with the page showing its secret (not a redirect: the secret
/// must not travel in a URL or be shown twice).
pub async fn create(
    req: HttpRequest,
    state: State,
    admin: Admin,
    form: HtmlForm<CreateForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let now = state.clock.now();
    let organizer_id = admin.0.id;
    let parsed = TokenRequest::parse(
        &form.label,
        Some(&form.expires_in),
        Some(&form.expires_at),
        now,
    );
    let mut view = FormView {
        label: form.label,
        expires_in: form.expires_in,
        expires_at: form.expires_at,
        ..FormView::default()
    };
    let request = match parsed {
        Ok(request) => request,
        Err(problems) => {
            let list = problems.list();
            view.label_problem = problem_for(list, "label").map(str::to_owned);
            view.expires_in_problem = problem_for(list, "expires_in").map(str::to_owned);
            view.expires_at_problem = problem_for(list, "expires_at").map(str::to_owned);
            return page(
                &req,
                &state,
                organizer_id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                view,
            )
            .await;
        }
    };
    let created = service::organizers::create_token(&state.service, organizer_id, request).await;
    match created {
        Ok((row, secret)) => {
            let created = CreatedToken {
                id: row.id,
                label: row.label,
                secret,
                expires: expiry_text(row.expires_at, now),
            };
            page(
                &req,
                &state,
                organizer_id,
                StatusCode::CREATED,
                Some(created),
                None,
                FormView::default(),
            )
            .await
        }
        Err(AppError::Conflict(message)) => {
            page(
                &req,
                &state,
                organizer_id,
                StatusCode::CONFLICT,
                None,
                Some(message),
                view,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

pub async fn revoke(
    req: HttpRequest,
    state: State,
    admin: Admin,
    id: web::Path<i64>,
    form: HtmlForm<RevokeForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    let (organizer_id, id) = (admin.0.id, id.into_inner());
    service::organizers::revoke_token(&state.service, organizer_id, id).await?;
    Ok(see_other("/admin/tokens"))
}
