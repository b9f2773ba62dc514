//! Organizers and their API tokens (both stored as hashes only).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{api_tokens, organizers, sessions};
use super::{DbConn, is_unique_violation};
use crate::domain::{EmailAddress, Problems, SingleLine, TokenRequest};
use crate::error::AppError;
use crate::tokens;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizers)]
pub struct OrganizerRow {
    pub id: i64,
    pub email: String,
    pub email_normalized: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
}

/// A new organizer's credentials, shown once and never stored in clear.
pub struct NewCredentials {
    pub organizer: OrganizerRow,
    pub password: String,
    pub api_token: String,
}

pub fn create(
    conn: &mut DbConn,
    email: &EmailAddress,
    name: &SingleLine,
    now: NaiveDateTime,
) -> Result<NewCredentials, AppError> {
    let password = tokens::random_password();
    let organizer = diesel::insert_into(organizers::table)
        .values((
            organizers::email.eq(email.as_str()),
            organizers::email_normalized.eq(email.normalized()),
            organizers::name.eq(name.as_str()),
            organizers::password_hash.eq(tokens::hash_password(&password)?),
            organizers::created_at.eq(now),
        ))
        .returning(organizers::id)
        .get_result::<i64>(conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                AppError::Invalid(Problems::single(
                    "email",
                    "an organizer with this email already exists",
                ))
            } else {
                e.into()
            }
        })?;
    let organizer: OrganizerRow = organizers::table
        .find(organizer)
        .select(OrganizerRow::as_select())
        .get_result(conn)?;
    let (_, api_token) =
        insert_api_token(conn, organizer.id, "created with the organizer", None, now)?;
    Ok(NewCredentials {
        organizer,
        password,
        api_token,
    })
}

/// An API token as its owner sees it in a list: never the secret, which is not stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiTokenRow {
    pub id: i64,
    pub organizer_id: i64,
    pub label: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

/// How many API tokens one organizer may hold at once.
pub const MAX_API_TOKENS: i64 = 50;

/// `last_used_at` is kept to the hour: a script calling every second writes once an hour.
const LAST_USED_PRECISION: chrono::TimeDelta = chrono::TimeDelta::hours(1);

fn insert_api_token(
    conn: &mut DbConn,
    organizer_id: i64,
    label: &str,
    expires_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<(ApiTokenRow, String), AppError> {
    let token = tokens::random_token();
    let row = diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::organizer_id.eq(organizer_id),
            api_tokens::token_hash.eq(tokens::token_hash(&token)),
            api_tokens::label.eq(label),
            api_tokens::created_at.eq(now),
            api_tokens::expires_at.eq(expires_at),
        ))
        .returning(api_tokens::id)
        .get_result::<i64>(conn)?;
    let row = api_tokens::table
        .find(row)
        .select(ApiTokenRow::as_select())
        .get_result(conn)?;
    Ok((row, token))
}

/// Issues a new token for `organizer_id`; returns it with its secret, shown once. Tokens that
/// have expired are removed first; beyond [`MAX_API_TOKENS`] the organizer must revoke one.
/// Call inside a write transaction.
pub fn create_api_token(
    conn: &mut DbConn,
    organizer_id: i64,
    request: &TokenRequest,
    now: NaiveDateTime,
) -> Result<(ApiTokenRow, String), AppError> {
    // Concurrent creations for one organizer count one after another (SQLite's write
    // transaction already holds the database's lock).
    if let DbConn::Postgres(pg) = conn {
        organizers::table
            .find(organizer_id)
            .select(organizers::id)
            .for_update()
            .get_result::<i64>(pg)?;
    }
    diesel::delete(
        api_tokens::table
            .filter(api_tokens::organizer_id.eq(organizer_id))
            .filter(api_tokens::expires_at.le(now)),
    )
    .execute(conn)?;
    let held: i64 = api_tokens::table
        .filter(api_tokens::organizer_id.eq(organizer_id))
        .count()
        .get_result(conn)?;
    if held >= MAX_API_TOKENS {
        return Err(AppError::Conflict(format!(
            "an organizer holds at most {MAX_API_TOKENS} API tokens; revoke one first"
        )));
    }
    insert_api_token(
        conn,
        organizer_id,
        request.label.as_str(),
        request.expires_at,
        now,
    )
}

/// The organizer's tokens, oldest first, expired ones included (until the next creation
/// removes them), so that the owner sees why a script stopped working.
pub fn list_api_tokens(conn: &mut DbConn, organizer_id: i64) -> Result<Vec<ApiTokenRow>, AppError> {
    Ok(api_tokens::table
        .filter(api_tokens::organizer_id.eq(organizer_id))
        .order(api_tokens::id.asc())
        .select(ApiTokenRow::as_select())
        .load(conn)?)
}

/// Revokes one of the organizer's own tokens; any other id is "no such token".
pub fn revoke_api_token(conn: &mut DbConn, organizer_id: i64, id: i64) -> Result<(), AppError> {
    let removed = diesel::delete(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::organizer_id.eq(organizer_id)),
    )
    .execute(conn)?;
    if removed == 0 {
        return Err(AppError::not_found("no such API token"));
    }
    Ok(())
}

/// A bearer token that is valid now: whose it is, and whether its last use should be noted.
pub struct TokenUse {
    pub organizer: OrganizerRow,
    pub token_id: i64,
    pub note_use: bool,
}

/// The organizer a token belongs to, if it exists and has not expired. A wrong, revoked or
/// expired token all give None.
pub fn by_api_token(
    conn: &mut DbConn,
    token: &str,
    now: NaiveDateTime,
) -> Result<Option<TokenUse>, AppError> {
    let found: Option<(OrganizerRow, i64, Option<NaiveDateTime>)> = api_tokens::table
        .inner_join(organizers::table)
        .filter(api_tokens::token_hash.eq(tokens::token_hash(token)))
        .filter(
            api_tokens::expires_at
                .is_null()
                .or(api_tokens::expires_at.gt(now)),
        )
        .select((
            OrganizerRow::as_select(),
            api_tokens::id,
            api_tokens::last_used_at,
        ))
        .get_result(conn)
        .optional()?;
    Ok(found.map(|(organizer, token_id, last_used)| TokenUse {
        organizer,
        token_id,
        note_use: last_used.is_none_or(|t| now - t >= LAST_USED_PRECISION),
    }))
}

pub fn note_api_token_use(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> Result<(), AppError> {
    diesel::update(api_tokens::table.find(id))
        .set(api_tokens::last_used_at.eq(now))
        .execute(conn)?;
    Ok(())
}

pub fn by_email(conn: &mut DbConn, email: &EmailAddress) -> Result<Option<OrganizerRow>, AppError> {
    Ok(organizers::table
        .filter(organizers::email_normalized.eq(email.normalized()))
        .select(OrganizerRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn count(conn: &mut DbConn) -> Result<i64, AppError> {
    Ok(organizers::table.count().get_result(conn)?)
}

/// An Argon2 hash of nothing in particular, checked against for unknown addresses.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$k1fQXWfKZMz6Yqu6Y6tFfH8t4w0z4r9lR4cD8oQm8Fo";

/// How long an organizer stays logged in.
pub const SESSION_DAYS: i64 = 14;

/// Checks an organizer's password; None for an unknown address or a wrong password alike.
pub fn authenticate(
    conn: &mut DbConn,
    email: &str,
    password: &str,
) -> Result<Option<OrganizerRow>, AppError> {
    // Whatever was typed (a NUL byte included) is checked before it reaches the database.
    let Ok(email) = EmailAddress::parse(email) else {
        tokens::verify_password(password, DUMMY_HASH);
        return Ok(None);
    };
    match by_email(conn, &email)? {
        Some(o) => Ok(tokens::verify_password(password, &o.password_hash).then_some(o)),
        None => {
            // As slow as a wrong password, so the answer's timing does not tell who organizes.
            tokens::verify_password(password, DUMMY_HASH);
            Ok(None)
        }
    }
}

/// Starts a session; returns the cookie's secret (only its hash is stored).
pub fn start_session(
    conn: &mut DbConn,
    organizer_id: i64,
    now: NaiveDateTime,
) -> Result<String, AppError> {
    let token = tokens::random_token();
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(tokens::token_hash(&token)),
            sessions::organizer_id.eq(organizer_id),
            sessions::created_at.eq(now),
            sessions::expires_at.eq(now + chrono::Duration::days(SESSION_DAYS)),
        ))
        .execute(conn)?;
    Ok(token)
}

pub fn by_session(
    conn: &mut DbConn,
    token: &str,
    now: NaiveDateTime,
) -> Result<Option<OrganizerRow>, AppError> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    Ok(sessions::table
        .inner_join(organizers::table)
        .filter(sessions::token_hash.eq(tokens::token_hash(token)))
        .filter(sessions::expires_at.gt(now))
        .select(OrganizerRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn end_session(conn: &mut DbConn, token: &str) -> Result<(), AppError> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(tokens::token_hash(token))))
        .execute(conn)?;
    Ok(())
}
