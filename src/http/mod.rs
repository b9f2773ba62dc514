//! HTTP: the route table, the shared state, and how malformed requests are answered. One file
//! per resource beside this one; handlers parse input into domain types, make one database
//! call, and render.

pub mod admin;
pub mod auth;
pub mod board;
pub mod client;
pub mod events;
pub mod feeds;
pub mod guard;
pub mod health;
pub mod input;
pub mod limits;
pub mod messages;
pub mod openapi;
pub mod pages;
pub mod private;
pub mod projects;
pub mod recent;
pub mod registrations;
pub mod site;
pub mod tokens;

use std::sync::Arc;

use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::{HttpRequest, HttpResponse, web};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::links::Links;
use crate::tokens::SecretKey;

/// The largest JSON body any endpoint accepts. An event description of 50,000 characters fits.
pub const JSON_LIMIT: usize = 256 * 1024;

/// What every handler may use.
pub struct AppState {
    /// The use cases; handlers call these rather than the database.
    pub service: crate::service::Service,
    pub db: Db,
    pub links: Links,
    pub key: SecretKey,
    pub clock: Clock,
    pub settings: Config,
    /// Wakes the outbox worker after a request wrote mail.
    pub outbox_wake: Arc<Notify>,
    pub feed_cache: feeds::FeedCache,
    pub recent_feeds: feeds::RecentFeeds,
    pub recent_pages: pages::RecentPages,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    pub login_limit: limits::LoginLimit,
    pub signup_limit: limits::SignupLimit,
    pub board: crate::board::BoardHub,
    /// Turns true when the server begins to stop: long-lived streams end, so the graceful
    /// shutdown does not wait for them.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// The client of `req`, believing forwarded headers only from trusted proxies.
    pub fn client(&self, req: &actix_web::HttpRequest) -> client::ClientInfo {
        client::client_info(
            req.peer_addr().map(|a| a.ip()),
            req.headers(),
            &self.trusted_proxies,
        )
    }
}

pub type State = web::Data<AppState>;

/// The whole route table.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(JSON_LIMIT)
            .error_handler(|err, _req| json_error(err).into()),
    )
    .app_data(web::PayloadConfig::default().limit(JSON_LIMIT))
    .app_data(web::QueryConfig::default().error_handler(|err, _req| {
        AppError::BadRequest(format!("invalid query string: {err}")).into()
    }))
    .app_data(
        web::PathConfig::default()
            .error_handler(|_err, _req| AppError::not_found("no such page").into()),
    )
    .route("/", get_or_head().to(pages::home))
    .route("/static/style.css", web::get().to(site::stylesheet))
    .route("/static/board.js", web::get().to(site::board_script))
    .route("/events/{slug}/board", get_or_head().to(board::page))
    .route("/events/{slug}/board/stream", web::get().to(board::stream))
    .route("/lead/{token}", get_or_head().to(board::lead))
    .route("/lead/{token}/board", web::post().to(board::lead_lines))
    .route("/lead/{token}/slots", web::post().to(board::lead_slot))
    .route(
        "/lead/{token}/slots/{id}/delete",
        web::post().to(board::lead_slot_delete),
    )
    .route(
        "/manage/{token}/checkin",
        web::post().to(board::manage_checkin),
    )
    .route(
        "/manage/{token}/checkout",
        web::post().to(board::manage_checkout),
    )
    .service(
        web::resource("/events/{slug}/signup")
            .route(web::post().to(pages::sign_up))
            .route(web::get().to(pages::signup_form)),
    )
    .route("/events/{slug}/thanks", web::get().to(pages::thanks))
    .route("/manage/{token}", get_or_head().to(pages::manage))
    .route(
        "/manage/{token}/cancel",
        web::post().to(pages::manage_cancel),
    )
    .route(
        "/manage/{token}/projects",
        web::post().to(pages::manage_projects),
    )
    .route(
        "/manage/{token}/feed-token",
        web::post().to(pages::manage_feed),
    )
    .service(
        web::resource("/login")
            .route(web::get().to(admin::login_page))
            .route(web::post().to(admin::login)),
    )
    .route("/logout", web::post().to(admin::logout))
    .route("/admin", web::get().to(admin::dashboard))
    .service(
        web::resource("/admin/tokens")
            .route(web::get().to(tokens::list))
            .route(web::post().to(tokens::create)),
    )
    .route("/admin/tokens/{id}/revoke", web::post().to(tokens::revoke))
    .route("/admin/events/new", web::get().to(admin::new_event))
    .route("/admin/events", web::post().to(admin::create_event))
    .service(
        web::resource("/admin/events/{slug}")
            .route(web::get().to(admin::edit_event))
            .route(web::post().to(admin::update_event)),
    )
    .route(
        "/admin/events/{slug}/cancel",
        web::post().to(admin::cancel_event),
    )
    .route(
        "/admin/events/{slug}/messages",
        web::post().to(admin::send_message),
    )
    .route(
        "/admin/events/{slug}/attendees",
        web::get().to(admin::attendees),
    )
    .route(
        "/admin/events/{slug}/attendees.csv",
        web::get().to(admin::attendees_csv),
    )
    .route(
        "/admin/events/{slug}/projects/new",
        web::get().to(admin::new_project),
    )
    .route(
        "/admin/events/{slug}/projects",
        web::post().to(admin::create_project),
    )
    .service(
        web::resource("/admin/events/{slug}/projects/{project}")
            .route(web::get().to(admin::edit_project))
            .route(web::post().to(admin::update_project)),
    )
    .route(
        "/admin/events/{slug}/projects/{project}/delete",
        web::post().to(admin::delete_project),
    )
    .route("/calendar", web::get().to(feeds::subscribe_help))
    .route("/calendar.ics", get_or_head().to(feeds::site))
    .route("/calendar/{kind}.ics", get_or_head().to(feeds::kind))
    .route("/events/{slug}.ics", get_or_head().to(feeds::event))
    .route(
        "/events/{slug}/projects/{project}.ics",
        get_or_head().to(feeds::project),
    )
    .route("/feeds/{token}.ics", get_or_head().to(feeds::personal))
    .route("/events/{slug}", get_or_head().to(pages::event))
    .service(
        web::resource("/unsubscribe/{token}")
            .route(web::get().to(messages::unsubscribe_page))
            .route(web::post().to(messages::unsubscribe)),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(health::metrics))
    .service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi::document))
            .service(
                web::resource("/events")
                    .route(web::get().to(events::list))
                    .route(web::post().to(events::create)),
            )
            .service(
                web::resource("/events/{slug}")
                    .route(web::get().to(events::get))
                    .route(web::patch().to(events::update)),
            )
            .route("/events/{slug}/cancel", web::post().to(events::cancel))
            .service(
                web::resource("/events/{slug}/projects")
                    .route(web::get().to(projects::list))
                    .route(web::post().to(projects::create)),
            )
            .service(
                web::resource("/events/{slug}/projects/{project}")
                    .route(web::get().to(projects::get))
                    .route(web::patch().to(projects::update))
                    .route(web::delete().to(projects::delete)),
            )
            .service(
                web::resource("/events/{slug}/registrations")
                    .route(web::get().to(registrations::list))
                    .route(web::post().to(registrations::sign_up)),
            )
            .route("/events/{slug}/board", web::get().to(board::get_board))
            .route("/events/{slug}/slots", web::get().to(board::list_slots))
            .route(
                "/events/{slug}/projects/{project}/board",
                web::put().to(board::put_lines),
            )
            .route(
                "/events/{slug}/projects/{project}/slots",
                web::post().to(board::create_slot),
            )
            .service(
                web::resource("/events/{slug}/projects/{project}/slots/{id}")
                    .route(web::patch().to(board::update_slot))
                    .route(web::delete().to(board::delete_slot)),
            )
            .route(
                "/registrations/{token}/checkin",
                web::post().to(board::api_checkin),
            )
            .route(
                "/registrations/{token}/checkout",
                web::post().to(board::api_checkout),
            )
            .route("/events/{slug}/messages", web::post().to(messages::send))
            .route("/events/{slug}/outbox", web::get().to(messages::outbox))
            .service(
                web::resource("/registrations/{token}")
                    .route(web::get().to(registrations::get_own))
                    .route(web::patch().to(registrations::change_own)),
            )
            .route(
                "/registrations/{token}/cancel",
                web::post().to(registrations::cancel_own),
            )
            .route(
                "/registrations/{token}/feed-token",
                web::post().to(registrations::rotate_feed),
            )
            .default_service(web::to(not_found)),
    )
    .default_service(web::to(not_found));
}

/// Calendar clients check feeds with HEAD as well as GET.
fn get_or_head() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

async fn not_found(_req: HttpRequest) -> Result<HttpResponse, AppError> {
    Err(AppError::not_found("there is nothing at this address"))
}

fn json_error(err: JsonPayloadError) -> AppError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            AppError::PayloadTooLarge
        }
        JsonPayloadError::Payload(PayloadError::Overflow) => AppError::PayloadTooLarge,
        JsonPayloadError::ContentType => {
            AppError::UnsupportedMediaType("send the body as application/json".into())
        }
        JsonPayloadError::Deserialize(e) => {
            AppError::BadRequest(format!("the JSON body could not be read: {e}"))
        }
        other => AppError::BadRequest(format!("the request body could not be read: {other}")),
    }
}
