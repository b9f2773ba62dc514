//! Logging in and out. Attempts are limited per account and address (see `http::limits`).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::SESSION_COOKIE;
use crate::db::organizers::SESSION_DAYS;
use crate::error::AppError;
use crate::http::State;
use crate::http::pages::site::{
    HtmlForm, PageError, check_csrf, csrf_token, render, see_other, with_cookie,
};
use crate::service;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    failed: bool,
    limited: bool,
}

pub async fn login_page(req: HttpRequest, state: State) -> Result<HttpResponse, PageError> {
    let (csrf, cookie) = csrf_token(&req, &state.links);
    Ok(with_cookie(
        render(
            StatusCode::OK,
            &LoginPage {
                csrf,
                email: String::new(),
                failed: false,
                limited: false,
            },
        )?,
        cookie,
    ))
}

/// Marks a browser that logged into an account before: its login attempts for that account
/// are not held up by guessers at the same address (see `limits::LoginLimit`). A MAC of the
/// account under the server key, so it cannot be made without the key, and it opens nothing:
/// the password is still checked.
const DEVICE_COOKIE: &str = "convene_known_login";

fn device_token(key: &crate::tokens::SecretKey, email: &str) -> String {
    key.derive_token("login-device", &email.trim().to_lowercase())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn login(
    req: HttpRequest,
    state: State,
    form: HtmlForm<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let client = state.client(&req).ip;
    let device = device_token(&state.key, &form.email);
    let known_device = req
        .cookie(DEVICE_COOKIE)
        .is_some_and(|c| crate::tokens::same(c.value(), &device));
    // Failed logins slow further attempts for that account from that address, and for the
    // address (a browser that logged into the account before is counted on its own); a wait
    // within bounds is served here, beyond it the answer is 429.
    let admitted = state.login_limit.admit(client, &form.email, known_device);
    if let Ok(wait) = admitted {
        tokio::time::sleep(wait).await;
    }
    if let Err(retry_after) = admitted {
        let (csrf, cookie) = csrf_token(&req, &state.links);
        let mut response = render(
            StatusCode::TOO_MANY_REQUESTS,
            &LoginPage {
                csrf,
                email: form.email,
                failed: false,
                limited: true,
            },
        )?;
        response.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(retry_after),
        );
        return Ok(with_cookie(response, cookie));
    }
    // A new session id on every login.
    let organizer = service::organizers::authenticate(
        &state.service,
        form.email.clone(),
        form.password.clone(),
    )
    .await?;
    state
        .login_limit
        .record(client, &form.email, organizer.is_some(), known_device);
    let session = match organizer {
        Some(o) => Some(service::organizers::start_session(&state.service, o.id).await?),
        None => None,
    };
    match session {
        Some(token) => {
            let cookie = Cookie::build(SESSION_COOKIE, token)
                .path("/")
                .http_only(true)
                .secure(state.links.is_https())
                .same_site(SameSite::Lax)
                .max_age(actix_web::cookie::time::Duration::days(SESSION_DAYS))
                .finish();
            let mut response = with_cookie(see_other("/admin"), Some(cookie));
            let known = Cookie::build(DEVICE_COOKIE, device)
                .path("/login")
                .http_only(true)
                .secure(state.links.is_https())
                .same_site(SameSite::Strict)
                .max_age(actix_web::cookie::time::Duration::days(180))
                .finish();
            response
                .add_cookie(&known)
                .map_err(|e| AppError::Internal(e.into()))?;
            Ok(response)
        }
        None => {
            let (csrf, cookie) = csrf_token(&req, &state.links);
            Ok(with_cookie(
                render(
                    StatusCode::UNAUTHORIZED,
                    &LoginPage {
                        csrf,
                        email: form.email,
                        failed: true,
                        limited: false,
                    },
                )?,
                cookie,
            ))
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    req: HttpRequest,
    state: State,
    form: HtmlForm<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, &state.links, &form.0.csrf)?;
    if let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        service::organizers::end_session(&state.service, token).await?;
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone.make_removal();
    Ok(with_cookie(see_other("/"), Some(gone)))
}
