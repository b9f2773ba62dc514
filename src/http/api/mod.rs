//! The JSON API under `/api/v1`, one file per resource. Handlers read the request into domain
//! input, call one use case of `service`, and answer JSON (errors as RFC 9457 problems).

pub mod board;
pub mod events;
pub mod messages;
pub mod openapi;
pub mod projects;
pub mod registrations;
