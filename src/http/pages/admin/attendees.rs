//! Who signed up: the attendee list and its CSV export.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::Admin;
use crate::db::events::EventRow;
use crate::http::State;
use crate::http::pages::site::{PageError, render};
use crate::service;

struct AttendeeLine {
    name: String,
    email: String,
    status: String,
    projects: String,
    registered: String,
}

#[derive(Template)]
#[template(path = "admin/attendees.html")]
struct AttendeesPage {
    slug: String,
    title: String,
    going: usize,
    waiting: usize,
    cancelled: usize,
    rows: Vec<AttendeeLine>,
}

async fn attendee_lines(
    state: &State,
    slug: String,
) -> Result<(EventRow, Vec<AttendeeLine>), PageError> {
    let (event, views) = service::registrations::of_event(&state.service, slug).await?;
    let lines = views
        .iter()
        .map(|v| AttendeeLine {
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
        })
        .collect();
    Ok((event, lines))
}

pub async fn attendees(
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (event, rows) = attendee_lines(&state, slug.into_inner()).await?;
    let count = |prefix: &str| rows.iter().filter(|r| r.status.starts_with(prefix)).count();
    let page = AttendeesPage {
        going: count("going"),
        waiting: count("waitlisted"),
        cancelled: count("cancelled"),
        slug: event.slug,
        title: event.title,
        rows,
    };
    render(StatusCode::OK, &page)
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

pub async fn attendees_csv(
    state: State,
    _admin: Admin,
    slug: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let (event, rows) = attendee_lines(&state, slug.into_inner()).await?;
    let mut csv = String::from("name,email,status,projects,registered\r\n");
    for r in &rows {
        let cells = [&r.name, &r.email, &r.status, &r.projects, &r.registered].map(|c| csv_cell(c));
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}-attendees.csv\"", event.slug),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(csv))
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
