use serde_json::{Value, json};

use crate::helpers::{TestApp, event_json, problem_fields};

async fn organizers_manage_projects_and_leads(app: TestApp) {
    app.create_event(&event_json("sprint", None)).await;
    let created = app
        .create_project(
            "sprint",
            &json!({
                "name": "Twisted",
                "description": "Event-driven networking",
                "repository_url": "https://github.com/twisted/twisted",
                "notes_url": "https://pad.example.org/p/twisted",
                "location": "Table 3",
                "capacity": 8,
                "leads": [{"name": "Glyph", "email": "glyph@example.org"}, {"name": "Amber"}]
            }),
        )
        .await;
    assert_eq!(created["slug"], "twisted");
    assert_eq!(created["location"], "Table 3");
    assert_eq!(
        created["leads"],
        json!([{"name": "Glyph"}, {"name": "Amber"}]),
        "lead addresses stay private"
    );

    let fetched = app.get("/api/v1/events/sprint/projects/twisted").await;
    assert_eq!(fetched.status(), 200);
    assert!(!fetched.text().await.unwrap().contains("glyph@example.org"));

    let changed: Value = app
        .patch_json(
            "/api/v1/events/sprint/projects/twisted",
            &json!({"location": "Room 2.04", "notes_url": null}),
            true,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(changed["location"], "Room 2.04");
    assert_eq!(changed["notes_url"], Value::Null);
    assert_eq!(
        changed["leads"].as_array().unwrap().len(),
        2,
        "leads are kept unless given"
    );

    let bad = app.post_json("/api/v1/events/sprint/projects", &json!({"name": "X", "repository_url": "javascript:alert(1)", "leads": [{"name": "", "email": "nope"}]}), true).await;
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.unwrap();
    let fields: Vec<String> = problem_fields(&problem);
    assert_eq!(
        fields,
        ["repository_url", "leads[0].name", "leads[0].email"]
    );

    let duplicate = app
        .post_json(
            "/api/v1/events/sprint/projects",
            &json!({"name": "Twisted"}),
            true,
        )
        .await;
    assert_eq!(duplicate.status(), 422);

    app.sign_up("sprint", "Joiner", "joiner@example.org", &["twisted"])
        .await;
    let deleted = app
        .client
        .delete(app.url("/api/v1/events/sprint/projects/twisted"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        app.get("/api/v1/events/sprint/projects/twisted")
            .await
            .status(),
        404
    );
    let list = app.registrations("sprint").await;
    assert_eq!(list.len(), 1, "registrations stay when a project goes");
    assert_eq!(list[0]["projects"], json!([]));
}

crate::on_both_backends!(organizers_manage_projects_and_leads);
