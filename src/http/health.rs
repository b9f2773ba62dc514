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

/// Ready when the database answers and writes have room: after a write failed for lack of
/// space this answers 503 until there is room again (`db::storage`).
pub async fn readyz(state: State) -> Result<HttpResponse, AppError> {
    state.db.storage().check()?;
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

/// `/metrics` in the Prometheus text format. With `CONVENE_METRICS_TOKEN` set it answers only
/// to that bearer token; otherwise keep it off the public proxy.
pub async fn metrics(req: actix_web::HttpRequest, state: State) -> Result<HttpResponse, AppError> {
    if let Some(expected) = state.settings.metrics_token() {
        let given = super::auth::bearer_token(&req).unwrap_or_default();
        if !crate::tokens::same(&given, expected) {
            return Err(AppError::Unauthorized);
        }
    }
    let stats = state.db.read(crate::db::outbox::stats).await?;
    let body = state.metrics.render(
        &stats,
        state.clock.now(),
        state.db.pool_state(),
        state.db.pool_max(),
        state.db.group_figures(),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(body))
}
