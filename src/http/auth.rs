//! Organizer authentication for API calls: `Authorization: Bearer TOKEN`, looked up by hash.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use super::AppState;
use crate::db::organizers::OrganizerRow;
use crate::error::AppError;
use crate::service;

/// The token of `Authorization: Bearer TOKEN`, if the request carries a plausible one.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= 200)
}

/// The organizer making a request. Taking this as a handler argument makes the call
/// organizer-only: without a valid token the answer is 401.
pub struct Organizer(pub OrganizerRow);

impl FromRequest for Organizer {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(state)) = (token, state) else {
                return Err(AppError::Unauthorized);
            };
            service::organizers::by_api_token(&state.service, token)
                .await?
                .map(Organizer)
                .ok_or(AppError::Unauthorized)
        })
    }
}
