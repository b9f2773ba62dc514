//! Pages that must not be kept by browsers or shared caches: the organizer's pages (attendee
//! lists with email addresses), the login, pages whose address holds a secret token (manage,
//! lead, unsubscribe, an attendee's own registration), and any answer to a request that
//! carries credentials.

use actix_web::HttpResponse;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderValue};

/// Whether the answer to `req` is private (see the module comment).
pub fn is_private(req: &ServiceRequest) -> bool {
    let path = req.path();
    path == "/admin"
        || path.starts_with("/admin/")
        || path == "/login"
        || crate::logging::has_secret(path)
        || req.headers().contains_key(header::AUTHORIZATION)
}

/// Adds `Cache-Control: no-store` unless the handler chose its own (a personal feed is
/// `private` with an ETag, so calendar apps can ask whether it changed).
pub fn no_store<B>(response: &mut HttpResponse<B>) {
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
