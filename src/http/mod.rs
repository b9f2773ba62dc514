//! HTTP: the route table, the shared state, and how malformed requests are answered.
//!
//! One rule places every handler: the JSON API in `api/` (one file per resource), the HTML
//! pages in `pages/` (one file per audience, the organizers' under `pages/admin/`), the
//! iCalendar feeds in `feeds`. The other files beside this one are what all three share
//! (authentication, client addresses, limits, caches, health). Handlers read the request into
//! domain input, call one use case of `service`, and render its answer.

pub mod api;
pub mod auth;
pub mod client;
pub mod feeds;
pub mod guard;
pub mod health;
pub mod input;
pub mod limits;
pub mod pages;
pub mod private;
pub mod recent;

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
    pub recent_pages: pages::public::RecentPages,
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
    .route("/", get_or_head().to(pages::public::home))
    .route("/static/style.css", web::get().to(pages::site::stylesheet))
    .route("/static/board.js", web::get().to(pages::site::board_script))
    .route("/static/zone.js", web::get().to(pages::site::zone_script))
    .service(
        web::resource("/preferences/zone")
            .route(get_or_head().to(pages::preferences::zone_form))
            .route(web::post().to(pages::preferences::choose_zone)),
    )
    .route("/favicon.ico", get_or_head().to(pages::site::favicon))
    .route("/events/{slug}/board", get_or_head().to(pages::board::page))
    .route(
        "/events/{slug}/board/stream",
        web::get().to(pages::board::stream),
    )
    .route("/lead/{token}", get_or_head().to(pages::lead::lead))
    .route(
        "/lead/{token}/board",
        web::post().to(pages::lead::lead_lines),
    )
    .route(
        "/lead/{token}/slots",
        web::post().to(pages::lead::lead_slot),
    )
    .route(
        "/lead/{token}/slots/{id}/delete",
        web::post().to(pages::lead::lead_slot_delete),
    )
    .route(
        "/manage/{token}/checkin",
        web::post().to(pages::manage::manage_checkin),
    )
    .route(
        "/manage/{token}/checkout",
        web::post().to(pages::manage::manage_checkout),
    )
    .service(
        web::resource("/events/{slug}/signup")
            .route(web::post().to(pages::public::sign_up))
            .route(web::get().to(pages::public::signup_form)),
    )
    .route(
        "/events/{slug}/thanks",
        web::get().to(pages::public::thanks),
    )
    .route("/manage/{token}", get_or_head().to(pages::manage::manage))
    .service(
        web::resource("/manage/{token}/cancel")
            .route(web::post().to(pages::manage::manage_cancel))
            .route(get_or_head().to(pages::manage::manage_cancel_confirm)),
    )
    .route(
        "/manage/{token}/projects",
        web::post().to(pages::manage::manage_projects),
    )
    .route(
        "/manage/{token}/feed-token",
        web::post().to(pages::manage::manage_feed),
    )
    .route(
        "/manage/{token}/feed-alarm",
        web::post().to(pages::manage::manage_feed_alarm),
    )
    .route(
        "/manage/{token}/show-name",
        web::post().to(pages::manage::manage_show_name),
    )
    .service(
        web::resource("/login")
            .route(web::get().to(pages::admin::login::login_page))
            .route(web::post().to(pages::admin::login::login)),
    )
    .route("/logout", web::post().to(pages::admin::login::logout))
    .route("/admin", web::get().to(pages::admin::dashboard))
    .service(
        web::resource("/admin/tokens")
            .route(web::get().to(pages::admin::tokens::list))
            .route(web::post().to(pages::admin::tokens::create)),
    )
    .route(
        "/admin/tokens/{id}/revoke",
        web::post().to(pages::admin::tokens::revoke),
    )
    .route(
        "/admin/events/new",
        web::get().to(pages::admin::events::new_event),
    )
    .route(
        "/admin/events",
        web::post().to(pages::admin::events::create_event),
    )
    .service(
        web::resource("/admin/events/{slug}")
            .route(web::get().to(pages::admin::events::edit_event))
            .route(web::post().to(pages::admin::events::update_event)),
    )
    .service(
        web::resource("/admin/events/{slug}/cancel")
            .route(web::post().to(pages::admin::events::cancel_event))
            .route(get_or_head().to(pages::admin::events::cancel_event_confirm)),
    )
    .service(
        web::resource("/admin/events/{slug}/delete")
            .route(web::post().to(pages::admin::events::delete_event))
            .route(get_or_head().to(pages::admin::events::delete_event_confirm)),
    )
    .route(
        "/admin/events/{slug}/publish",
        web::post().to(pages::admin::events::publish_event),
    )
    .route(
        "/admin/events/{slug}/messages",
        web::post().to(pages::admin::events::send_message),
    )
    .route(
        "/admin/events/{slug}/attendees",
        web::get().to(pages::admin::attendees::attendees),
    )
    .route(
        "/admin/events/{slug}/attendees.csv",
        web::get().to(pages::admin::attendees::attendees_csv),
    )
    .route(
        "/admin/events/{slug}/projects/new",
        web::get().to(pages::admin::projects::new_project),
    )
    .route(
        "/admin/events/{slug}/projects",
        web::post().to(pages::admin::projects::create_project),
    )
    .service(
        web::resource("/admin/events/{slug}/projects/{project}")
            .route(web::get().to(pages::admin::projects::edit_project))
            .route(web::post().to(pages::admin::projects::update_project)),
    )
    .service(
        web::resource("/admin/events/{slug}/projects/{project}/delete")
            .route(web::post().to(pages::admin::projects::delete_project))
            .route(get_or_head().to(pages::admin::projects::delete_project_confirm)),
    )
    .route("/calendar", web::get().to(feeds::subscribe_help))
    .route("/sitemap.xml", get_or_head().to(pages::share::sitemap))
    .route("/robots.txt", get_or_head().to(pages::share::robots))
    .route("/calendar.ics", get_or_head().to(feeds::site))
    .route("/calendar/{kind}.ics", get_or_head().to(feeds::kind))
    .route("/events/{slug}.ics", get_or_head().to(feeds::event))
    .route(
        "/events/{slug}/projects/{project}.ics",
        get_or_head().to(feeds::project),
    )
    .route("/feeds/{token}.ics", get_or_head().to(feeds::personal))
    .route("/events/{slug}", get_or_head().to(pages::public::event))
    .service(
        web::resource("/unsubscribe/{token}")
            .route(web::get().to(pages::manage::unsubscribe_page))
            .route(web::post().to(pages::manage::unsubscribe)),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(health::metrics))
    .service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(api::openapi::document))
            .service(
                web::resource("/events")
                    .route(web::get().to(api::events::list))
                    .route(web::post().to(api::events::create)),
            )
            .service(
                web::resource("/events/{slug}")
                    .route(web::get().to(api::events::get))
                    .route(web::patch().to(api::events::update))
                    .route(web::delete().to(api::events::delete)),
            )
            .route("/events/{slug}/cancel", web::post().to(api::events::cancel))
            .route(
                "/events/{slug}/publish",
                web::post().to(api::events::publish),
            )
            .service(
                web::resource("/events/{slug}/projects")
                    .route(web::get().to(api::projects::list))
                    .route(web::post().to(api::projects::create)),
            )
            .service(
                web::resource("/events/{slug}/projects/{project}")
                    .route(web::get().to(api::projects::get))
                    .route(web::patch().to(api::projects::update))
                    .route(web::delete().to(api::projects::delete)),
            )
            .service(
                web::resource("/events/{slug}/registrations")
                    .route(web::get().to(api::registrations::list))
                    .route(web::post().to(api::registrations::sign_up)),
            )
            .route("/events/{slug}/board", web::get().to(api::board::get_board))
            .route(
                "/events/{slug}/slots",
                web::get().to(api::board::list_slots),
            )
            .route(
                "/events/{slug}/projects/{project}/board",
                web::put().to(api::board::put_lines),
            )
            .route(
                "/events/{slug}/projects/{project}/slots",
                web::post().to(api::board::create_slot),
            )
            .service(
                web::resource("/events/{slug}/projects/{project}/slots/{id}")
                    .route(web::patch().to(api::board::update_slot))
                    .route(web::delete().to(api::board::delete_slot)),
            )
            .route(
                "/registrations/{token}/checkin",
                web::post().to(api::board::api_checkin),
            )
            .route(
                "/registrations/{token}/checkout",
                web::post().to(api::board::api_checkout),
            )
            .route(
                "/events/{slug}/messages",
                web::post().to(api::messages::send),
            )
            .route(
                "/events/{slug}/outbox",
                web::get().to(api::messages::outbox),
            )
            .service(
                web::resource("/registrations/{token}")
                    .route(web::get().to(api::registrations::get_own))
                    .route(web::patch().to(api::registrations::change_own)),
            )
            .route(
                "/registrations/{token}/cancel",
                web::post().to(api::registrations::cancel_own),
            )
            .route(
                "/registrations/{token}/feed-token",
                web::post().to(api::registrations::rotate_feed),
            )
            .route(
                "/registrations/{token}/feed-alarm",
                web::put().to(api::registrations::set_feed_alarm),
            )
            .route(
                "/registrations/{token}/show-name",
                web::put().to(api::registrations::set_show_name),
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
