//! Drafts, publishing and deleting: an event in the making is seen by its organizers only
//! (no page, no feed, no signup, no mail) until it is published; one nobody signed up for
//! can be deleted.

use serde_json::{Value, json};

use crate::helpers::{TestApp, event_json, problem_fields};

async fn a_draft_is_for_organizers_only_until_it_is_published(app: TestApp) {
    let mut body = event_json("in-the-making", Some(10));
    body["draft"] = true.into();
    let created = app.create_event(&body).await;
    assert_eq!(created["draft"], true);
    assert_eq!(created["published_at"], Value::Null);
    app.create_project(
        "in-the-making",
        &json!({"slug": "docs", "name": "Docs", "leads": [{"name": "Lee", "email": "lee@example.org"}]}),
    )
    .await;

    for path in [
        "/api/v1/events/in-the-making",
        "/api/v1/events/in-the-making/projects",
        "/events/in-the-making",
        "/events/in-the-making.ics",
        "/events/in-the-making/board",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    let public: Vec<Value> = app.get_json("/api/v1/events").await;
    assert!(public.is_empty(), "not in the public list");
    let feed = app.get("/calendar.ics").await.text().await.unwrap();
    assert!(!feed.contains("Sprint in-the-making"), "not in the feed");
    let home = app.get("/").await.text().await.unwrap();
    assert!(
        !home.contains("Sprint in-the-making"),
        "not on the home page"
    );
    let ours = app.get_authed("/api/v1/events").await;
    let ours: Vec<Value> = ours.json().await.unwrap();
    assert_eq!(ours[0]["draft"], true, "organizers see their drafts");
    let signup = app
        .sign_up("in-the-making", "Ada", "ada@example.org", &[])
        .await;
    assert_eq!(signup.status(), 409);
    let refused: Value = signup.json().await.unwrap();
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("not published")
    );
    app.wait_for_outbox_drained().await;
    assert!(app.mail().is_empty(), "nothing is mailed for a draft");

    let published = app
        .post_json("/api/v1/events/in-the-making/publish", &json!({}), true)
        .await;
    assert_eq!(published.status(), 200);
    let published: Value = published.json().await.unwrap();
    assert_eq!(published["draft"], false);
    assert!(published["published_at"].is_string());
    let lead = app.wait_for_mail("lee@example.org", 1).await;
    assert!(
        lead[0].body.contains("/lead/"),
        "the lead's link waited for it"
    );
    assert_eq!(app.get("/events/in-the-making").await.status(), 200);
    let feed = app.get("/calendar.ics").await.text().await.unwrap();
    assert!(feed.contains("Sprint in-the-making"));
    let signup = app
        .sign_up("in-the-making", "Ada", "ada@example.org", &[])
        .await;
    assert_eq!(signup.status(), 202);

    let again = app
        .post_json("/api/v1/events/in-the-making/publish", &json!({}), true)
        .await;
    assert_eq!(again.status(), 200, "publishing twice changes nothing");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["published_at"], published["published_at"]);
    assert_eq!(app.mail_to("lee@example.org").len(), 1, "one link, once");
}

async fn a_published_event_cannot_become_a_draft_again(app: TestApp) {
    app.create_event(&event_json("public", None)).await;
    let response = app
        .patch_json("/api/v1/events/public", &json!({"draft": true}), true)
        .await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem_fields(&problem), ["draft"]);
    assert_eq!(app.event("public").await["draft"], false);
}

async fn only_an_event_nobody_signed_up_for_can_be_deleted(app: TestApp) {
    let delete = |slug: &'static str| {
        app.client
            .delete(app.url(&format!("/api/v1/events/{slug}")))
            .bearer_auth(&app.token)
            .send()
    };
    app.create_event(&event_json("empty", None)).await;
    app.create_project("empty", &json!({"slug": "docs", "name": "Docs"}))
        .await;
    assert_eq!(delete("empty").await.unwrap().status(), 204);
    assert_eq!(app.get("/api/v1/events/empty").await.status(), 404);

    app.create_event(&event_json("popular", None)).await;
    app.sign_up("popular", "Ada", "ada@example.org", &[]).await;
    let refused = delete("popular").await.unwrap();
    assert_eq!(refused.status(), 409);
    let problem: Value = refused.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("cancel it"));
    assert_eq!(app.event("popular").await["going_count"], 1, "still there");
    let anonymous = app
        .client
        .delete(app.url("/api/v1/events/popular"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

async fn every_problem_of_an_event_shows_at_once_in_plain_words(app: TestApp) {
    let mut body = event_json("muddled", None);
    body["timezone"] = "Mars/Base".into();
    body["ends_at"] = "2020-01-01T10:00".into();
    body["starts_at"] = "2020-01-02T10:00".into();
    body["online_url"] = "meet.example.org/sprint".into();
    let response = app.post_json("/api/v1/events", &body, true).await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    let fields = problem_fields(&problem);
    for field in ["timezone", "ends_at", "online_url"] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("must be after the start")
            && detail.contains("starting with https://")
            && !detail.contains('`'),
        "{detail}"
    );
}

crate::on_both_backends!(
    a_draft_is_for_organizers_only_until_it_is_published,
    a_published_event_cannot_become_a_draft_again,
    only_an_event_nobody_signed_up_for_can_be_deleted,
    every_problem_of_an_event_shows_at_once_in_plain_words,
);
