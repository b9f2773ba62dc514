//! `/events/{slug}/board`: the board page, its signage view and its live SSE stream.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::board::{BoardState, SlotBody, by_day};
use crate::db::events::EventRow;
use crate::error::AppError;
use crate::http::State;
use crate::http::pages::public::kept_page;
use crate::http::pages::site::PageError;
use crate::service;

async fn load_board(state: &State, slug: String) -> Result<(EventRow, BoardState), AppError> {
    service::board::get(&state.service, slug).await
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    board: BoardState,
    signage: bool,
    days: Vec<(String, Vec<SlotBody>)>,
}

#[derive(Deserialize)]
pub struct BoardQuery {
    view: Option<String>,
}

/// `/events/{slug}/board`: every project's card; `?view=signage` for a screen by the door.
/// The page carries nothing of its reader's, so the rendered bytes are kept (as the home
/// page's are) until the next write or for a second.
pub async fn page(
    state: State,
    slug: web::Path<String>,
    query: web::Query<BoardQuery>,
) -> Result<HttpResponse, PageError> {
    let slug = slug.into_inner();
    let signage = query.view.as_deref() == Some("signage");
    let key = format!("board:{signage}:{slug}");
    kept_page(&state, key, async {
        let (_, board) = load_board(&state, slug).await?;
        let days = by_day(&board.slots);
        let page = BoardPage {
            board,
            signage,
            days,
        };
        let html = page
            .render()
            .map_err(|e| PageError(AppError::Internal(e.into())))?;
        Ok(Bytes::from(html))
    })
    .await
}

/// `/events/{slug}/board/stream`: Server-Sent Events, one `board` event with the whole state
/// now and after every change, and a comment every 20 s to keep proxies from closing it.
pub async fn stream(state: State, slug: web::Path<String>) -> Result<HttpResponse, AppError> {
    let slug = slug.into_inner();
    let (first, updates) = service::board::watch(&state.service, slug).await?;
    let first: Arc<str> =
        Arc::from(serde_json::to_string(&first).map_err(|e| AppError::Internal(e.into()))?);
    let stopping = state.stopping.subscribe();
    if *stopping.borrow() {
        return Err(AppError::unavailable("the server is stopping"));
    }
    let body = futures::stream::unfold(
        (Some(first), updates, stopping),
        |(pending, mut updates, mut stopping)| async move {
            if let Some(json) = pending {
                return Some((
                    Ok::<_, actix_web::Error>(sse(&json)),
                    (None, updates, stopping),
                ));
            }
            loop {
                let step = tokio::select! {
                    // The server is stopping: end the stream (clients reconnect elsewhere).
                    _ = stopping.wait_for(|s| *s) => None,
                    next = tokio::time::timeout(Duration::from_secs(20), updates.recv()) => match next {
                        Ok(Ok(json)) => Some(Some(sse(&json))),
                        // Fell behind: the next message is the latest state anyway.
                        Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => Some(None),
                        Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => None,
                        Err(_) => Some(Some(Bytes::from_static(b": keepalive\n\n"))),
                    },
                };
                match step {
                    None => return None,
                    Some(None) => continue,
                    Some(Some(bytes)) => return Some((Ok(bytes), (None, updates, stopping))),
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

fn sse(json: &str) -> Bytes {
    Bytes::from(format!("event: board\ndata: {json}\n\n"))
}
