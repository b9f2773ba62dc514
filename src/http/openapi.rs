//! The OpenAPI document, generated from the handlers' annotations and the body types.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{board, events, messages, projects, registrations};

#[derive(OpenApi)]
#[openapi(
    info(title = "Convene API", description = "Events, projects and signups for code sprints, hack-ins, design summits and meetups. Organizer calls need `Authorization: Bearer TOKEN` (from `convene organizer add`). Errors are RFC 9457 `application/problem+json` documents that name every invalid field."),
    paths(
        events::list, events::create, events::get, events::update, events::cancel,
        projects::list, projects::create, projects::get, projects::update, projects::delete,
        registrations::sign_up, registrations::list, registrations::get_own, registrations::change_own, registrations::cancel_own, registrations::rotate_feed,
        messages::send, messages::outbox,
        board::get_board, board::put_lines, board::list_slots, board::create_slot, board::update_slot, board::delete_slot,
        board::api_checkin, board::api_checkout,
    ),
    components(schemas(crate::error::ProblemDocument, crate::domain::FieldProblem)),
    modifiers(&BearerAuth),
    tags((name = "events"), (name = "projects"), (name = "registrations"), (name = "mail"), (name = "board"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
