//! One error type for the whole service. Each variant is a stable kind that a client may rely
//! on (shown as an RFC 9457 `application/problem+json` body); the cause of an internal error
//! goes to the log only. Domain parsers return `String` messages, collected into `Problems`;
//! the database and HTTP layers return `AppError`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::{FieldProblem, Problems};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// One or more fields of well-formed input are invalid.
    #[error("invalid input: {0}")]
    Invalid(Problems),
    /// The request itself could not be read (malformed JSON, wrong types, a bad query).
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is valid but clashes with the current state (a taken slug, a closed signup).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// Too many requests of one kind from one client; it may try again after the seconds given.
    #[error("too many requests: {detail}")]
    TooManyRequests {
        retry_after_secs: u64,
        detail: String,
    },
    /// A dependency (the database) cannot be reached right now.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The database has no room left to write (a full disk): nothing was saved; it passes once
    /// space is freed.
    #[error("storage full: {0}")]
    StorageFull(String),
    /// The request body did not arrive in time (`CONVENE_BODY_TIMEOUT_SECS`).
    #[error("request body timed out")]
    RequestTimeout,
    /// Settings that prevent start-up.
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn config(message: impl Into<String>) -> Self {
        AppError::Config(message.into())
    }

    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        AppError::Unavailable(cause.to_string())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }

    fn kind(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "invalid-input",
            AppError::BadRequest(_) => "bad-request",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not-found",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge => "payload-too-large",
            AppError::UnsupportedMediaType(_) => "unsupported-media-type",
            AppError::TooManyRequests { .. } => "too-many-requests",
            AppError::Unavailable(_) => "unavailable",
            AppError::StorageFull(_) => "storage-full",
            AppError::RequestTimeout => "request-timeout",
            AppError::Config(_) | AppError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "Some fields are not valid",
            AppError::BadRequest(_) => "The request could not be read",
            AppError::Unauthorized => "Authentication required",
            AppError::Forbidden(_) => "Forbidden",
            AppError::NotFound(_) => "Not found",
            AppError::Conflict(_) => "Conflict with the current state",
            AppError::PayloadTooLarge => "Request body too large",
            AppError::UnsupportedMediaType(_) => "Unsupported media type",
            AppError::TooManyRequests { .. } => "Too many requests",
            AppError::Unavailable(_) => "Service temporarily unavailable",
            AppError::StorageFull(_) => "The server's storage is full",
            AppError::RequestTimeout => "The request body did not arrive in time",
            AppError::Config(_) | AppError::Internal(_) => "Internal error",
        }
    }

    /// What the client may read. Internal causes are never shown.
    fn detail(&self) -> Option<String> {
        match self {
            AppError::Invalid(p) => Some(
                p.list()
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            AppError::BadRequest(m)
            | AppError::Forbidden(m)
            | AppError::NotFound(m)
            | AppError::Conflict(m)
            | AppError::UnsupportedMediaType(m)
            | AppError::TooManyRequests { detail: m, .. } => Some(m.clone()),
            AppError::Unauthorized => {
                Some("send an organizer API token as `Authorization: Bearer TOKEN`".into())
            }
            AppError::PayloadTooLarge => {
                Some("the request body is larger than this endpoint accepts".into())
            }
            AppError::Unavailable(_) => {
                Some("the database cannot be reached; try again shortly".into())
            }
            AppError::StorageFull(_) => Some(STORAGE_FULL_DETAIL.into()),
            AppError::RequestTimeout => Some(
                "the request body was not sent within the time allowed; send it again, all at once"
                    .into(),
            ),
            AppError::Config(_) | AppError::Internal(_) => None,
        }
    }

    pub fn problems(&self) -> &[FieldProblem] {
        match self {
            AppError::Invalid(p) => p.list(),
            _ => &[],
        }
    }
}

/// What a client is told when writes fail for lack of space (also on the error page).
pub const STORAGE_FULL_DETAIL: &str =
    "the server has no room left to store data, so nothing was saved; try again later";

/// Whether a database error says that the disk (or the database's size limit) is full:
/// SQLite's SQLITE_FULL, PostgreSQL's `could not extend file` and other disk-full errors
/// (SQLSTATE 53100, `No space left on device`).
fn is_storage_full(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "database or disk is full",
        "could not extend file",
        "no space left on device",
        "disk full",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// Whether a database error says that the server is going away or not yet back: PostgreSQL's
/// operator intervention class (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
/// connect now) and the messages of a connection cut under a query. diesel files these under
/// `Unknown` when the FATAL message arrives before libpq has seen the socket close.
fn is_server_going_away(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "terminating connection due to",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "the database system is not yet accepting connections",
        "server closed the connection unexpectedly",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

impl From<Problems> for AppError {
    fn from(problems: Problems) -> Self {
        AppError::Invalid(problems)
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        match error {
            diesel::result::Error::NotFound => AppError::NotFound("no such record".into()),
            // The server went away (a restart, a failover, an idle cut): the pool replaces the
            // connection, and the client may try again.
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ClosedConnection
                | diesel::result::DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => AppError::Unavailable(format!(
                "the connection to the database was lost ({}); try again",
                info.message().trim()
            )),
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::Unknown,
                info,
            ) if is_server_going_away(info.message()) => AppError::Unavailable(format!(
                "the database is restarting ({}); try again",
                info.message().trim()
            )),
            diesel::result::Error::DatabaseError(_, info) if is_storage_full(info.message()) => {
                AppError::StorageFull(info.message().trim().to_owned())
            }
            // A transaction step failed and so did undoing it: the connection is unusable
            // (in practice it was cut under the transaction); nothing can say what it did.
            diesel::result::Error::BrokenTransactionManager => AppError::Unavailable(
                "the connection to the database broke during a transaction; try again".into(),
            ),
            // A commit that failed and whose rollback failed too: the commit's error says why.
            diesel::result::Error::RollbackErrorOnCommit { commit_error, .. } => {
                AppError::from(*commit_error)
            }
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// The RFC 9457 problem document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProblemDocument {
    /// A stable URN naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every invalid field, for `invalid-input` problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unavailable(_) | AppError::StorageFull(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Config(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        let body = ProblemDocument {
            kind: format!("urn:convene:problem:{}", self.kind()),
            title: self.title().to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            errors: self.problems().to_vec(),
        };
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        match self {
            AppError::Unauthorized => {
                response.insert_header(("WWW-Authenticate", "Bearer realm=\"convene\""));
            }
            AppError::StorageFull(_) => {
                response.insert_header(("Retry-After", "60"));
            }
            AppError::TooManyRequests {
                retry_after_secs, ..
            } => {
                response.insert_header(("Retry-After", retry_after_secs.to_string()));
            }
            _ => {}
        }
        response.json(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error as DieselError};

    fn database_error(message: &str) -> DieselError {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(message.to_owned()))
    }

    #[test]
    fn a_full_disk_is_a_503_that_says_so() {
        for message in [
            "database or disk is full",
            "could not extend file \"base/16384/16385\": No space left on device",
            "could not write to file \"pg_wal/xlogtemp.123\": No space left on device",
        ] {
            let error = AppError::from(database_error(message));
            assert!(matches!(error, AppError::StorageFull(_)), "{message}");
            assert_eq!(error.status_code(), StatusCode::SERVICE_UNAVAILABLE);
            let response = error.error_response();
            assert_eq!(response.headers().get("retry-after").unwrap(), "60");
            assert_eq!(error.kind(), "storage-full");
        }
        let other = AppError::from(database_error("syntax error"));
        assert!(matches!(other, AppError::Internal(_)));
    }

    #[test]
    fn a_server_shutting_down_is_a_503_to_try_again() {
        for message in [
            "terminating connection due to administrator command",
            "FATAL:  the database system is shutting down",
            "the database system is starting up",
            "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally",
        ] {
            let error = AppError::from(database_error(message));
            assert!(matches!(error, AppError::Unavailable(_)), "{message}");
            assert_eq!(error.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        }
        let broken = AppError::from(DieselError::BrokenTransactionManager);
        assert_eq!(broken.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        // A refusal that happens to quote such words stays what it is.
        let quoted = AppError::from(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new("duplicate key: \"no connection to the server\"".to_owned()),
        ));
        assert!(!matches!(quoted, AppError::Unavailable(_)));
        let refused = AppError::from(database_error(
            "duplicate key value violates unique constraint",
        ));
        assert!(matches!(refused, AppError::Internal(_)));
    }
}
