//! Calendar feeds, read back by two outside parsers: the strict Python `ical` package and
//! Mozilla's ical.js (installed by `.ci/run`; see tests/parsers/).

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{BASE_URL, TestApp, event_json};

fn parsers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/parsers")
}

fn python() -> PathBuf {
    std::env::var_os("CONVENE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/parsers-venv/bin/python")
        })
}

fn parsers_installed() -> bool {
    let ready = python().exists() && parsers_dir().join("node_modules/ical.js").exists();
    if !ready && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "the outside calendar parsers are not installed (run .ci/run, or see tests/parsers/README.md)"
        );
    }
    ready
}

/// The feed's events as each outside parser reads them, or None when the parsers are not
/// installed here (outside CI). Each feed is also kept under target/feeds/ for a look.
pub fn read_with_outside_parsers(name: &str, ics: &str) -> Option<(Vec<Value>, Vec<Value>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/feeds");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}-{}.ics", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, ics).unwrap();
    if !parsers_installed() {
        eprintln!("skipped the outside parsers: not installed");
        return None;
    }
    let run = |mut command: Command, which: &str| -> Vec<Value> {
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("{which} could not run: {e}"));
        assert!(
            out.status.success(),
            "{which} rejected {}:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["events"].as_array().unwrap().clone()
    };
    let mut py = Command::new(python());
    py.arg(parsers_dir().join("read_ical.py")).arg(&file);
    let mut js = Command::new("node");
    js.current_dir(parsers_dir())
        .arg("read_ical.mjs")
        .arg(&file);
    Some((run(py, "python ical"), run(js, "ical.js")))
}

/// The UTC instant an API time stands for, as the parsers print it.
pub fn utc_of(api_time: &Value) -> String {
    utc(api_time)
}

/// The UTC instant an API time stands for, as the parsers print it.
fn utc(api_time: &Value) -> String {
    chrono::DateTime::parse_from_rfc3339(api_time.as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn find<'a>(events: &'a [Value], summary_part: &str) -> &'a Value {
    events
        .iter()
        .find(|e| {
            e["summary"]
                .as_str()
                .is_some_and(|s| s.contains(summary_part))
        })
        .unwrap_or_else(|| panic!("no event with {summary_part:?} in {events:#?}"))
}

async fn get_feed(app: &TestApp, path: &str) -> (reqwest::header::HeaderMap, String) {
    let response = app
        .client
        .get(app.url(path))
        .header("Host", "evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    assert!(!body.contains("evil.test"), "links come from the base URL");
    for line in body.split("\r\n") {
        assert!(line.len() <= 75, "a line of {} octets: {line}", line.len());
        assert!(!line.contains('\n') && !line.contains('\r'));
    }
    assert!(body.ends_with("END:VCALENDAR\r\n"));
    (headers, body)
}

async fn the_site_feed_reads_the_same_in_both_outside_parsers(app: TestApp) {
    let mut berlin = event_json("berlin", None);
    berlin["title"] = "Berlin sprint, across DST; \\ : x".into();
    berlin["description"] =
        "Bring tea.\r\nBEGIN:VALARM\r\nTRIGGER:-PT5M\r\nEND:VALARM\rlone CR\nlone LF".into();
    berlin["starts_at"] = "2031-03-29T22:00".into();
    berlin["ends_at"] = "2031-03-30T10:00".into();
    let berlin = app.create_event(&berlin).await;
    let mut new_york = event_json("new-york", None);
    new_york["timezone"] = "America/New_York".into();
    new_york["starts_at"] = "2031-11-01T18:00".into();
    new_york["ends_at"] = "2031-11-02T18:00".into();
    new_york["description"] = format!(
        "{} 日本語 🎉 ",
        "Long text, with emoji and CJK. ".repeat(300)
    )
    .into();
    let new_york = app.create_event(&new_york).await;
    let mut kolkata = event_json("kolkata", None);
    kolkata["timezone"] = "Asia/Kolkata".into();
    kolkata["kind"] = "meetup".into();
    let kolkata = app.create_event(&kolkata).await;
    let mut summit = event_json("summit", None);
    summit["kind"] = "summit".into();
    summit["all_day"] = true.into();
    summit["starts_at"] = "2031-05-01".into();
    summit["ends_at"] = "2031-05-02".into();
    app.create_event(&summit).await;
    app.create_event(&event_json("called-off", None)).await;
    app.post_json("/api/v1/events/called-off/cancel", &json!({}), true)
        .await;

    let (headers, body) = get_feed(&app, "/calendar.ics").await;
    assert!(headers.contains_key("etag") && headers.contains_key("last-modified"));
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
    assert!(
        body.contains("X-WR-CALNAME:")
            && body.contains("REFRESH-INTERVAL;VALUE=DURATION:PT60M")
            && body.contains("X-PUBLISHED-TTL:PT60M")
    );
    assert_eq!(
        body.matches("BEGIN:VTIMEZONE").count(),
        3,
        "one VTIMEZONE per zone used"
    );
    assert!(
        !body.contains("DTSTART:2") || body.contains("DTSTART;VALUE=DATE"),
        "no floating times"
    );
    assert!(body.contains(&format!("URL;VALUE=URI:{BASE_URL}/events/berlin")));

    let Some((py, js)) = read_with_outside_parsers("site", &body) else {
        return;
    };
    for events in [&py, &js] {
        assert_eq!(events.len(), 5, "{events:#?}");
        let b = find(events, "Berlin sprint");
        assert_eq!(b["summary"], "Berlin sprint, across DST; \\ : x");
        assert!(
            b["description"]
                .as_str()
                .unwrap()
                .contains("Bring tea.\nBEGIN:VALARM\nTRIGGER:-PT5M\nEND:VALARM\nlone CR\nlone LF"),
            "{b}"
        );
        assert_eq!(b["start"]["utc"], utc(&berlin["starts_at"]).as_str());
        assert_eq!(
            b["end"]["utc"],
            utc(&berlin["ends_at"]).as_str(),
            "the end is after the switch to summer time"
        );
        let ny = find(events, "Sprint new-york");
        assert_eq!(ny["start"]["utc"], utc(&new_york["starts_at"]).as_str());
        assert_eq!(
            ny["end"]["utc"],
            utc(&new_york["ends_at"]).as_str(),
            "the end is after the switch to winter time"
        );
        assert!(ny["description"].as_str().unwrap().contains("日本語 🎉"));
        assert_eq!(
            find(events, "Sprint kolkata")["start"]["utc"],
            utc(&kolkata["starts_at"]).as_str()
        );
        let s = find(events, "Sprint summit");
        assert_eq!(
            (s["start"]["date"].as_str(), s["end"]["date"].as_str()),
            (Some("2031-05-01"), Some("2031-05-03"))
        );
        let c = find(events, "called-off");
        assert_eq!(c["status"], "CANCELLED");
        assert_eq!(c["sequence"], 1);
    }
    assert!(js.iter().all(|e| e["alarms"] == 0), "no alarm smuggled in");
    assert_eq!(
        find(&js, "Berlin")["tzid"],
        "Europe/Berlin",
        "ical.js used our VTIMEZONE"
    );
}

async fn unchanged_feeds_answer_304_and_changes_change_the_etag(app: TestApp) {
    app.create_event(&event_json("cached", Some(3))).await;
    let first = app.get("/calendar.ics").await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let modified = first.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "a strong ETag: {etag}"
    );

    let conditional = |name: &'static str, value: String| {
        app.client
            .get(app.url("/calendar.ics"))
            .header(name, value)
            .send()
    };
    let same = conditional("If-None-Match", etag.clone()).await.unwrap();
    assert_eq!(same.status(), 304);
    assert_eq!(same.headers()["etag"].to_str().unwrap(), etag);
    assert!(same.text().await.unwrap().is_empty());
    assert_eq!(
        conditional("If-None-Match", format!("W/{etag}"))
            .await
            .unwrap()
            .status(),
        304,
        "weak comparison"
    );
    assert_eq!(
        conditional("If-Modified-Since", modified.clone())
            .await
            .unwrap()
            .status(),
        304
    );
    assert_eq!(
        conditional("If-Modified-Since", "yesterday-ish".into())
            .await
            .unwrap()
            .status(),
        200,
        "a garbage date is ignored"
    );
    assert_eq!(
        conditional("If-None-Match", "\"something-else\"".into())
            .await
            .unwrap()
            .status(),
        200
    );
    let head = app
        .client
        .head(app.url("/calendar.ics"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);

    // Let a second pass so Last-Modified moves too.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.patch_json("/api/v1/events/cached", &json!({"venue": "Room 9"}), true)
        .await;
    let after_edit = conditional("If-None-Match", etag.clone()).await.unwrap();
    assert_eq!(after_edit.status(), 200, "an edit changes the ETag");
    let new_etag = after_edit.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    assert!(after_edit.text().await.unwrap().contains("SEQUENCE:1"));
    assert_eq!(
        conditional("If-Modified-Since", modified)
            .await
            .unwrap()
            .status(),
        200
    );

    app.create_event(&event_json("another", None)).await;
    assert_eq!(
        conditional("If-None-Match", new_etag)
            .await
            .unwrap()
            .status(),
        200,
        "a new event changes the ETag"
    );
}

async fn event_kind_and_project_feeds(app: TestApp) {
    let event = app.create_event(&event_json("tables", None)).await;
    app.create_project(
        "tables",
        &json!({"slug": "docs", "name": "Docs", "location": "Table 4", "notes_url": "https://pad.example.org/p/docs,1;2"}),
    )
    .await;
    let (_, one) = get_feed(&app, "/events/tables.ics").await;
    assert_eq!(one.matches("BEGIN:VEVENT").count(), 1);
    let (_, kind) = get_feed(&app, "/calendar/sprint.ics").await;
    assert_eq!(kind.matches("BEGIN:VEVENT").count(), 1);
    let (_, meetups) = get_feed(&app, "/calendar/meetup.ics").await;
    assert_eq!(meetups.matches("BEGIN:VEVENT").count(), 0);
    assert_eq!(app.get("/calendar/party.ics").await.status(), 404);
    assert_eq!(app.get("/events/nope.ics").await.status(), 404);
    assert_eq!(
        app.get("/events/tables/projects/nope.ics").await.status(),
        404
    );

    let (_, project) = get_feed(&app, "/events/tables/projects/docs.ics").await;
    let Some((py, js)) = read_with_outside_parsers("project", &project) else {
        return;
    };
    let (_, event_only) = get_feed(&app, "/events/tables.ics").await;
    let event_uid = read_with_outside_parsers("event", &event_only).unwrap().0[0]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    for events in [&py, &js] {
        let e = &events[0];
        assert_eq!(
            e["location"].as_str().unwrap(),
            "Table 4, Hall B, Main Street 1"
        );
        assert!(
            e["description"]
                .as_str()
                .unwrap()
                .contains("Notes: https://pad.example.org/p/docs,1;2")
        );
        assert_ne!(
            e["uid"].as_str().unwrap(),
            event_uid,
            "the project view has its own UID"
        );
        assert_eq!(e["start"]["utc"], utc(&event["starts_at"]).as_str());
    }
    let uid_before = py[0]["uid"].clone();
    app.patch_json(
        "/api/v1/events/tables/projects/docs",
        &json!({"location": "Room 1"}),
        true,
    )
    .await;
    let (_, moved) = get_feed(&app, "/events/tables/projects/docs.ics").await;
    let (py_moved, _) = read_with_outside_parsers("project-moved", &moved).unwrap();
    assert_eq!(py_moved[0]["uid"], uid_before, "the UID is stable");
    assert_eq!(py_moved[0]["sequence"], 1, "a new room raises the SEQUENCE");
}

async fn personal_feeds_show_ones_own_events_behind_a_secret_link(app: TestApp) {
    app.create_event(&event_json("mine", Some(5))).await;
    app.create_event(&event_json("full", Some(0))).await;
    app.create_event(&event_json("not-mine", Some(5))).await;
    app.sign_up("mine", "Pat", "pat@example.org", &[]).await;
    app.sign_up("full", "Pat", "PAT@example.org", &[]).await;
    let mail = app.wait_for_mail("pat@example.org", 2).await;
    let token = mail[0].manage_token();
    let own: Value = app
        .get_json(&format!("/api/v1/registrations/{token}"))
        .await;
    let feed_url = own["feed_url"].as_str().unwrap().to_owned();
    assert!(feed_url.starts_with(&format!("{BASE_URL}/feeds/")));
    assert!(
        mail.iter().all(|m| m.body.contains(&feed_url)),
        "the confirmation carries the feed link"
    );
    let path = feed_url.strip_prefix(BASE_URL).unwrap().to_owned();

    let (headers, body) = get_feed(&app, &path).await;
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private")
    );
    let Some((py, js)) = read_with_outside_parsers("personal", &body) else {
        return;
    };
    for events in [&py, &js] {
        assert_eq!(events.len(), 2, "{events:#?}");
        assert_eq!(find(events, "Sprint mine")["status"], "CONFIRMED");
        assert_eq!(
            find(events, "Sprint full")["status"],
            "TENTATIVE",
            "waitlisted"
        );
        let description = find(events, "Sprint mine")["description"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            description.contains("confirmation email") && !description.contains("/manage/"),
            "no cancel rights in a feed"
        );
    }

    for wrong in [
        format!("{}x", &path[..path.len() - 4]),
        path.to_uppercase(),
        "/feeds/nothing.ics".into(),
    ] {
        assert_eq!(
            app.get(&format!("{}.ics", wrong.trim_end_matches(".ics")))
                .await
                .status(),
            404,
            "{wrong}"
        );
    }
    let rotated = app
        .post_json(
            &format!("/api/v1/registrations/{token}/feed-token"),
            &json!({}),
            false,
        )
        .await;
    assert_eq!(rotated.status(), 200, "{:?}", rotated.text().await);
    let rotated: Value = rotated.json().await.unwrap();
    let new_url = rotated["feed_url"].as_str().unwrap();
    assert_ne!(new_url, feed_url);
    assert_eq!(
        app.get(&path).await.status(),
        404,
        "the old link stops working"
    );
    assert_eq!(
        app.get(new_url.strip_prefix(BASE_URL).unwrap())
            .await
            .status(),
        200
    );
}

crate::on_both_backends!(
    the_site_feed_reads_the_same_in_both_outside_parsers,
    unchanged_feeds_answer_304_and_changes_change_the_etag,
    event_kind_and_project_feeds,
    personal_feeds_show_ones_own_events_behind_a_secret_link,
);
