//! What every HTML page shares: rendering, the error page, the stylesheet, CSRF protection for
//! forms, and form field helpers. Pages work without JavaScript.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::de::DeserializeOwned;

use crate::domain::FieldProblem;
use crate::error::AppError;
use crate::links::Links;
use crate::tokens;

pub const CSRF_COOKIE: &str = "convene_csrf";
pub const CSRF_FIELD: &str = "csrf";

/// The stylesheet, shipped inside the binary.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../web/static/style.css"))
}

/// The site's icon, shipped inside the binary (one 32 px PNG in an ICO).
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/x-icon")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(&include_bytes!("../../../web/static/favicon.ico")[..])
}

/// The board's live-update script (the board works without it).
pub async fn board_script() -> HttpResponse {
    script(include_str!("../../../web/static/board.js"))
}

/// The script that adds times in the reader's zone (every page works without it).
pub async fn zone_script() -> HttpResponse {
    script(include_str!("../../../web/static/zone.js"))
}

fn script(source: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(source)
}

/// The zone a reader chose to see times in too (`/preferences/zone`), if any.
pub const READER_ZONE_COOKIE: &str = "convene_tz";

pub fn reader_zone(req: &HttpRequest) -> Option<crate::domain::time::TimeZoneName> {
    let cookie = req.cookie(READER_ZONE_COOKIE)?;
    let raw = percent_encoding::percent_decode_str(cookie.value())
        .decode_utf8()
        .ok()?;
    crate::domain::time::TimeZoneName::parse(&raw).ok()
}

/// A submitted HTML form (`application/x-www-form-urlencoded`), where a repeated field (the
/// checked boxes of one group) becomes a list. The body is limited like every other.
pub struct HtmlForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for HtmlForm<T> {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = req
            .content_type()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded");
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_form {
                return Err(PageError(AppError::UnsupportedMediaType(
                    "send the form as application/x-www-form-urlencoded".into(),
                )));
            }
            let bytes = body
                .await
                .map_err(|e| match e.as_response_error().status_code() {
                    StatusCode::PAYLOAD_TOO_LARGE => PageError(AppError::PayloadTooLarge),
                    _ => PageError(AppError::BadRequest("the form could not be read".into())),
                })?;
            // Every name and value must be UTF-8 once decoded; a lossy decoding would store
            // replacement characters instead of refusing.
            let valid = bytes.split(|b| *b == b'&').all(|pair| {
                let plus_as_space: Vec<u8> = pair
                    .iter()
                    .map(|b| if *b == b'+' { b' ' } else { *b })
                    .collect();
                percent_encoding::percent_decode(&plus_as_space)
                    .decode_utf8()
                    .is_ok()
            });
            if !valid {
                return Err(PageError(AppError::BadRequest(
                    "the form holds text that is not valid UTF-8".into(),
                )));
            }
            serde_html_form::from_bytes(&bytes)
                .map(HtmlForm)
                .map_err(|e| {
                    PageError(AppError::BadRequest(format!(
                        "the form could not be read: {e}"
                    )))
                })
        })
    }
}

/// Renders a page with a status.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Result<HttpResponse, PageError> {
    let html = page
        .render()
        .map_err(|e| PageError(AppError::Internal(e.into())))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// The step before a drastic action (a cancellation that mails people, a removal): a page
/// that says what will happen and posts the action only on "yes". It works without
/// JavaScript, and the GET that shows it changes nothing.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage<'a> {
    pub question: &'a str,
    pub consequence: &'a str,
    pub action: &'a str,
    /// Filled in by [`confirm`].
    pub csrf: String,
    pub yes: &'a str,
    pub no: &'a str,
    pub back: &'a str,
}

/// The confirmation page `page`, with the visitor's form token.
pub fn confirm(
    req: &HttpRequest,
    links: &Links,
    mut page: ConfirmPage<'_>,
) -> Result<HttpResponse, PageError> {
    let (csrf, cookie) = csrf_token(req, links);
    page.csrf = csrf;
    let response = render(StatusCode::OK, &page)?;
    Ok(with_cookie(response, cookie))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    heading: &'a str,
    detail: String,
}

/// An error shown as a page in the site's look rather than as JSON.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        if matches!(self.0, AppError::Unauthorized) {
            return see_other("/login");
        }
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = ?self.0, "page failed");
        }
        let (heading, detail) = match &self.0 {
            AppError::NotFound(_) => ("Page not found", "There is nothing at this address. It may have moved, or the link may be incomplete.".to_owned()),
            AppError::Forbidden(m) => ("Not allowed", m.clone()),
            AppError::Conflict(m) | AppError::BadRequest(m) => ("That did not work", m.clone()),
            AppError::Invalid(p) => ("That did not work", p.to_string()),
            AppError::PayloadTooLarge => ("Too much data", "The form sent more than this page accepts.".to_owned()),
            AppError::UnsupportedMediaType(m) => ("That did not work", m.clone()),
            AppError::TooManyRequests { retry_after_secs, .. } => ("Too many attempts", format!("Too many of these came from your network address in a short time. Wait {retry_after_secs} seconds, then go back and send the form again.")),
            AppError::Unavailable(_) => ("Try again shortly", "The service cannot reach its database right now.".to_owned()),
            AppError::StorageFull(_) => ("Try again later", "The server has run out of storage space, so nothing was saved. Please try again later.".to_owned()),
            AppError::RequestTimeout => ("That took too long", "The form did not arrive in time. Please send it again.".to_owned()),
            AppError::Unauthorized => ("Log in first", "This page is for organizers.".to_owned()),
            AppError::Config(_) | AppError::Internal(_) => ("Something went wrong", "The error has been logged. Please try again.".to_owned()),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            heading,
            detail,
        };
        let html = page.render().unwrap_or_else(|_| heading.to_owned());
        let mut response = HttpResponse::build(status);
        if let AppError::TooManyRequests {
            retry_after_secs, ..
        } = &self.0
        {
            response.insert_header(("Retry-After", retry_after_secs.to_string()));
        }
        response.content_type("text/html; charset=utf-8").body(html)
    }
}

/// Hands out the CSRF token for a form: the value of a random, HttpOnly cookie (set here when
/// missing), echoed in a hidden field. A cross-site form can neither read the cookie nor set it.
pub fn csrf_token(req: &HttpRequest, links: &Links) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 43)
    {
        return (existing, None);
    }
    let token = tokens::random_token();
    let cookie = Cookie::build(CSRF_COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .secure(links.is_https())
        .same_site(SameSite::Lax)
        .finish();
    (token, Some(cookie))
}

/// Refuses a form POST that does not carry the token of its cookie, or that comes from another
/// site (a foreign `Origin`).
pub fn check_csrf(req: &HttpRequest, links: &Links, submitted: &str) -> Result<(), PageError> {
    let refuse = || {
        PageError(AppError::Forbidden("This form has expired or did not come from this site. Go back, reload the page and try again.".into()))
    };
    if let Some(origin) = req
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        && origin != "null"
        && origin != links.origin()
    {
        return Err(refuse());
    }
    let cookie = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if cookie.len() != 43 || submitted.len() != cookie.len() || !tokens::same(submitted, &cookie) {
        return Err(refuse());
    }
    Ok(())
}

/// Adds a cookie (if any) to a response.
pub fn with_cookie(mut response: HttpResponse, cookie: Option<Cookie<'static>>) -> HttpResponse {
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// What a submitted form comes to: after success a redirect to `done(value)` (Post, Redirect,
/// Get); when the input or the use case named problems, the form `again` with them, answered
/// 422; any other error, the error page. Every form of the pages ends with this.
pub async fn redirect_or_form_again<T, Fut>(
    outcome: Result<T, AppError>,
    done: impl FnOnce(T) -> String,
    again: impl FnOnce(Vec<FieldProblem>) -> Fut,
) -> Result<HttpResponse, PageError>
where
    Fut: Future<Output = Result<HttpResponse, PageError>>,
{
    match outcome {
        Ok(value) => Ok(see_other(&done(value))),
        Err(AppError::Invalid(problems)) => again(problems.into_list()).await,
        Err(e) => Err(e.into()),
    }
}

/// A 303 to `location` (Post/Redirect/Get).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location.to_owned()))
        .finish()
}

/// The message for one field, if the form had a problem with it.
pub fn problem_for<'a>(problems: &'a [FieldProblem], field: &str) -> Option<&'a str> {
    problems
        .iter()
        .find(|p| p.field == field || p.field.starts_with(&format!("{field}[")))
        .map(|p| p.message.as_str())
}

/// Markdown to HTML without any active content: raw HTML, scripts, event handlers and
/// `javascript:`/`data:` links are removed by ammonia after pulldown-cmark renders.
pub fn markdown(text: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(
        text,
        pulldown_cmark::Options::ENABLE_STRIKETHROUGH | pulldown_cmark::Options::ENABLE_TABLES,
    );
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    ammonia::Builder::default()
        .url_schemes(std::collections::HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::markdown;

    #[test]
    fn markdown_carries_no_active_content() {
        let hostile = "Hi <script>alert(1)</script> <img src=x onerror=alert(2)> [a](javascript:alert(3)) [b](JaVa\tScRiPt:alert(4)) [c](data:text/html,x) <a href=\"java&#x09;script:alert(5)\">d</a>\n\n**bold** [ok](https://example.org)";
        let html = markdown(hostile);
        for bad in ["<script", "onerror", "alert(1)", "alert(5)"] {
            assert!(
                !html.to_lowercase().contains(&bad.to_lowercase()),
                "{bad} survived: {html}"
            );
        }
        for link in html.split("href=\"").skip(1) {
            assert!(
                link.starts_with("https://"),
                "an active link survived: {html}"
            );
        }
        assert!(html.contains("<strong>bold</strong>"));
        assert!(html.contains("href=\"https://example.org\""));
    }
}
