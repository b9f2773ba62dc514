//! `/healthz` (the process answers) and `/readyz` (the database answers too).

use actix_web::HttpResponse;
use diesel::connection::SimpleConnection;

use super::State;
use crate::error::AppError;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

pub async fn readyz(state: State) -> Result<HttpResponse, AppError> {
    state
        .db
        .read(|conn| {
            conn.batch_execute("SELECT 1")
                .map_err(AppError::unavailable)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ready\n"))
}
