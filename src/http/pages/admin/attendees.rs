//! Who signed up: the attendee list and its CSV export.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use serde::Deserialize;

use super::Admin;
use crate::db::registrations::RegistrationView;
use crate::error::AppError;
use crate::http::State;
use crate::http::pages::public::page_number;
use crate::http::pages::site::{PageError, render};
use crate::service;

struct AttendeeLine {
    name: String,
    email: String,
    status: String,
    projects: String,
    registered: String,
}

impl AttendeeLine {
    fn of(v: &RegistrationView) -> Self {
        AttendeeLine {
            name: v.registration.name.clone(),
            email: v.registration.email.clone(),
            status: match v.waitlist_position {
                Some(n) => format!("waitlisted #{n}"),
                None => v.registration.status.to_string(),
            },
            projects: v
                .projects
                .iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
            registered: v
                .registration
                .created_at
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
        }
    }
}

/// People on one page of the attendee list.
const PER_PAGE: u32 = 100;
/// Rows read at a time for the CSV export.
const CSV_CHUNK: u32 = 2_000;

#[derive(Template)]
#[template(path = "admin/attendees.html")]
struct AttendeesPage {
    slug: String,
    title: String,
    going: i64,
    waiting: i64,
    cancelled: i64,
    rows: Vec<AttendeeLine>,
    search: String,
    matching: i64,
    first_shown: i64,
    last_shown: i64,
    earlier: Option<String>,
    later: Option<String>,
    per_page: u32,
}

#[derive(Deserialize)]
pub struct AttendeesQuery {
    q: Option<String>,
    page: Option<String>,
}

pub async fn attendees(
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
    query: web::Query<AttendeesQuery>,
) -> Result<HttpResponse, PageError> {
    let query = query.into_inner();
    let page = page_number(query.page.as_deref(), 100_000)?;
    let search = query.q.unwrap_or_default();
    let (event, found) = service::registrations::attendee_page(
        &state.service,
        slug.into_inner(),
        Some(search.clone()),
        (page, PER_PAGE),
    )
    .await?;
    let link = |n: u32| {
        let mut link = format!("/admin/events/{}/attendees?page={n}", event.slug);
        if !search.trim().is_empty() {
            link.push_str("&q=");
            link.push_str(
                &percent_encoding::utf8_percent_encode(
                    search.trim(),
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string(),
            );
        }
        link
    };
    let first_shown = i64::from(page - 1) * i64::from(PER_PAGE) + 1;
    let shown = found.views.len() as i64;
    let (going, waiting, cancelled) = found.counts;
    let page_view = AttendeesPage {
        going,
        waiting,
        cancelled,
        rows: found.views.iter().map(AttendeeLine::of).collect(),
        search: search.trim().to_owned(),
        matching: found.matching,
        first_shown,
        last_shown: first_shown + shown - 1,
        earlier: (page > 1).then(|| link(page - 1)),
        later: (first_shown + shown - 1 < found.matching).then(|| link(page + 1)),
        per_page: PER_PAGE,
        slug: event.slug,
        title: event.title,
    };
    render(StatusCode::OK, &page_view)
}

/// A CSV cell: quoted, and a leading `= + - @` neutralized so spreadsheets do not run it.
fn csv_cell(value: &str) -> String {
    let safe = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", safe.replace('"', "\"\""))
}

/// The CSV lines of some registrations.
fn csv_lines(views: &[RegistrationView]) -> web::Bytes {
    let mut csv = String::with_capacity(views.len() * 96);
    for v in views {
        let r = AttendeeLine::of(v);
        // Status and waitlist place in columns of their own, so a spreadsheet can sort both.
        let status = v.registration.status.to_string();
        let place = v
            .waitlist_position
            .map(|n| n.to_string())
            .unwrap_or_default();
        let cells = [
            &r.name,
            &r.email,
            &status,
            &place,
            &r.projects,
            &r.registered,
        ]
        .map(|c| csv_cell(c));
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
    web::Bytes::from(csv)
}

/// Every registration as CSV, streamed as it is read: the first rows leave before the last
/// are read, and memory stays at one chunk whatever the size of the event.
pub async fn attendees_csv(
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let event = service::events::find(&state.service, slug.into_inner()).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<web::Bytes, AppError>>(4);
    // The byte order mark tells spreadsheets (Excel above all) that the file is UTF-8, so
    // "Spärck" stays "Spärck".
    let header = web::Bytes::from_static(
        "\u{feff}name,email,status,waitlist_place,projects,registered\r\n".as_bytes(),
    );
    let _ = sender.try_send(Ok(header));
    let service = state.service.clone();
    let event_id = event.id;
    tokio::spawn(async move {
        let chunks = sender.clone();
        let read = service::registrations::each_attendee_chunk(
            &service,
            event_id,
            CSV_CHUNK,
            move |views| chunks.blocking_send(Ok(csv_lines(&views))).is_ok(),
        )
        .await;
        if let Err(e) = read {
            tracing::error!(error = ?e, "the attendee export stopped half-way");
            let _ = sender.send(Err(e)).await;
        }
    });
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}-attendees.csv\"", event.slug),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body))
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_formulas_neutralized() {
        assert_eq!(csv_cell("Ada \"the\" first"), "\"Ada \"\"the\"\" first\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
    }
}
