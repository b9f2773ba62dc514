use crate::helpers::TestApp;
use serde_json::Value;

async fn health_and_readiness_answer(app: TestApp) {
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
}

async fn openapi_document_describes_the_api(app: TestApp) {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/events",
        "/api/v1/events/{slug}",
        "/api/v1/events/{slug}/cancel",
        "/api/v1/events/{slug}/projects",
        "/api/v1/events/{slug}/projects/{project}",
        "/api/v1/events/{slug}/registrations",
        "/api/v1/registrations/{token}",
        "/api/v1/registrations/{token}/cancel",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} is missing from the OpenAPI document"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["EventBody"]["properties"]["waitlist_count"].is_object());
}

async fn unknown_paths_answer_problem_documents(app: TestApp) {
    let response = app.get("/api/v1/nothing-here").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "urn:convene:problem:not-found");
    assert_eq!(body["status"], 404);
}

async fn home_page_lists_upcoming_events_escaped(app: TestApp) {
    let mut event = crate::helpers::event_json("escaped", Some(5));
    event["title"] = "</title><script>alert(1)</script>".into();
    app.create_event(&event).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let html = response.text().await.unwrap();
    assert!(
        html.contains("&#60;/title&#62;&#60;script&#62;alert(1)"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("5 seats left"));
    assert!(
        html.contains("webcal://convene.example/calendar.ics"),
        "the site feed is offered for subscription"
    );
    let help = app.get("/calendar").await.text().await.unwrap();
    for app_name in [
        "Google Calendar",
        "Apple Calendar",
        "Outlook",
        "Thunderbird",
        "every several hours",
    ] {
        assert!(help.contains(app_name), "{app_name}");
    }
    assert!(help.contains("webcal://convene.example/calendar/hack-in.ics"));
}

crate::on_both_backends!(
    health_and_readiness_answer,
    openapi_document_describes_the_api,
    unknown_paths_answer_problem_documents,
    home_page_lists_upcoming_events_escaped,
);
