//! The signup rules: seats, the waitlist, promotion, and concurrency.

use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, event_json};

fn statuses(list: &[Value]) -> (usize, Vec<i64>) {
    let going = list.iter().filter(|r| r["status"] == "going").count();
    let positions = list
        .iter()
        .filter(|r| r["status"] == "waitlisted")
        .map(|r| r["waitlist_position"].as_i64().unwrap())
        .collect();
    (going, positions)
}

async fn concurrent_signups_never_overbook(app: TestApp) {
    app.create_event(&event_json("rush", Some(20))).await;
    let attempts = (0..200).map(|i| {
        let app = &app;
        async move {
            app.sign_up(
                "rush",
                &format!("Person {i}"),
                &format!("person{i}@example.org"),
                &[],
            )
            .await
            .status()
            .as_u16()
        }
    });
    let codes = join_all(attempts).await;
    assert!(
        codes.iter().all(|c| *c == 202),
        "every signup is accepted: {codes:?}"
    );

    let list = app.registrations("rush").await;
    assert_eq!(list.len(), 200);
    let (going, mut positions) = statuses(&list);
    assert_eq!(going, 20, "exactly the capacity is going");
    positions.sort_unstable();
    assert_eq!(
        positions,
        (1..=180).collect::<Vec<i64>>(),
        "the waitlist is numbered 1..N without gaps"
    );
    let event = app.event("rush").await;
    assert_eq!(
        (
            event["going_count"].as_i64(),
            event["waitlist_count"].as_i64()
        ),
        (Some(20), Some(180))
    );
}

async fn the_waitlist_moves_up_in_order_when_someone_cancels(app: TestApp) {
    app.create_event(&event_json("small", Some(2))).await;
    for name in ["ann", "ben", "cat", "dan"] {
        assert_eq!(
            app.sign_up("small", name, &format!("{name}@example.org"), &[])
                .await
                .status(),
            202
        );
    }
    let ann = app.wait_for_mail("ann@example.org", 1).await;
    let cat = app.wait_for_mail("cat@example.org", 1).await;
    assert!(
        ann[0].subject.starts_with("You're going"),
        "{}",
        ann[0].subject
    );
    assert!(
        cat[0].subject.starts_with("Waitlist #1"),
        "{}",
        cat[0].subject
    );
    assert!(cat[0].body.contains("waitlist at position 1"));

    let cancel = app
        .post_json(
            &format!("/api/v1/registrations/{}/cancel", ann[0].manage_token()),
            &json!({}),
            false,
        )
        .await;
    assert_eq!(cancel.status(), 200);
    let body: Value = cancel.json().await.unwrap();
    assert_eq!(body["status"], "cancelled");

    let cat_mail = app.wait_for_mail("cat@example.org", 2).await;
    assert!(
        cat_mail
            .iter()
            .any(|m| m.subject.starts_with("A seat is yours")),
        "cat is promoted: {cat_mail:#?}"
    );
    let ann_mail = app.wait_for_mail("ann@example.org", 2).await;
    assert!(ann_mail.iter().any(|m| m.subject.starts_with("Cancelled")));

    let list = app.registrations("small").await;
    let status_of = |who: &str| {
        list.iter()
            .find(|r| r["email"] == format!("{who}@example.org"))
            .unwrap()
            .clone()
    };
    assert_eq!(status_of("cat")["status"], "going");
    assert_eq!(status_of("dan")["status"], "waitlisted");
    assert_eq!(status_of("dan")["waitlist_position"], 1);
    assert_eq!(status_of("ann")["status"], "cancelled");
    // The organizer's list: going first, then the waitlist, then the cancelled.
    let order: Vec<&str> = list.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(order, ["going", "going", "waitlisted", "cancelled"]);
}

async fn raising_capacity_promotes_in_order_and_lowering_removes_nobody(app: TestApp) {
    app.create_event(&event_json("grow", Some(1))).await;
    for i in 0..5 {
        app.sign_up("grow", &format!("P{i}"), &format!("p{i}@example.org"), &[])
            .await;
    }
    let lowered: Value = app
        .patch_json("/api/v1/events/grow", &json!({"capacity": 0}), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            lowered["going_count"].as_i64(),
            lowered["waitlist_count"].as_i64()
        ),
        (Some(1), Some(4)),
        "nobody removed"
    );

    let raised: Value = app
        .patch_json("/api/v1/events/grow", &json!({"capacity": 3}), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            raised["going_count"].as_i64(),
            raised["waitlist_count"].as_i64()
        ),
        (Some(3), Some(2))
    );
    let list = app.registrations("grow").await;
    let going: Vec<&str> = list
        .iter()
        .filter(|r| r["status"] == "going")
        .map(|r| r["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        going,
        ["p0@example.org", "p1@example.org", "p2@example.org"],
        "promoted in arrival order"
    );
    app.wait_for_mail("p1@example.org", 2).await;
    app.wait_for_mail("p2@example.org", 2).await;

    let unlimited: Value = app
        .patch_json("/api/v1/events/grow", &json!({"capacity": null}), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            unlimited["going_count"].as_i64(),
            unlimited["waitlist_count"].as_i64()
        ),
        (Some(5), Some(0))
    );
}

async fn a_freed_seat_goes_to_the_waitlist_not_to_a_newcomer(app: TestApp) {
    app.create_event(&event_json("fair", Some(1))).await;
    app.sign_up("fair", "First", "first@example.org", &[]).await;
    app.sign_up("fair", "Waiting", "waiting@example.org", &[])
        .await;
    let first = app.wait_for_mail("first@example.org", 1).await;
    let cancel_path = format!("/api/v1/registrations/{}/cancel", first[0].manage_token());
    let empty = json!({});
    let (cancelled, newcomer) = tokio::join!(
        app.post_json(&cancel_path, &empty, false),
        app.sign_up("fair", "Newcomer", "newcomer@example.org", &[]),
    );
    assert_eq!(
        (cancelled.status().as_u16(), newcomer.status().as_u16()),
        (200, 202)
    );
    let list = app.registrations("fair").await;
    let status_of = |who: &str| {
        list.iter()
            .find(|r| r["email"] == format!("{who}@example.org"))
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of("waiting"), "going");
    assert_eq!(status_of("newcomer"), "waitlisted");
}

async fn two_cancellations_at_once_cancel_once(app: TestApp) {
    app.create_event(&event_json("double", Some(1))).await;
    app.sign_up("double", "Going", "going@example.org", &[])
        .await;
    app.sign_up("double", "Next", "next@example.org", &[]).await;
    app.sign_up("double", "Later", "later@example.org", &[])
        .await;
    let token = app.wait_for_mail("going@example.org", 1).await[0].manage_token();
    let path = format!("/api/v1/registrations/{token}/cancel");
    let empty = json!({});
    let (a, b) = tokio::join!(
        app.post_json(&path, &empty, false),
        app.post_json(&path, &empty, false)
    );
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    app.wait_for_outbox_drained().await;
    let going_mail = app.wait_for_mail("going@example.org", 2).await;
    assert_eq!(
        going_mail
            .iter()
            .filter(|m| m.subject.starts_with("Cancelled"))
            .count(),
        1,
        "one cancellation mail"
    );
    let list = app.registrations("double").await;
    let (going, positions) = statuses(&list);
    assert_eq!(
        (going, positions),
        (1, vec![1]),
        "one promotion: next is going, later still waits"
    );
    let next_mail = app.wait_for_mail("next@example.org", 2).await;
    assert_eq!(
        next_mail
            .iter()
            .filter(|m| m.subject.starts_with("A seat is yours"))
            .count(),
        1
    );
}

async fn full_projects_refuse_newcomers(app: TestApp) {
    app.create_event(&event_json("tables", None)).await;
    app.create_project(
        "tables",
        &json!({"slug": "tiny", "name": "Tiny table", "capacity": 1}),
    )
    .await;
    app.create_project("tables", &json!({"slug": "big", "name": "Big table"}))
        .await;
    assert_eq!(
        app.sign_up("tables", "A", "a@example.org", &["tiny", "big"])
            .await
            .status(),
        202
    );
    let refused = app
        .sign_up("tables", "B", "b@example.org", &["big", "tiny"])
        .await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "projects[1]");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("full")
    );
    assert_eq!(
        app.registrations("tables").await.len(),
        1,
        "the refused signup stored nothing"
    );

    let projects: Vec<Value> = app.get_json("/api/v1/events/tables/projects").await;
    let joined =
        |slug: &str| projects.iter().find(|p| p["slug"] == slug).unwrap()["joined_count"].clone();
    assert_eq!((joined("tiny"), joined("big")), (json!(1), json!(1)));
}

async fn signups_close_with_the_event(app: TestApp) {
    app.create_event(&event_json("called-off", Some(10))).await;
    app.post_json("/api/v1/events/called-off/cancel", &json!({}), true)
        .await;
    let response = app
        .sign_up("called-off", "Late", "late@example.org", &[])
        .await;
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("cancelled"));

    let mut not_yet = event_json("not-yet", Some(10));
    not_yet["signup_opens_at"] = "2099-01-01T00:00:00Z".into();
    app.create_event(&not_yet).await;
    let response = app
        .sign_up("not-yet", "Early", "early@example.org", &[])
        .await;
    assert_eq!(response.status(), 409);

    let mut over = event_json("over", Some(10));
    over["starts_at"] = "2024-01-01T10:00".into();
    over["ends_at"] = "2024-01-01T12:00".into();
    app.create_event(&over).await;
    assert_eq!(
        app.sign_up("over", "Late", "late@example.org", &[])
            .await
            .status(),
        409
    );
}

crate::on_both_backends!(
    concurrent_signups_never_overbook,
    the_waitlist_moves_up_in_order_when_someone_cancels,
    raising_capacity_promotes_in_order_and_lowering_removes_nobody,
    a_freed_seat_goes_to_the_waitlist_not_to_a_newcomer,
    two_cancellations_at_once_cancel_once,
    full_projects_refuse_newcomers,
    signups_close_with_the_event,
);
