//! One use case, one answer: the JSON API and the pages share the use cases of `service`, so
//! the same bad input gets the same field messages through both, and every write tells the
//! live boards.

use std::time::Duration;

use serde_json::{Value, json};

use crate::board::wait_for_event;
use crate::helpers::{TestApp, event_json};
use crate::pages::csrf_of;

/// The messages of a problem document, by field.
fn messages_of(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let field = e["field"].as_str().unwrap_or_default();
                    let message = e["message"].as_str().unwrap_or_default();
                    (field.to_owned(), message.to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn a_message_to_an_unknown_project_is_the_same_field_error_in_both(app: TestApp) {
    app.create_event(&event_json("drift", None)).await;
    let api = app
        .post_json(
            "/api/v1/events/drift/messages",
            &json!({"subject": "Hello", "body": "See you", "project": "nope"}),
            true,
        )
        .await;
    assert_eq!(api.status(), 422);
    let problem: Value = api.json().await.unwrap();
    let expected = messages_of(&problem);
    assert_eq!(
        expected,
        vec![(
            "project".to_owned(),
            "there is no project `nope` at this event".to_owned()
        )]
    );

    let browser = crate::tokens::logged_in(&app).await;
    let form = browser.get(app.url("/admin/events/drift")).send().await;
    let csrf = csrf_of(&form.unwrap().text().await.unwrap());
    let page = browser
        .post(app.url("/admin/events/drift/messages"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("subject", "Hello"),
            ("body", "See you"),
            ("project", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 422, "the form again, with its error");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("there is no project `nope` at this event")
            || html.contains("there is no project &#96;nope&#96; at this event"),
        "{html}"
    );
    app.wait_for_outbox_drained().await;
    assert!(app.mail().is_empty(), "nothing was sent");
}

async fn a_signup_for_an_unknown_project_is_refused_by_both(app: TestApp) {
    app.create_event(&event_json("drift2", None)).await;
    let api = app
        .post_json(
            "/api/v1/events/drift2/registrations",
            &json!({"name": "Ada", "email": "ada@example.org", "projects": ["nope"]}),
            false,
        )
        .await;
    assert_eq!(api.status(), 422);
    let problem: Value = api.json().await.unwrap();
    assert_eq!(
        messages_of(&problem),
        vec![(
            "projects[0]".to_owned(),
            "there is no project `nope` at this event".to_owned()
        )]
    );

    let browser = app.browser_client();
    let form = browser.get(app.url("/events/drift2")).send().await.unwrap();
    let csrf = csrf_of(&form.text().await.unwrap());
    let page = browser
        .post(app.url("/events/drift2/signup"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Ada"),
            ("email", "ada@example.org"),
            ("projects", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 422, "the form again, not a quiet signup");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("there is no project `nope` at this event")
            || html.contains("there is no project &#96;nope&#96; at this event"),
        "{html}"
    );
    assert!(
        app.registrations("drift2").await.is_empty(),
        "nobody signed up"
    );
}

async fn a_project_edit_reaches_an_open_board_at_once(app: TestApp) {
    app.create_event(&event_json("boarded", None)).await;
    app.create_project("boarded", &json!({"slug": "docs", "name": "Docs"}))
        .await;
    let mut stream = app
        .client
        .get(app.url("/events/boarded/board/stream"))
        .send()
        .await
        .unwrap();
    assert!(wait_for_event(&mut stream, "event: board", Duration::from_secs(2)).await);
    let changed = app
        .patch_json(
            "/api/v1/events/boarded/projects/docs",
            &json!({"location": "Room 7, by the window"}),
            true,
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert!(
        wait_for_event(&mut stream, "Room 7, by the window", Duration::from_secs(2)).await,
        "the edit reached the open board within 2 s"
    );
}

crate::on_both_backends!(
    a_message_to_an_unknown_project_is_the_same_field_error_in_both,
    a_signup_for_an_unknown_project_is_refused_by_both,
    a_project_edit_reaches_an_open_board_at_once,
);
