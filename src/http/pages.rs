//! Server-rendered pages. For now the home page lists upcoming events; the full frontend
//! (event pages, signup forms, organizer pages) builds on this module.

use actix_web::HttpResponse;
use askama::Template;

use super::State;
use crate::db::events::{self, Period};
use crate::error::AppError;

struct EventLine {
    title: String,
    kind: String,
    when: String,
    venue: String,
    seats: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    events: Vec<EventLine>,
    site_feed: String,
    site_feed_webcal: String,
}

pub async fn home(state: State) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let summaries = state
        .db
        .read(move |conn| {
            let rows = events::list(conn, Period::Upcoming, None, now, 200)?;
            events::with_waitlists(conn, rows)
        })
        .await?;
    let mut lines = Vec::with_capacity(summaries.len());
    for s in summaries {
        let e = &s.event;
        let seats = match e.capacity {
            _ if e.status == "cancelled" => "cancelled".to_owned(),
            None => "open".to_owned(),
            Some(c) if e.going_count < c && s.waitlist_count == 0 => {
                format!("{} seats left", c - e.going_count)
            }
            Some(_) => format!("waitlist ({})", s.waitlist_count),
        };
        lines.push(EventLine {
            title: e.title.clone(),
            kind: e.kind.clone(),
            when: e.window()?.human(),
            venue: e.venue.clone(),
            seats,
        });
    }
    let site_feed = state.links.site_feed();
    let site_feed_webcal = crate::links::Links::webcal(&site_feed);
    let html = HomePage {
        events: lines,
        site_feed,
        site_feed_webcal,
    }
    .render()
    .map_err(|e| AppError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}
