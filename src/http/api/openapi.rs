//! The OpenAPI document, generated from the handlers' annotations and the body types, then
//! completed here with what is the same for every operation: the error answers each can give
//! (all as `application/problem+json`), the creation schemas with their required fields, and
//! the links that let a client (or a fuzzer) follow from a created resource to its operations.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{board, events, messages, projects, registrations};

#[derive(OpenApi)]
#[openapi(
    info(title = "Convene API", description = "Events, projects and signups for code sprints, hack-ins, design summits and meetups. Organizer calls need `Authorization: Bearer TOKEN` (from `convene organizer add` or `convene organizer token create`; an expired or revoked token is refused like a wrong one). Errors are RFC 9457 `application/problem+json` documents that name every invalid field."),
    paths(
        events::list, events::create, events::get, events::update, events::cancel,
        events::publish, events::delete,
        projects::list, projects::create, projects::get, projects::update, projects::delete,
        registrations::sign_up, registrations::list, registrations::get_own, registrations::change_own, registrations::cancel_own, registrations::rotate_feed, registrations::set_feed_alarm, registrations::set_show_name,
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

/// The fields a creation needs; a PATCH of the same resource takes any of them.
const CREATE_SCHEMAS: &[(&str, &str, &str, &[&str])] = &[
    (
        "/api/v1/events",
        "EventInput",
        "EventCreate",
        &["kind", "title", "timezone", "starts_at", "ends_at"],
    ),
    (
        "/api/v1/events/{slug}/projects",
        "ProjectInput",
        "ProjectCreate",
        &["name"],
    ),
];

/// Who may get which error answer, beyond what a handler's own annotation says.
fn error_answers(op: &Value, path: &str, method: &str) -> Vec<(&'static str, &'static str)> {
    let mut answers = Vec::new();
    if op.get("requestBody").is_some() {
        answers.push((
            "400",
            "The body is not JSON, or has a field of the wrong type or an unknown field",
        ));
        answers.push(("413", "The body is larger than this endpoint accepts"));
        answers.push(("415", "The body is not sent as application/json"));
    }
    if path.contains('{') {
        answers.push(("404", "There is nothing at this address"));
    }
    if op.get("security").is_some() {
        answers.push((
            "401",
            "No API token, or a wrong, revoked or expired one (the same answer for each)",
        ));
    }
    if method == "post" && path == "/api/v1/events/{slug}/registrations" {
        answers.push((
            "429",
            "Too many signups from this client; wait and try again",
        ));
    }
    answers.push(("503", "The database cannot be reached; try again shortly"));
    answers
}

/// Links from an operation's success answer to the operations on what it returned.
fn links(path: &str, method: &str) -> Option<(&'static str, Value)> {
    let slug = json!({ "slug": "$response.body#/slug" });
    let event_ops = [
        ("GetEvent", "get", "/api/v1/events/{slug}"),
        ("UpdateEvent", "patch", "/api/v1/events/{slug}"),
        ("CancelEvent", "post", "/api/v1/events/{slug}/cancel"),
        ("ListProjects", "get", "/api/v1/events/{slug}/projects"),
        ("CreateProject", "post", "/api/v1/events/{slug}/projects"),
        ("SignUp", "post", "/api/v1/events/{slug}/registrations"),
        (
            "ListRegistrations",
            "get",
            "/api/v1/events/{slug}/registrations",
        ),
        ("SendMessage", "post", "/api/v1/events/{slug}/messages"),
        ("Outbox", "get", "/api/v1/events/{slug}/outbox"),
        ("Board", "get", "/api/v1/events/{slug}/board"),
        ("Slots", "get", "/api/v1/events/{slug}/slots"),
    ];
    let project = json!({ "slug": "$request.path.slug", "project": "$response.body#/slug" });
    let project_ops = [
        (
            "GetProject",
            "get",
            "/api/v1/events/{slug}/projects/{project}",
        ),
        (
            "UpdateProject",
            "patch",
            "/api/v1/events/{slug}/projects/{project}",
        ),
        (
            "DeleteProject",
            "delete",
            "/api/v1/events/{slug}/projects/{project}",
        ),
        (
            "PutLines",
            "put",
            "/api/v1/events/{slug}/projects/{project}/board",
        ),
        (
            "CreateSlot",
            "post",
            "/api/v1/events/{slug}/projects/{project}/slots",
        ),
    ];
    let slot = json!({
        "slug": "$request.path.slug",
        "project": "$request.path.project",
        "id": "$response.body#/id",
    });
    let slot_ops = [
        (
            "UpdateSlot",
            "patch",
            "/api/v1/events/{slug}/projects/{project}/slots/{id}",
        ),
        (
            "DeleteSlot",
            "delete",
            "/api/v1/events/{slug}/projects/{project}/slots/{id}",
        ),
    ];
    let (status, ops, parameters): (_, &[(&str, &str, &str)], _) = match (method, path) {
        ("post", "/api/v1/events") => ("201", &event_ops, slug),
        ("post", "/api/v1/events/{slug}/projects") => ("201", &project_ops, project),
        ("post", "/api/v1/events/{slug}/projects/{project}/slots") => ("201", &slot_ops, slot),
        _ => return None,
    };
    let links: serde_json::Map<String, Value> = ops
        .iter()
        .map(|(name, method, target)| {
            (
                (*name).to_owned(),
                json!({ "operationRef": operation_ref(target, method), "parameters": parameters }),
            )
        })
        .collect();
    Some((status, Value::Object(links)))
}

/// A JSON pointer to an operation of this document (`~1` stands for `/` in a pointer).
fn operation_ref(path: &str, method: &str) -> String {
    format!(
        "#/paths/{}/{method}",
        path.replace('~', "~0").replace('/', "~1")
    )
}

/// The whole document, as served.
pub fn document_json() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let problem = json!({
        "application/problem+json": {
            "schema": { "$ref": "#/components/schemas/ProblemDocument" }
        }
    });
    for (path, base, name, required) in CREATE_SCHEMAS {
        let Some(mut schema) = doc.pointer(&format!("/components/schemas/{base}")).cloned() else {
            continue;
        };
        for field in *required {
            // A required field cannot be null either.
            if let Some(property) = schema.pointer_mut(&format!("/properties/{field}")) {
                *property = without_null(property.take());
            }
        }
        schema["required"] = json!(required);
        doc["components"]["schemas"][*name] = schema;
        if let Some(body) = doc.pointer_mut(&format!(
            "/paths/{}/post/requestBody/content/application~1json/schema",
            path.replace('/', "~1")
        )) {
            *body = json!({ "$ref": format!("#/components/schemas/{name}") });
        }
    }
    let paths: Vec<String> = doc["paths"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for path in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = doc["paths"][&path].get_mut(method) else {
                continue;
            };
            for (status, description) in error_answers(op, &path, method) {
                let responses = &mut op["responses"];
                if responses.get(status).is_none() {
                    responses[status] = json!({ "description": description, "content": problem });
                }
            }
            if let Some((status, links)) = links(&path, method) {
                op["responses"][status]["links"] = links;
            }
        }
    }
    doc
}

/// `{"type": ["string", "null"]}` as `{"type": "string"}`; a `oneOf` with a null branch (an
/// optional reference) as its other branch.
fn without_null(schema: Value) -> Value {
    match schema {
        Value::Object(mut object) => {
            if let Some(Value::Array(types)) = object.get("type") {
                let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                object.insert(
                    "type".into(),
                    if kept.len() == 1 {
                        kept[0].clone()
                    } else {
                        Value::Array(kept)
                    },
                );
            }
            if let Some(Value::Array(branches)) = object.get("oneOf") {
                let kept: Vec<Value> = branches
                    .iter()
                    .filter(|b| b.get("type") != Some(&json!("null")))
                    .cloned()
                    .collect();
                if kept.len() == 1 {
                    object.remove("oneOf");
                    let mut merged = object;
                    if let Value::Object(inner) = kept[0].clone() {
                        merged.extend(inner);
                    }
                    return Value::Object(merged);
                }
            }
            Value::Object(object)
        }
        other => other,
    }
}

static DOCUMENT: LazyLock<Value> = LazyLock::new(document_json);

pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_documents_its_error_answers_as_problems() {
        let doc = document_json();
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                let responses = op["responses"].as_object().unwrap();
                let mut expected = vec!["503"];
                if op.get("requestBody").is_some() {
                    expected.extend(["400", "413", "415", "422"]);
                }
                if path.contains('{') {
                    expected.push("404");
                }
                if op.get("security").is_some() {
                    expected.push("401");
                }
                for status in expected {
                    let answer = responses
                        .get(status)
                        .unwrap_or_else(|| panic!("{method} {path}: no {status}"));
                    assert!(
                        answer["content"]["application/problem+json"].is_object(),
                        "{method} {path} {status}: {answer}"
                    );
                }
            }
        }
        assert!(operations >= 26, "{operations}");
    }

    #[test]
    fn creation_schemas_require_their_fields_and_kind_is_an_enum() {
        let doc = document_json();
        let create = &doc["components"]["schemas"]["EventCreate"];
        assert_eq!(
            create["required"],
            json!(["kind", "title", "timezone", "starts_at", "ends_at"])
        );
        assert_eq!(create["properties"]["title"]["type"], "string");
        assert_eq!(
            doc["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/EventCreate"
        );
        let kinds: Vec<&str> = crate::domain::EventKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            doc["components"]["schemas"]["EventKind"]["enum"],
            json!(kinds)
        );
        let filter = doc["paths"]["/api/v1/events"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "kind")
            .unwrap()["schema"]["pattern"]
            .clone();
        assert_eq!(filter, json!(format!("^({})?$", kinds.join("|"))));
        assert_eq!(
            doc["components"]["schemas"]["ProjectCreate"]["required"],
            json!(["name"])
        );
    }

    #[test]
    fn links_point_at_operations_of_the_document() {
        let doc = document_json();
        let links = &doc["paths"]["/api/v1/events"]["post"]["responses"]["201"]["links"];
        assert!(links.as_object().is_some_and(|l| l.len() > 5), "{links}");
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, answer) in op["responses"].as_object().unwrap() {
                    for link in answer["links"]
                        .as_object()
                        .into_iter()
                        .flat_map(|l| l.values())
                    {
                        let target = link["operationRef"].as_str().unwrap();
                        assert!(
                            doc.pointer(target.trim_start_matches('#')).is_some(),
                            "{method} {path} {status}: {target} is not in the document"
                        );
                    }
                }
            }
        }
    }
}
