//! Pages of a busy site: the home page in pages of 25 events, and the event page kept
//! rendered for everyone while each visitor still gets a form token of their own.

use serde_json::json;

use crate::helpers::{TestApp, event_json};
use crate::pages::csrf_of;

/// How many events a home page lists.
fn events_listed(html: &str) -> usize {
    html.matches("class=\"title\" href=\"/events/").count()
}

async fn the_home_page_lists_25_events_a_page_soonest_first(app: TestApp) {
    for i in 0..30 {
        let mut event = event_json(&format!("meetup-{i:02}"), Some(10));
        event["starts_at"] = format!("2031-02-{:02}T18:00", i % 28 + 1).into();
        event["ends_at"] = format!("2031-02-{:02}T21:00", i % 28 + 1).into();
        app.create_event(&event).await;
    }
    let first = app.get("/").await;
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    assert_eq!(events_listed(&first), 25);
    assert!(first.contains("Events 1 to 25"), "{first}");
    assert!(first.contains(r#"href="/?page=2" rel="next">Later events"#));
    assert!(!first.contains("rel=\"prev\""));
    // Soonest first: February 1st's events lead, the last days of the month come later.
    let ours = first.find("/events/meetup-00").unwrap();
    assert!(ours < first.find("/events/meetup-01").unwrap());

    let second = app.get("/?page=2").await.text().await.unwrap();
    assert_eq!(events_listed(&second), 5);
    assert!(second.contains("Events 26 to 30"));
    assert!(second.contains(r#"href="/" rel="prev">Sooner events"#));
    assert!(!second.contains("rel=\"next\""));
    let listed = |html: &str, i: usize| html.contains(&format!("/events/meetup-{i:02}\""));
    assert!(
        (0..30).all(|i| listed(&first, i) != listed(&second, i)),
        "every event is on exactly one of the two pages"
    );

    // A kind filter keeps itself in the page links.
    let sprints = app.get("/?kind=sprint").await.text().await.unwrap();
    assert!(
        sprints.contains(r#"href="/?kind=sprint&#38;page=2" rel="next""#),
        "{sprints}"
    );

    let beyond = app.get("/?page=9").await.text().await.unwrap();
    assert!(beyond.contains("No more events here"));
    for bad in ["0", "two", "-1", "99999999999"] {
        let response = app.get(&format!("/?page={bad}")).await;
        assert_eq!(response.status(), 400, "page={bad}");
        let text = response.text().await.unwrap();
        assert!(text.contains("page must be a whole number"), "{text}");
    }
}

async fn each_visitor_of_a_kept_event_page_gets_a_token_of_their_own(app: TestApp) {
    app.create_event(&event_json("kept", Some(5))).await;
    app.create_project("kept", &json!({"slug": "docs", "name": "Docs"}))
        .await;
    let (ann, bob) = (app.browser_client(), app.browser_client());
    let ann_page = ann.get(app.url("/events/kept")).send().await.unwrap();
    let ann_html = ann_page.text().await.unwrap();
    let bob_html = bob
        .get(app.url("/events/kept"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (ann_token, bob_token) = (csrf_of(&ann_html), csrf_of(&bob_html));
    assert_ne!(ann_token, bob_token);
    assert_eq!(
        ann_html.replace(&ann_token, ""),
        bob_html.replace(&bob_token, ""),
        "the same page otherwise"
    );

    // Each token works with its own cookie, so the signup goes through for both.
    for (client, token, name) in [(&ann, &ann_token, "ann"), (&bob, &bob_token, "bob")] {
        let response = client
            .post(app.url("/events/kept/signup"))
            .form(&[
                ("csrf", token.as_str()),
                ("name", name),
                ("email", &format!("{name}@example.org")),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "on to the thanks page");
    }
    // A signup shows at once on the page that was kept before it.
    let after = ann.get(app.url("/events/kept")).send().await.unwrap();
    let after = after.text().await.unwrap();
    assert!(after.contains("3 of 5 seats left"), "{after}");
    assert_eq!(app.registrations("kept").await.len(), 2);
}

crate::on_both_backends!(
    the_home_page_lists_25_events_a_page_soonest_first,
    each_visitor_of_a_kept_event_page_gets_a_token_of_their_own,
);
