use serde_json::{Value, json};

use crate::helpers::{BASE_URL, TestApp, event_json};

async fn organizer_creates_and_reads_an_event(app: TestApp) {
    let created = app
        .create_event(&event_json("pycon-sprints", Some(20)))
        .await;
    assert_eq!(created["slug"], "pycon-sprints");
    assert_eq!(created["kind"], "sprint");
    assert_eq!(created["timezone"], "Europe/Berlin");
    assert!(
        created["starts_at"]
            .as_str()
            .unwrap()
            .ends_with("T09:00:00+01:00")
            || created["starts_at"]
                .as_str()
                .unwrap()
                .ends_with("T09:00:00+02:00")
    );
    assert_eq!(created["capacity"], 20);
    assert_eq!(created["going_count"], 0);
    assert_eq!(created["waitlist_count"], 0);
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["revision"], 0);
    assert_eq!(created["url"], format!("{BASE_URL}/events/pycon-sprints"));

    let fetched = app.event("pycon-sprints").await;
    assert_eq!(fetched, created);
    let listed: Vec<Value> = app.get_json("/api/v1/events").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["slug"], "pycon-sprints");
}

async fn offsets_are_kept_as_instants_and_shown_in_the_event_zone(app: TestApp) {
    let mut body = event_json("ny", None);
    body["timezone"] = "America/New_York".into();
    body["starts_at"] = "2031-07-01T16:00:00Z".into();
    body["ends_at"] = "2031-07-01T20:30:00+00:00".into();
    let created = app.create_event(&body).await;
    assert_eq!(created["starts_at"], "2031-07-01T12:00:00-04:00");
    assert_eq!(created["ends_at"], "2031-07-01T16:30:00-04:00");
    assert_eq!(created["capacity"], Value::Null);
}

async fn all_day_events_take_dates(app: TestApp) {
    let mut body = event_json("weekend", None);
    body["all_day"] = true.into();
    body["starts_at"] = "2031-03-08".into();
    body["ends_at"] = "2031-03-09".into();
    let created = app.create_event(&body).await;
    assert_eq!(created["all_day"], true);
    assert_eq!(created["starts_at"], "2031-03-08");
    assert_eq!(
        created["ends_at"], "2031-03-09",
        "the API shows the last day"
    );
}

async fn the_slug_is_made_from_the_title_when_left_out(app: TestApp) {
    let mut body = event_json("x", None);
    body.as_object_mut().unwrap().remove("slug");
    body["title"] = "Django Sprint: Spring 2031!".into();
    let created = app.create_event(&body).await;
    assert_eq!(created["slug"], "django-sprint-spring-2031");
}

async fn kind_and_period_filter_the_list(app: TestApp) {
    app.create_event(&event_json("a-sprint", None)).await;
    let mut meetup = event_json("a-meetup", None);
    meetup["kind"] = "meetup".into();
    app.create_event(&meetup).await;
    let mut past = event_json("old-meetup", None);
    past["kind"] = "meetup".into();
    past["starts_at"] = "2024-01-10T18:00".into();
    past["ends_at"] = "2024-01-10T21:00".into();
    app.create_event(&past).await;

    let slugs = |v: Vec<Value>| {
        v.iter()
            .map(|e| e["slug"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let upcoming: Vec<Value> = app.get_json("/api/v1/events").await;
    assert_eq!(slugs(upcoming).len(), 2);
    let meetups: Vec<Value> = app.get_json("/api/v1/events?kind=meetup").await;
    assert_eq!(slugs(meetups), vec!["a-meetup"]);
    let past_list: Vec<Value> = app.get_json("/api/v1/events?period=past").await;
    assert_eq!(slugs(past_list), vec!["old-meetup"]);
    let all: Vec<Value> = app.get_json("/api/v1/events?period=all&kind=meetup").await;
    assert_eq!(slugs(all), vec!["old-meetup", "a-meetup"]);
    for bad in ["/api/v1/events?kind=party", "/api/v1/events?period=someday"] {
        let response = app.get(bad).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
}

async fn moving_an_event_raises_its_revision_but_a_new_title_does_not(app: TestApp) {
    app.create_event(&event_json("move-me", Some(5))).await;
    let renamed: Value = app
        .patch_json("/api/v1/events/move-me", &json!({"title": "Renamed"}), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["title"], "Renamed");
    assert_eq!(renamed["revision"], 0);
    let moved: Value = app
        .patch_json("/api/v1/events/move-me", &json!({"venue": "Room 2"}), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(moved["revision"], 1);
    let retimed = app
        .patch_json(
            "/api/v1/events/move-me",
            &json!({"starts_at": "2031-05-01T10:00", "ends_at": "2031-05-01T12:00"}),
            true,
        )
        .await;
    assert_eq!(retimed.status(), 200);
    let retimed: Value = retimed.json().await.unwrap();
    assert_eq!(retimed["revision"], 2);
    assert_eq!(retimed["starts_at"], "2031-05-01T10:00:00+02:00");
    // Changing only the zone keeps the wall-clock time.
    let rezoned: Value = app
        .patch_json(
            "/api/v1/events/move-me",
            &json!({"timezone": "Asia/Tokyo"}),
            true,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rezoned["starts_at"], "2031-05-01T10:00:00+09:00");
    assert_eq!(rezoned["revision"], 3);
    let cancelled: Value = app
        .post_json("/api/v1/events/move-me/cancel", &json!({}), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["revision"], 4);
    let again: Value = app
        .post_json("/api/v1/events/move-me/cancel", &json!({}), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["revision"], 4, "cancelling twice changes nothing");
}

async fn organizer_calls_need_a_valid_token(app: TestApp) {
    let body = event_json("secret", None);
    let anonymous = app.post_json("/api/v1/events", &body, false).await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["content-type"],
        "application/problem+json"
    );
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let wrong = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth("not-a-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    for (method, path) in [
        ("PATCH", "/api/v1/events/secret"),
        ("POST", "/api/v1/events/secret/cancel"),
        ("POST", "/api/v1/events/secret/projects"),
        ("GET", "/api/v1/events/secret/registrations"),
        ("DELETE", "/api/v1/events/secret/projects/x"),
    ] {
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
    }
    let listed: Vec<Value> = app.get_json("/api/v1/events").await;
    assert!(listed.is_empty(), "nothing was created");
}

async fn a_taken_slug_is_refused_and_the_first_event_kept(app: TestApp) {
    app.create_event(&event_json("twice", Some(3))).await;
    let mut second = event_json("twice", Some(99));
    second["title"] = "Second".into();
    let response = app.post_json("/api/v1/events", &second, true).await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "slug");
    assert_eq!(app.event("twice").await["capacity"], 3);
}

crate::on_both_backends!(
    organizer_creates_and_reads_an_event,
    offsets_are_kept_as_instants_and_shown_in_the_event_zone,
    all_day_events_take_dates,
    the_slug_is_made_from_the_title_when_left_out,
    kind_and_period_filter_the_list,
    moving_an_event_raises_its_revision_but_a_new_title_does_not,
    organizer_calls_need_a_valid_token,
    a_taken_slug_is_refused_and_the_first_event_kept,
);
