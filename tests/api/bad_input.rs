//! Bad input gets a clear 4xx naming what was wrong, and changes nothing.

use serde_json::{Value, json};

use crate::helpers::{TestApp, event_json, problem_fields};

async fn invalid_event_fields_are_each_named(app: TestApp) {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "timezone",
            json!("Mars/Olympus_Mons"),
            "an unknown time zone",
        ),
        ("kind", json!("party"), "an unknown kind"),
        (
            "slug",
            json!("Not A Slug"),
            "a slug with spaces and capitals",
        ),
        (
            "title",
            json!("Sprint\r\nBcc: x@evil.test"),
            "a title with a line break",
        ),
        ("title", json!("nul\u{0}byte"), "a title with a NUL byte"),
        ("title", json!("x".repeat(201)), "a title that is too long"),
        ("title", json!("   "), "an empty title"),
        (
            "online_url",
            json!("javascript:alert(1)"),
            "a javascript: URL",
        ),
        ("online_url", json!("data:text/html,hi"), "a data: URL"),
        ("capacity", json!(-1), "a negative capacity"),
        ("capacity", json!(1_000_000), "a huge capacity"),
        (
            "ends_at",
            json!("2020-01-01T00:00"),
            "an end before the start",
        ),
        ("starts_at", json!("next tuesday"), "an unreadable start"),
        (
            "description",
            json!("bell\u{7}"),
            "a control character in the description",
        ),
    ];
    for (field, value, why) in cases {
        let mut body = event_json("bad", Some(5));
        body[field] = value;
        let response = app.post_json("/api/v1/events", &body, true).await;
        assert_eq!(response.status(), 422, "{why}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{why}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(
            problem["type"], "urn:convene:problem:invalid-input",
            "{why}"
        );
        let fields: Vec<String> = problem_fields(&problem);
        assert!(
            fields.iter().any(|f| f == field),
            "{why}: expected `{field}` among {fields:?}"
        );
    }

    // Several problems are reported at once.
    let response = app
        .post_json("/api/v1/events", &json!({"title": "", "kind": "party", "timezone": "UTC", "starts_at": "x", "ends_at": "2031-01-01T10:00"}), true)
        .await;
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["errors"].as_array().unwrap().len() >= 3,
        "{problem}"
    );

    let listed: Vec<Value> = app.get_json("/api/v1/events?period=all").await;
    assert!(listed.is_empty(), "nothing was stored: {listed:?}");
}

async fn malformed_requests_are_refused_before_anything_happens(app: TestApp) {
    let raw = |body: &'static [u8], content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/events"))
            .bearer_auth(&app.token)
            .header("content-type", content_type)
            .body(body)
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (raw(b"{not json", "application/json"), 400, "malformed JSON"),
        (raw(b"\xff\xfe{}", "application/json"), 400, "invalid UTF-8"),
        (
            raw(b"{\"title\": 5}", "application/json"),
            400,
            "a number for a string",
        ),
        (
            raw(
                b"{\"title\": \"x\", \"colour\": \"red\"}",
                "application/json",
            ),
            400,
            "an unknown field",
        ),
        (
            raw(b"title=x", "application/x-www-form-urlencoded"),
            415,
            "the wrong content type",
        ),
        (raw(b"[]", "text/plain"), 415, "text/plain"),
    ];
    for (request, status, why) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{why}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{why}"
        );
    }
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let response = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "deeply nested JSON");

    let huge = json!({ "title": "x".repeat(10 * 1024 * 1024) });
    let response = app.post_json("/api/v1/events", &huge, true).await;
    assert_eq!(response.status(), 413, "a 10 MB body");

    let listed: Vec<Value> = app.get_json("/api/v1/events?period=all").await;
    assert!(listed.is_empty());
}

async fn unknown_slugs_answer_404(app: TestApp) {
    for path in [
        "/api/v1/events/nope",
        "/api/v1/events/nope/projects",
        "/api/v1/events/nope/projects/x",
        "/api/v1/events/%FF%FE",
        "/api/v1/events/a%00b",
        "/api/v1/events/a%00b/projects",
        "/api/v1/events/ok/projects/a%00b",
        "/api/v1/registrations/a%00b",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let response = app.sign_up("nope", "Ada", "ada@example.org", &[]).await;
    assert_eq!(response.status(), 404);
}

async fn bad_signups_are_refused_and_send_nothing(app: TestApp) {
    app.create_event(&event_json("careful", Some(5))).await;
    let cases = [
        (
            json!({"name": "Bob\r\nBcc: x@evil.test", "email": "bob@example.org"}),
            "name",
        ),
        (
            json!({"name": "Bob", "email": "bob@example.org\r\nBcc: x@evil.test"}),
            "email",
        ),
        (
            json!({"name": "Bob", "email": "Bob <bob@example.org>"}),
            "email",
        ),
        (json!({"name": "", "email": "bob@example.org"}), "name"),
        (
            json!({"name": "x".repeat(1_000), "email": "bob@example.org"}),
            "name",
        ),
        (
            json!({"name": "Bob", "email": "bob@example.org", "projects": ["no-such-project"]}),
            "projects[0]",
        ),
        (
            json!({"name": "Bob", "email": "bob@example.org", "projects": ["Bad Slug"]}),
            "projects[0]",
        ),
    ];
    for (body, field) in cases {
        let response = app
            .post_json("/api/v1/events/careful/registrations", &body, false)
            .await;
        assert_eq!(response.status(), 422, "{body}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let response = app
        .post_json(
            "/api/v1/events/careful/registrations",
            &json!({"name": "Bob", "email": "bob@example.org", "admin": true}),
            false,
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(app.registrations("careful").await.is_empty());
    app.wait_for_outbox_drained().await;
    assert!(app.mail().is_empty(), "no mail went out");
}

crate::on_both_backends!(
    invalid_event_fields_are_each_named,
    malformed_requests_are_refused_before_anything_happens,
    unknown_slugs_answer_404,
    bad_signups_are_refused_and_send_nothing,
);
