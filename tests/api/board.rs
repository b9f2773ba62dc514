//! The sprint board: now/next lines and who may write them, slots (and the mail when one
//! moves), check-in, the live stream, and the lead's page.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{BASE_URL, TestApp, event_json};

/// An event with two projects, each with a lead who has an address; returns each lead's
/// token, read from the link mailed to them.
async fn event_with_leads(app: &TestApp, slug: &str) -> (String, String) {
    app.create_event(&event_json(slug, None)).await;
    app.create_project(slug, &json!({"slug": "docs", "name": "Docs", "location": "Table 4", "leads": [{"name": "Lee", "email": "lee@example.org"}]})).await;
    app.create_project(slug, &json!({"slug": "core", "name": "Core", "location": "Room 2", "leads": [{"name": "Kim", "email": "kim@example.org"}]})).await;
    let token_of = |mail: &crate::helpers::Mail| {
        let start = mail
            .body
            .find(&format!("{BASE_URL}/lead/"))
            .expect("a lead link")
            + BASE_URL.len()
            + 6;
        mail.body[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    let lee = app.wait_for_mail("lee@example.org", 1).await;
    assert!(
        lee[0].subject.contains("Your lead link for Docs"),
        "{}",
        lee[0].subject
    );
    let kim = app.wait_for_mail("kim@example.org", 1).await;
    (token_of(&lee[0]), token_of(&kim[0]))
}

async fn put_lines(
    app: &TestApp,
    slug: &str,
    project: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut request = app
        .client
        .put(app.url(&format!("/api/v1/events/{slug}/projects/{project}/board")))
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn board_of(app: &TestApp, slug: &str) -> Value {
    app.get_json(&format!("/api/v1/events/{slug}/board")).await
}

fn card<'a>(board: &'a Value, project: &str) -> &'a Value {
    board["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["slug"] == project)
        .unwrap()
}

async fn only_leads_and_organizers_write_the_board(app: TestApp) {
    let (lee, kim) = event_with_leads(&app, "bsprint").await;
    let ok = put_lines(
        &app,
        "bsprint",
        "docs",
        Some(&lee),
        json!({"now": "triaging <Deferred> bugs", "next": "design session"}),
    )
    .await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["now"], "triaging <Deferred> bugs");
    // A lead link works for its own project only.
    let other = put_lines(
        &app,
        "bsprint",
        "docs",
        Some(&kim),
        json!({"now": "hijacked"}),
    )
    .await;
    assert_eq!(other.status(), 403);
    // No token, a made-up one, or an attendee's own manage token: not a writer.
    assert_eq!(
        put_lines(&app, "bsprint", "docs", None, json!({"now": "x"}))
            .await
            .status(),
        401
    );
    assert_eq!(
        put_lines(
            &app,
            "bsprint",
            "docs",
            Some("nonsense"),
            json!({"now": "x"})
        )
        .await
        .status(),
        401
    );
    app.sign_up("bsprint", "Ann", "ann@example.org", &["docs"])
        .await;
    let manage = app.wait_for_mail("ann@example.org", 1).await[0].manage_token();
    assert_eq!(
        put_lines(&app, "bsprint", "docs", Some(&manage), json!({"now": "x"}))
            .await
            .status(),
        401
    );
    // The organizer may write any project's lines.
    let by_organizer = put_lines(
        &app,
        "bsprint",
        "core",
        Some(&app.token),
        json!({"now": "reviewing the reactor", "next": ""}),
    )
    .await;
    assert_eq!(by_organizer.status(), 200);
    // Bad input: named, and nothing changes.
    let bad = put_lines(
        &app,
        "bsprint",
        "docs",
        Some(&lee),
        json!({"now": "two\nlines", "next": "x".repeat(201)}),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let problem: Value = bad.json().await.unwrap();
    assert_eq!(
        crate::helpers::problem_fields(&problem),
        vec!["now", "next"]
    );
    assert_eq!(
        put_lines(&app, "bsprint", "docs", Some(&lee), json!({"later": "x"}))
            .await
            .status(),
        400
    );
    assert_eq!(
        put_lines(&app, "bsprint", "nope", Some(&lee), json!({"now": "x"}))
            .await
            .status(),
        404
    );
    let board = board_of(&app, "bsprint").await;
    assert_eq!(card(&board, "docs")["now"], "triaging <Deferred> bugs");
    assert_eq!(card(&board, "docs")["leads"], json!(["Lee"]));
    assert_eq!(card(&board, "core")["now"], "reviewing the reactor");
    // The page shows it, escaped.
    let page = app.get("/events/bsprint/board").await.text().await.unwrap();
    assert!(
        page.contains("triaging &lt;Deferred&gt; bugs")
            || page.contains("triaging &#60;Deferred&#62; bugs"),
        "{page}"
    );
    assert!(!page.contains("<Deferred>"));
    let signage = app
        .get("/events/bsprint/board?view=signage")
        .await
        .text()
        .await
        .unwrap();
    assert!(signage.contains("class=\"signage\"") && signage.contains("reviewing the reactor"));
    // Removing a lead revokes their link.
    let patched = app
        .patch_json(
            "/api/v1/events/bsprint/projects/docs",
            &json!({"leads": [{"name": "Max"}]}),
            true,
        )
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(
        put_lines(&app, "bsprint", "docs", Some(&lee), json!({"now": "x"}))
            .await
            .status(),
        401
    );
}

async fn slots_book_rooms_and_a_move_tells_the_people_who_joined(app: TestApp) {
    let (lee, _) = event_with_leads(&app, "slotted").await;
    let event = app.event("slotted").await;
    let day = &event["starts_at"].as_str().unwrap()[..10];
    app.sign_up("slotted", "Ann", "ann@example.org", &["docs"])
        .await;
    app.sign_up("slotted", "Bob", "bob@example.org", &[]).await;
    app.wait_for_mail("ann@example.org", 1).await;
    let post = |body: Value| {
        let (app, lee) = (&app, lee.clone());
        async move {
            app.client
                .post(app.url("/api/v1/events/slotted/projects/docs/slots"))
                .bearer_auth(lee)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let created = post(json!({"title": "Docs sprint kickoff", "room": "Room 7", "starts_at": format!("{day}T10:00"), "ends_at": format!("{day}T11:00")})).await;
    assert_eq!(created.status(), 201);
    let slot: Value = created.json().await.unwrap();
    assert!(
        slot["when"].as_str().unwrap().contains("10:00–11:00"),
        "{slot}"
    );
    // The room is taken then; outside the event; the end before the start.
    let clash = post(json!({"title": "Other", "room": "Room 7", "starts_at": format!("{day}T10:30"), "ends_at": format!("{day}T12:00")})).await;
    assert_eq!(clash.status(), 422);
    let problem: Value = clash.json().await.unwrap();
    assert_eq!(crate::helpers::problem_fields(&problem), vec!["room"]);
    let outside = post(json!({"title": "Late", "room": "Room 8", "starts_at": format!("{day}T20:00"), "ends_at": format!("{day}T21:00")})).await;
    assert_eq!(outside.status(), 422);
    let backwards = post(json!({"title": "Back", "room": "Room 8", "starts_at": format!("{day}T12:00"), "ends_at": format!("{day}T11:00")})).await;
    assert_eq!(backwards.status(), 422);
    let garbage = post(json!({"title": "", "room": "Room 8", "starts_at": "soon", "ends_at": format!("{day}T11:00")})).await;
    let problem: Value = garbage.json().await.unwrap();
    assert_eq!(
        crate::helpers::problem_fields(&problem),
        vec!["title", "starts_at"]
    );

    // The board shows it as booked next; the event page and the project feed list it.
    let board = board_of(&app, "slotted").await;
    assert!(
        card(&board, "docs")["next_slot"]
            .as_str()
            .unwrap()
            .contains("Docs sprint kickoff")
    );
    let page = app.get("/events/slotted").await.text().await.unwrap();
    assert!(page.contains("Schedule") && page.contains("Docs sprint kickoff"));
    let feed = app
        .get("/events/slotted/projects/docs.ics")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        feed.contains("SUMMARY:Docs sprint kickoff (Docs)"),
        "{feed}"
    );
    if let Some((python, js)) = crate::feeds::read_with_outside_parsers("slots", &feed) {
        for events in [python, js] {
            assert_eq!(
                events.len(),
                1,
                "the project's sessions, not a copy of the event"
            );
            let session = events
                .iter()
                .find(|e| e["summary"].as_str().unwrap_or("").contains("kickoff"))
                .expect("the slot");
            assert_eq!(
                session["start"]["utc"],
                crate::feeds::utc_of(&slot["starts_at"])
            );
            assert_eq!(
                session["end"]["utc"],
                crate::feeds::utc_of(&slot["ends_at"])
            );
        }
    }

    // Moving it tells Ann (going, joined Docs), not Bob; the attachment is the slot, newer.
    let moved = app
        .client
        .patch(app.url(&format!("/api/v1/events/slotted/projects/docs/slots/{}", slot["id"])))
        .bearer_auth(&lee)
        .json(&json!({"title": "Docs sprint kickoff", "room": "Room 9", "starts_at": format!("{day}T14:00"), "ends_at": format!("{day}T15:00")}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let ann = app.wait_for_mail("ann@example.org", 2).await;
    let notice = ann
        .iter()
        .find(|m| m.subject.starts_with("Moved:"))
        .expect("a slot notice");
    assert!(
        notice.body.contains("Room 7") && notice.body.contains("Room 9"),
        "{}",
        notice.body
    );
    let ics = notice.calendar.as_ref().expect("the slot as .ics");
    assert!(
        ics.contains("SEQUENCE:1") && ics.contains("-slot@convene"),
        "{ics}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        app.mail_to("bob@example.org")
            .iter()
            .all(|m| !m.subject.starts_with("Moved:"))
    );
    // Renaming alone mails nobody.
    let renamed = app
        .client
        .patch(app.url(&format!("/api/v1/events/slotted/projects/docs/slots/{}", slot["id"])))
        .bearer_auth(&lee)
        .json(&json!({"title": "Kickoff", "room": "Room 9", "starts_at": format!("{day}T14:00"), "ends_at": format!("{day}T15:00")}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    let deleted = app
        .client
        .delete(app.url(&format!(
            "/api/v1/events/slotted/projects/docs/slots/{}",
            slot["id"]
        )))
        .bearer_auth(&lee)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    app.wait_for_outbox_drained().await;
    assert_eq!(
        app.mail_to("ann@example.org")
            .iter()
            .filter(|m| m.subject.starts_with("Moved:"))
            .count(),
        1
    );
    let slots: Vec<Value> = app.get_json("/api/v1/events/slotted/slots").await;
    assert!(slots.is_empty());
}

async fn attendees_check_in_and_out_and_check_ins_expire(app: TestApp) {
    // An event that started half an hour ago (UTC, so the times below are the instants).
    let minute = |m: i64| {
        (app.clock.now() + chrono::Duration::minutes(m))
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let mut event = event_json("checkins", Some(1));
    event["timezone"] = "UTC".into();
    event["starts_at"] = minute(-30).into();
    event["ends_at"] = minute(8 * 60).into();
    app.create_event(&event).await;
    app.create_project("checkins", &json!({"slug": "docs", "name": "Docs"}))
        .await;
    app.sign_up("checkins", "Ann", "ann@example.org", &[]).await;
    app.sign_up("checkins", "Bob", "bob@example.org", &[]).await;
    let ann = app.wait_for_mail("ann@example.org", 1).await[0].manage_token();
    let bob = app.wait_for_mail("bob@example.org", 1).await[0].manage_token();
    let check_in = |token: String, body: Value| {
        let app = &app;
        async move {
            app.post_json(
                &format!("/api/v1/registrations/{token}/checkin"),
                &body,
                false,
            )
            .await
            .status()
            .as_u16()
        }
    };
    assert_eq!(check_in(ann.clone(), json!({"project": "docs"})).await, 204);
    // Check-in opens an hour before the start: a month ahead it is refused, and nothing counts.
    let mut later = event_json("later", None);
    later["timezone"] = "UTC".into();
    app.create_event(&later).await;
    app.create_project("later", &json!({"slug": "docs", "name": "Docs"}))
        .await;
    app.sign_up("later", "Ann", "ann@example.org", &[]).await;
    let early = app.wait_for_mail("ann@example.org", 2).await[1].manage_token();
    let refused = app
        .post_json(
            &format!("/api/v1/registrations/{early}/checkin"),
            &json!({"project": "docs"}),
            false,
        )
        .await;
    assert_eq!(refused.status(), 409);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(
        problem["detail"],
        "check-in opens an hour before the event starts"
    );
    assert_eq!(
        card(&board_of(&app, "later").await, "docs")["checked_in"],
        0
    );
    // Bob is on the waitlist: not at the event.
    assert_eq!(check_in(bob.clone(), json!({"project": "docs"})).await, 409);
    assert_eq!(check_in(ann.clone(), json!({"project": "nope"})).await, 422);
    assert_eq!(
        check_in("not-a-token".into(), json!({"project": "docs"})).await,
        404
    );
    assert_eq!(
        card(&board_of(&app, "checkins").await, "docs")["checked_in"],
        1
    );
    // The manage page shows it, and checks out with a POST.
    let browser = app.browser_client();
    let page = browser
        .get(app.url(&format!("/manage/{ann}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("You are checked in at <strong>Docs</strong>"),
        "{page}"
    );
    let csrf = crate::pages::csrf_of(&page);
    let out = browser
        .post(app.url(&format!("/manage/{ann}/checkout")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(
        card(&board_of(&app, "checkins").await, "docs")["checked_in"],
        0
    );
    // Checked in again, it ends by itself.
    let back = browser
        .post(app.url(&format!("/manage/{ann}/checkin")))
        .form(&[("csrf", csrf.as_str()), ("project", "docs")])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    assert_eq!(
        card(&board_of(&app, "checkins").await, "docs")["checked_in"],
        1
    );
    app.clock.advance(chrono::Duration::hours(5));
    assert_eq!(
        card(&board_of(&app, "checkins").await, "docs")["checked_in"],
        0
    );
}

/// Reads server-sent events until one contains `needle`, or the time is up.
pub async fn wait_for_event(
    response: &mut reqwest::Response,
    needle: &str,
    within: Duration,
) -> bool {
    let deadline = Instant::now() + within;
    let mut seen = String::new();
    while Instant::now() < deadline {
        match tokio::time::timeout(deadline - Instant::now(), response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains(needle) {
                    return true;
                }
            }
            _ => return false,
        }
    }
    false
}

async fn the_stream_brings_each_change_at_once(app: TestApp) {
    let (lee, _) = event_with_leads(&app, "streamed").await;
    let mut stream = app
        .client
        .get(app.url("/events/streamed/board/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    assert!(wait_for_event(&mut stream, "event: board", Duration::from_secs(2)).await);
    put_lines(
        &app,
        "streamed",
        "docs",
        Some(&lee),
        json!({"now": "writing the tutorial"}),
    )
    .await;
    assert!(
        wait_for_event(&mut stream, "writing the tutorial", Duration::from_secs(2)).await,
        "the change reached the stream within 2 s"
    );
    assert_eq!(app.get("/events/nope/board/stream").await.status(), 404);
}

async fn the_lead_page_writes_the_board_with_forms(app: TestApp) {
    let (lee, _) = event_with_leads(&app, "leadpage").await;
    let browser = app.browser_client();
    let page = browser
        .get(app.url(&format!("/lead/{lee}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(html.contains("Docs") && html.contains("Hello Lee"));
    let csrf = crate::pages::csrf_of(&html);
    let posted = browser
        .post(app.url(&format!("/lead/{lee}/board")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("now", "sprinting"),
            ("next", "lunch"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);
    assert_eq!(
        card(&board_of(&app, "leadpage").await, "docs")["next"],
        "lunch"
    );
    // Without the CSRF token nothing changes.
    let forged = browser
        .post(app.url(&format!("/lead/{lee}/board")))
        .form(&[("now", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let bad = browser
        .post(app.url(&format!("/lead/{lee}/slots")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("title", "X"),
            ("room", "R"),
            ("starts_at", "later"),
            ("ends_at", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("starts_at"));
    assert_eq!(
        card(&board_of(&app, "leadpage").await, "docs")["now"],
        "sprinting"
    );
    assert_eq!(
        browser
            .get(app.url("/lead/unknown-token"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // A GET never writes.
    let get = browser
        .get(app.url(&format!("/lead/{lee}/board?now=x")))
        .send()
        .await
        .unwrap();
    assert!(get.status().is_client_error());
    assert_eq!(
        card(&board_of(&app, "leadpage").await, "docs")["now"],
        "sprinting"
    );
}

crate::on_both_backends!(
    only_leads_and_organizers_write_the_board,
    slots_book_rooms_and_a_move_tells_the_people_who_joined,
    attendees_check_in_and_out_and_check_ins_expire,
    the_stream_brings_each_change_at_once,
    the_lead_page_writes_the_board_with_forms,
);

/// Two instances on one PostgreSQL database: a change made through one reaches a stream held
/// by the other (LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_instance_reaches_a_stream_on_another() {
    let Some(app) = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await else {
        return;
    };
    let second = crate::helpers::spawn_app_with(
        crate::helpers::Backend::Postgres,
        crate::helpers::Setup {
            beside: Some(app.beside()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (lee, _) = event_with_leads(&app, "twoboards").await;
    let mut stream = second
        .client
        .get(second.url("/events/twoboards/board/stream"))
        .send()
        .await
        .unwrap();
    assert!(wait_for_event(&mut stream, "event: board", Duration::from_secs(2)).await);
    let changed = put_lines(
        &app,
        "twoboards",
        "docs",
        Some(&lee),
        json!({"now": "across instances"}),
    )
    .await;
    assert_eq!(changed.status(), 200);
    assert!(
        wait_for_event(&mut stream, "across instances", Duration::from_secs(2)).await,
        "the other instance's stream got the change within 2 s"
    );
    drop(stream);
    second.lifecycle().shutdown().await;
    app.lifecycle().shutdown().await;
}
