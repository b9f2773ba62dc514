//! Organizers and their API tokens (both stored as hashes only).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{api_tokens, organizers, sessions};
use super::{DbConn, is_unique_violation};
use crate::domain::{EmailAddress, Problems, SingleLine};
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
    let api_token = issue_api_token(conn, organizer.id, "created with the organizer", now)?;
    Ok(NewCredentials {
        organizer,
        password,
        api_token,
    })
}

pub fn issue_api_token(
    conn: &mut DbConn,
    organizer_id: i64,
    label: &str,
    now: NaiveDateTime,
) -> Result<String, AppError> {
    let token = tokens::random_token();
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::organizer_id.eq(organizer_id),
            api_tokens::token_hash.eq(tokens::token_hash(&token)),
            api_tokens::label.eq(label),
            api_tokens::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(token)
}

pub fn by_api_token(conn: &mut DbConn, token: &str) -> Result<Option<OrganizerRow>, AppError> {
    Ok(api_tokens::table
        .inner_join(organizers::table)
        .filter(api_tokens::token_hash.eq(tokens::token_hash(token)))
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
    let found: Option<OrganizerRow> = organizers::table
        .filter(organizers::email_normalized.eq(email.normalized()))
        .select(OrganizerRow::as_select())
        .get_result(conn)
        .optional()?;
    match found {
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
