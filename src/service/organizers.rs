//! Organizers: adding one, logging in and out, and the API tokens scripts call the API with.
//! Passwords, sessions and tokens are stored as hashes only; a secret is shown once, when made.

use super::Service;
use crate::db::organizers::{self, ApiTokenRow, NewCredentials, OrganizerRow};
use crate::domain::{EmailAddress, SingleLine, TokenRequest};
use crate::error::AppError;

/// Adds an organizer with a generated password and a first API token, both shown only now;
/// an address already taken is a field error.
pub async fn add(
    service: &Service,
    email: EmailAddress,
    name: SingleLine,
) -> Result<NewCredentials, AppError> {
    let now = service.clock.now();
    service
        .write(move |conn, _fx| organizers::create(conn, &email, &name, now))
        .await
}

/// The organizer with this address, if there is one.
pub async fn by_email(
    service: &Service,
    email: EmailAddress,
) -> Result<Option<OrganizerRow>, AppError> {
    service
        .read(move |conn| organizers::by_email(conn, &email))
        .await
}

/// The organizer whose password this is; `None` for an unknown address and a wrong password
/// alike, after the same slow check.
pub async fn authenticate(
    service: &Service,
    email: String,
    password: String,
) -> Result<Option<OrganizerRow>, AppError> {
    // The slow password check runs outside any write transaction.
    service
        .read(move |conn| organizers::authenticate(conn, &email, &password))
        .await
}

/// Logs an organizer in: a new session, whose secret (for the cookie) is returned.
pub async fn start_session(service: &Service, organizer_id: i64) -> Result<String, AppError> {
    let now = service.clock.now();
    service
        .write(move |conn, _fx| organizers::start_session(conn, organizer_id, now))
        .await
}

/// The organizer logged in with this session secret, if the session is still open.
pub async fn by_session(
    service: &Service,
    token: String,
) -> Result<Option<OrganizerRow>, AppError> {
    let now = service.clock.now();
    service
        .read(move |conn| organizers::by_session(conn, &token, now))
        .await
}

/// Logs out: the session ends, on every device that held its secret.
pub async fn end_session(service: &Service, token: String) -> Result<(), AppError> {
    service
        .write(move |conn, _fx| organizers::end_session(conn, &token))
        .await
}

/// The organizer whose API token this is, if it is valid now (neither wrong, nor revoked, nor
/// expired: all three look the same to the caller). Notes the token's use, to the hour.
pub async fn by_api_token(
    service: &Service,
    token: String,
) -> Result<Option<OrganizerRow>, AppError> {
    let now = service.clock.now();
    let Some(found) = service
        .read(move |conn| organizers::by_api_token(conn, &token, now))
        .await?
    else {
        return Ok(None);
    };
    if found.note_use {
        let id = found.token_id;
        // Pages and feeds never show it, so their kept reads stay valid; a failure here
        // costs only the "last used" figure, not the request.
        if let Err(e) = service
            .db
            .write_outbox(move |conn| organizers::note_api_token_use(conn, id, now))
            .await
        {
            tracing::warn!(error = %e, "could not note an API token's use");
        }
    }
    Ok(Some(found.organizer))
}

/// The organizer's API tokens, oldest first, expired ones included (until the next creation
/// removes them), so that the owner sees why a script stopped working. Never their secrets.
pub async fn tokens(service: &Service, organizer_id: i64) -> Result<Vec<ApiTokenRow>, AppError> {
    service
        .read(move |conn| organizers::list_api_tokens(conn, organizer_id))
        .await
}

/// Issues the organizer a new API token; returns it with its secret, shown once. Beyond
/// [`organizers::MAX_API_TOKENS`] the answer is a conflict: revoke one first.
pub async fn create_token(
    service: &Service,
    organizer_id: i64,
    request: TokenRequest,
) -> Result<(ApiTokenRow, String), AppError> {
    let now = service.clock.now();
    service
        .write(move |conn, _fx| organizers::create_api_token(conn, organizer_id, &request, now))
        .await
}

/// Revokes one of the organizer's own API tokens: it stops working at once. Any other id is
/// "no such token".
pub async fn revoke_token(service: &Service, organizer_id: i64, id: i64) -> Result<(), AppError> {
    service
        .write(move |conn, _fx| organizers::revoke_api_token(conn, organizer_id, id))
        .await
}
