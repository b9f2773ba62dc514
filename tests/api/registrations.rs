//! An attendee's own registration, reached only through the link in their email.

use serde_json::{Value, json};

use crate::helpers::{BASE_URL, TestApp, event_json};

async fn signup_sends_a_confirmation_with_a_working_manage_link(app: TestApp) {
    app.create_event(&event_json("confirm", Some(10))).await;
    app.create_project(
        "confirm",
        &json!({"slug": "docs", "name": "Documentation", "location": "Table 4"}),
    )
    .await;
    let response = app
        .client
        .post(app.url("/api/v1/events/confirm/registrations"))
        .header("Host", "evil.test")
        .header("X-Forwarded-Host", "evil.test")
        .json(&json!({"name": "Ada Lovelace", "email": "ada@example.org", "projects": ["docs"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);

    let mail = app.wait_for_mail("ada@example.org", 1).await;
    let message = &mail[0];
    assert!(
        message.subject.contains("You're going: Sprint confirm"),
        "{}",
        message.subject
    );
    assert!(
        message.body.contains("Documentation"),
        "the projects joined are listed"
    );
    assert!(
        message.body.contains("(Europe/Berlin)"),
        "times name the zone"
    );
    assert!(message.body.contains(&format!("{BASE_URL}/events/confirm")));
    assert!(
        !message.raw.contains("evil.test"),
        "links use the configured base URL"
    );
    assert!(
        message
            .manage_link()
            .starts_with(&format!("{BASE_URL}/manage/"))
    );
    assert!(message.raw.contains("Auto-Submitted: auto-generated"));
    assert!(!message.message_id.is_empty());

    let token = message.manage_token();
    assert!(token.len() >= 43, "at least 128 random bits");
    let own: Value = app
        .get_json(&format!("/api/v1/registrations/{token}"))
        .await;
    assert_eq!(own["status"], "going");
    assert_eq!(own["event"], "confirm");
    assert_eq!(own["projects"], json!(["docs"]));
    assert_eq!(own["waitlist_position"], Value::Null);
}

async fn signing_up_twice_gives_the_same_answer_and_one_registration(app: TestApp) {
    app.create_event(&event_json("again", Some(10))).await;
    let first = app
        .sign_up("again", "Alice", "Alice@Example.test", &[])
        .await;
    let (first_status, first_body) = (first.status(), first.text().await.unwrap());
    let second = app
        .sign_up("again", "Someone Else", "alice@example.test", &[])
        .await;
    let (second_status, second_body) = (second.status(), second.text().await.unwrap());
    assert_eq!(
        (first_status.as_u16(), &first_body),
        (second_status.as_u16(), &second_body),
        "the answer does not tell"
    );
    assert_eq!(first_status, 202);

    let list = app.registrations("again").await;
    assert_eq!(
        list.len(),
        1,
        "one registration per address, whatever the letter case"
    );
    assert_eq!(
        list[0]["name"], "Alice",
        "the second signup changed nothing"
    );

    let mail = app.wait_for_mail("alice@example.test", 2).await;
    let confirmation = mail
        .iter()
        .find(|m| m.subject.starts_with("You're going"))
        .expect("a confirmation");
    let reminder = mail
        .iter()
        .find(|m| m.subject.starts_with("You're already registered"))
        .expect("an already-registered notice");
    assert_eq!(
        reminder.manage_link(),
        confirmation.manage_link(),
        "the owner gets their existing link"
    );
    assert_ne!(reminder.message_id, confirmation.message_id);
}

async fn wrong_tokens_all_get_the_same_404(app: TestApp) {
    app.create_event(&event_json("tokens", Some(10))).await;
    app.sign_up("tokens", "Tom", "tom@example.org", &[]).await;
    let token = app.wait_for_mail("tom@example.org", 1).await[0].manage_token();
    let mut other_case = token.clone();
    let flipped = other_case
        .chars()
        .position(|c| c.is_ascii_alphabetic())
        .unwrap();
    let c = other_case.remove(flipped);
    other_case.insert(
        flipped,
        if c.is_ascii_uppercase() {
            c.to_ascii_lowercase()
        } else {
            c.to_ascii_uppercase()
        },
    );
    let mut bodies = Vec::new();
    for wrong in [
        format!("{token}x"),
        token[..20].to_owned(),
        other_case,
        "x".repeat(500),
        "%00".into(),
    ] {
        let response = app.get(&format!("/api/v1/registrations/{wrong}")).await;
        assert_eq!(response.status(), 404, "{wrong}");
        bodies.push(response.text().await.unwrap());
        let cancel = app
            .post_json(
                &format!("/api/v1/registrations/{wrong}/cancel"),
                &json!({}),
                false,
            )
            .await;
        assert_eq!(cancel.status(), 404);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "no hint of which part was wrong: {bodies:?}"
    );
    let own = app.get(&format!("/api/v1/registrations/{token}")).await;
    assert_eq!(own.status(), 200);
    assert_eq!(own.headers()["cache-control"], "no-store");
    let still: Value = own.json().await.unwrap();
    assert_eq!(
        still["status"], "going",
        "nothing was cancelled by the wrong tokens"
    );
}

async fn attendees_change_their_projects(app: TestApp) {
    app.create_event(&event_json("switch", None)).await;
    app.create_project(
        "switch",
        &json!({"slug": "one", "name": "One", "capacity": 1}),
    )
    .await;
    app.create_project("switch", &json!({"slug": "two", "name": "Two"}))
        .await;
    app.sign_up("switch", "Sam", "sam@example.org", &["one"])
        .await;
    let token = app.wait_for_mail("sam@example.org", 1).await[0].manage_token();
    let path = format!("/api/v1/registrations/{token}");

    // Keeping a place one already holds in a full project is fine.
    let both: Value = app
        .patch_json(&path, &json!({"projects": ["two", "one"]}), false)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(both["projects"], json!(["one", "two"]));
    let refused = app
        .patch_json(&path, &json!({"projects": ["three"]}), false)
        .await;
    assert_eq!(refused.status(), 422);
    let none: Value = app
        .patch_json(&path, &json!({"projects": []}), false)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["projects"], json!([]));

    app.post_json(&format!("{path}/cancel"), &json!({}), false)
        .await;
    let after = app
        .patch_json(&path, &json!({"projects": ["two"]}), false)
        .await;
    assert_eq!(
        after.status(),
        409,
        "a cancelled registration joins nothing"
    );
}

async fn a_cancelled_attendee_can_sign_up_again_at_the_end_of_the_line(app: TestApp) {
    app.create_event(&event_json("return", Some(1))).await;
    app.sign_up("return", "Rita", "rita@example.org", &[]).await;
    app.sign_up("return", "Sven", "sven@example.org", &[]).await;
    let token = app.wait_for_mail("rita@example.org", 1).await[0].manage_token();
    app.post_json(
        &format!("/api/v1/registrations/{token}/cancel"),
        &json!({}),
        false,
    )
    .await;
    assert_eq!(
        app.sign_up("return", "Rita", "RITA@example.org", &[])
            .await
            .status(),
        202
    );
    let own: Value = app
        .get_json(&format!("/api/v1/registrations/{token}"))
        .await;
    assert_eq!(
        (own["status"].as_str(), own["waitlist_position"].as_i64()),
        (Some("waitlisted"), Some(1)),
        "Sven got the seat; Rita waits, with the same link"
    );
}

crate::on_both_backends!(
    signup_sends_a_confirmation_with_a_working_manage_link,
    signing_up_twice_gives_the_same_answer_and_one_registration,
    wrong_tokens_all_get_the_same_404,
    attendees_change_their_projects,
    a_cancelled_attendee_can_sign_up_again_at_the_end_of_the_line,
);
