//! A reader's own preferences, kept in their browser only: the time zone that pages show
//! times in beside each event's own (chosen here without JavaScript; with it, the browser's
//! zone is used unless one was chosen).

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::time::{TimeZoneName, zone_names};
use crate::http::State;
use crate::http::pages::site::{
    HtmlForm, PageError, READER_ZONE_COOKIE, check_csrf, csrf_token, reader_zone, render,
    see_other, with_cookie,
};

#[derive(Template)]
#[template(path = "preferences_zone.html")]
struct ZonePage {
    csrf: String,
    back: String,
    chosen: String,
    zones: Vec<String>,
    problem: Option<String>,
}

#[derive(Deserialize)]
pub struct BackQuery {
    back: Option<String>,
}

/// Where to return to: a path of this site, never another site.
fn local_path(raw: Option<&str>) -> String {
    match raw {
        Some(p)
            if p.starts_with('/') && !p.starts_with("//") && !p.contains(['\\', '\r', '\n']) =>
        {
            p.chars().take(500).collect()
        }
        _ => "/".into(),
    }
}

fn page(
    req: &HttpRequest,
    state: &State,
    back: String,
    chosen: String,
    problem: Option<String>,
) -> Result<HttpResponse, PageError> {
    let (csrf, cookie) = csrf_token(req, &state.links);
    let status = match problem {
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
        None => StatusCode::OK,
    };
    let page = ZonePage {
        csrf,
        back,
        zones: zone_names(&chosen),
        chosen,
        problem,
    };
    Ok(with_cookie(render(status, &page)?, cookie))
}

pub async fn zone_form(
    req: HttpRequest,
    state: State,
    query: web::Query<BackQuery>,
) -> Result<HttpResponse, PageError> {
    let chosen = reader_zone(&req)
        .map(|z| z.as_str().to_owned())
        .unwrap_or_default();
    let back = local_path(query.back.as_deref());
    page(&req, &state, back, chosen, None)
}

#[derive(Deserialize)]
pub struct ZoneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    back: String,
}

/// Keeps the chosen zone for a year in this browser (an empty choice forgets it) and goes
/// back to the page the reader came from.
pub async fn choose_zone(
    req: HttpRequest,
    state: State,
    form: HtmlForm<ZoneForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.0;
    check_csrf(&req, &state.links, &form.csrf)?;
    let back = local_path(Some(&form.back));
    let mut cookie = Cookie::build(READER_ZONE_COOKIE, "")
        .path("/")
        .secure(state.links.is_https())
        .same_site(SameSite::Lax)
        .finish();
    if form.zone.trim().is_empty() {
        cookie.make_removal();
    } else {
        match TimeZoneName::parse(&form.zone) {
            Ok(zone) => {
                cookie.set_value(
                    percent_encoding::utf8_percent_encode(
                        zone.as_str(),
                        percent_encoding::NON_ALPHANUMERIC,
                    )
                    .to_string(),
                );
                cookie.set_max_age(Duration::days(365));
            }
            Err(message) => return page(&req, &state, back, form.zone, Some(message)),
        }
    }
    let mut response = see_other(&back);
    response
        .add_cookie(&cookie)
        .map_err(|e| PageError(crate::error::AppError::Internal(e.into())))?;
    Ok(response)
}
