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

/// One outside parser: its name, the program that runs it and the reader script it is given.
struct Parser {
    name: &'static str,
    program: PathBuf,
    script: &'static str,
    /// Something whose presence shows the parser is installed.
    installed: PathBuf,
}

fn parsers() -> Vec<Parser> {
    let dir = parsers_dir();
    let system_python = PathBuf::from(
        std::env::var("CONVENE_TEST_SYSTEM_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into()),
    );
    vec![
        Parser {
            name: "python ical",
            program: python(),
            script: "read_ical.py",
            installed: python(),
        },
        Parser {
            name: "ical.js",
            program: "node".into(),
            script: "read_ical.mjs",
            installed: dir.join("node_modules/ical.js"),
        },
        Parser {
            name: "libical",
            program: system_python,
            script: "read_libical.py",
            installed: "/usr/lib/x86_64-linux-gnu/girepository-1.0/ICalGLib-3.0.typelib".into(),
        },
        Parser {
            name: "ruby icalendar",
            program: "ruby".into(),
            script: "read_ical.rb",
            installed: "/usr/share/rubygems-integration/all/gems/icalendar-2.8.0/lib/icalendar.rb"
                .into(),
        },
        Parser {
            name: "python icalendar",
            program: python(),
            script: "read_icalendar.py",
            installed: python(),
        },
    ]
}

fn parsers_installed() -> bool {
    let missing: Vec<&str> = parsers()
        .iter()
        .filter(|p| !p.installed.exists())
        .map(|p| p.name)
        .collect();
    if !missing.is_empty() && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "outside calendar parsers not installed: {missing:?} (run .ci/run, or see tests/parsers/README.md)"
        );
    }
    missing.is_empty()
}

/// What each outside parser read: `(parser, events)` in the order of [`parsers`].
pub type Readings = Vec<(&'static str, Vec<Value>)>;

/// The feed's events as every outside parser reads them, or None when the parsers are not
/// installed here (outside CI). Each feed is also kept under target/feeds/ for a look. A
/// parser that rejects the feed fails the test, naming itself and the file.
pub fn read_everywhere(name: &str, ics: &str) -> Option<Readings> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/feeds");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}-{}.ics", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, ics).unwrap();
    if !parsers_installed() {
        eprintln!("skipped the outside parsers: not installed");
        return None;
    }
    let readings = parsers()
        .into_iter()
        .map(|parser| {
            let out = Command::new(&parser.program)
                .current_dir(parsers_dir())
                .arg(parsers_dir().join(parser.script))
                .arg(&file)
                .output()
                .unwrap_or_else(|e| panic!("{} could not run: {e}", parser.name));
            assert!(
                out.status.success(),
                "{} rejected {}:\n{}",
                parser.name,
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "{} printed no JSON ({e}):\n{}",
                    parser.name,
                    String::from_utf8_lossy(&out.stdout)
                )
            });
            (parser.name, doc["events"].as_array().unwrap().clone())
        })
        .collect();
    Some(readings)
}

/// The events as the two first parsers read them (strict Python `ical`, ical.js).
pub fn read_with_outside_parsers(name: &str, ics: &str) -> Option<(Vec<Value>, Vec<Value>)> {
    let mut readings = read_everywhere(name, ics)?.into_iter();
    let (_, py) = readings.next().unwrap();
    let (_, js) = readings.next().unwrap();
    Some((py, js))
}

/// Asserts that every parser reads the event whose summary contains `summary` at the UTC
/// instants `start` and `end` (RFC 3339 `…Z`).
pub fn assert_everywhere_at(readings: &Readings, summary: &str, start: &str, end: &str) {
    for (parser, events) in readings {
        let event = find(events, summary);
        assert_eq!(
            (event["start"]["utc"].as_str(), event["end"]["utc"].as_str()),
            (Some(start), Some(end)),
            "{parser} reads {summary:?} at other times: {event}"
        );
    }
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

pub fn find<'a>(events: &'a [Value], summary_part: &str) -> &'a Value {
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

async fn feeds_come_gzip_compressed_when_the_client_asks(app: TestApp) {
    for i in 0..20 {
        app.create_event(&event_json(&format!("packed-{i}"), None))
            .await;
    }
    let get = |encoding: &'static str, tag: Option<String>| {
        let mut request = app
            .client
            .get(app.url("/calendar.ics"))
            .header("Accept-Encoding", encoding);
        if let Some(tag) = tag {
            request = request.header("If-None-Match", tag);
        }
        request.send()
    };
    let plain = get("identity", None).await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.headers()["vary"], "Accept-Encoding");
    let plain_tag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let plain = plain.bytes().await.unwrap();

    for _ in 0..2 {
        let packed = get("br;q=1.0, gzip;q=0.8", None).await.unwrap();
        assert_eq!(packed.status(), 200);
        assert_eq!(packed.headers()["content-encoding"], "gzip");
        assert_eq!(packed.headers()["vary"], "Accept-Encoding");
        let tag = packed.headers()["etag"].to_str().unwrap().to_owned();
        assert_ne!(tag, plain_tag, "each representation has its own strong tag");
        let body = packed.bytes().await.unwrap();
        assert!(
            body.len() * 4 < plain.len(),
            "{} of {}",
            body.len(),
            plain.len()
        );
        let mut unpacked = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut unpacked)
            .unwrap();
        assert_eq!(unpacked, plain, "the same feed");
        let again = get("gzip", Some(tag.clone())).await.unwrap();
        assert_eq!(again.status(), 304);
        assert_eq!(again.headers()["etag"].to_str().unwrap(), tag);
        let other_form = get("identity", Some(tag.clone())).await.unwrap();
        assert_eq!(
            other_form.status(),
            200,
            "the gzip tag does not name the plain feed"
        );
    }
    assert!(
        get("gzip;q=0", None)
            .await
            .unwrap()
            .headers()
            .get("content-encoding")
            .is_none(),
        "a zero weight refuses gzip"
    );
}

async fn entries_name_the_organizer_the_place_and_the_alarm_one_chose(app: TestApp) {
    let mut event = event_json("mapped", Some(5));
    event["contact_name"] = "Sprint crew".into();
    event["contact_email"] = "crew@example.org".into();
    event["latitude"] = 52.5125.into();
    event["longitude"] = 13.3269.into();
    event["online_url"] = "https://meet.example.org/mapped".into();
    let created = app.create_event(&event).await;
    assert_eq!(
        (&created["contact_email"], &created["latitude"]),
        (&json!("crew@example.org"), &json!(52.5125))
    );
    for (body, field) in [
        (json!({"latitude": 91.0}), "latitude"),
        (json!({"longitude": 200.0}), "longitude"),
        (json!({"contact_email": "not an address"}), "contact_email"),
    ] {
        let refused = app.patch_json("/api/v1/events/mapped", &body, true).await;
        assert_eq!(refused.status(), 422, "{body}");
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(
            crate::helpers::problem_fields(&problem),
            vec![field],
            "{body}"
        );
    }
    let (_, feed) = get_feed(&app, "/events/mapped.ics").await;
    let feed = feed.replace("\r\n ", "");
    for line in [
        "ORGANIZER;CN=Sprint crew:mailto:crew@example.org",
        "GEO:52.512500;13.326900",
        "CONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=Join online:https://meet.example.org/mapped",
        "COLOR:darkorange",
        "CLASS:PUBLIC",
    ] {
        assert!(feed.contains(line), "{line} in {feed}");
    }
    assert!(!feed.contains("BEGIN:VALARM"), "no alarm in a public feed");

    app.sign_up("mapped", "Pat", "pat@example.org", &[]).await;
    let mail = app.wait_for_mail("pat@example.org", 1).await;
    assert!(
        mail[0]
            .calendar
            .as_ref()
            .unwrap()
            .contains("ORGANIZER;CN=Sprint crew:mailto:crew@example.org")
    );
    let token = mail[0].manage_token();
    let own: Value = app
        .get_json(&format!("/api/v1/registrations/{token}"))
        .await;
    assert_eq!(own["feed_alarm_minutes"], Value::Null, "off by default");
    let path = own["feed_url"]
        .as_str()
        .unwrap()
        .strip_prefix(BASE_URL)
        .unwrap()
        .to_owned();
    let (before, personal) = get_feed(&app, &path).await;
    assert!(!personal.contains("BEGIN:VALARM"));
    assert!(
        !personal.contains("CLASS:"),
        "a private feed leaves the class to its calendar"
    );
    let set_alarm = |minutes: Value| {
        app.client
            .put(app.url(&format!("/api/v1/registrations/{token}/feed-alarm")))
            .json(&json!({ "minutes": minutes }))
            .send()
    };
    let refused = set_alarm(json!(20_000)).await.unwrap();
    assert_eq!(refused.status(), 422);
    let saved = set_alarm(json!(60.0)).await.unwrap();
    assert_eq!(saved.status(), 200);
    assert_eq!(
        saved.json::<Value>().await.unwrap()["feed_alarm_minutes"],
        60
    );
    let (after, personal) = get_feed(&app, &path).await;
    assert_ne!(before["etag"], after["etag"], "the alarm changes the feed");
    assert!(
        personal.contains("BEGIN:VALARM\r\nACTION:DISPLAY"),
        "{personal}"
    );
    assert!(personal.contains("TRIGGER:-PT60M"));
    if let Some(readings) = read_everywhere("alarm", &personal) {
        let (_, js) = &readings[1];
        assert_eq!(js[0]["alarms"], 1, "ical.js sees the alarm");
    }
    assert_eq!(set_alarm(Value::Null).await.unwrap().status(), 200);
    let (_, personal) = get_feed(&app, &path).await;
    assert!(
        !personal.contains("BEGIN:VALARM"),
        "and it can be turned off"
    );
    let cleared = app
        .patch_json("/api/v1/events/mapped", &json!({"latitude": null}), true)
        .await;
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!(
        (&cleared["latitude"], &cleared["longitude"]),
        (&Value::Null, &Value::Null),
        "a null clears both"
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

    // Until the project books a session its feed is the event itself, under the event's UID,
    // so a calendar subscribed to both shows one event.
    let (_, project) = get_feed(&app, "/events/tables/projects/docs.ics").await;
    let (_, event_only) = get_feed(&app, "/events/tables.ics").await;
    let uid_line = |ics: &str| {
        ics.lines()
            .find(|l| l.starts_with("UID:"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(project.matches("BEGIN:VEVENT").count(), 1);
    assert_eq!(uid_line(&project), uid_line(&event_only));
    let day = &event["starts_at"].as_str().unwrap()[..10];
    let slot = app
        .post_json(
            "/api/v1/events/tables/projects/docs/slots",
            &json!({"title": "Docs triage", "room": "Room 2",
                    "starts_at": format!("{day}T10:00"), "ends_at": format!("{day}T11:00")}),
            true,
        )
        .await;
    assert_eq!(slot.status(), 201);
    let slot: Value = slot.json().await.unwrap();
    let (_, project) = get_feed(&app, "/events/tables/projects/docs.ics").await;
    assert_eq!(project.matches("BEGIN:VEVENT").count(), 1, "sessions only");
    assert_ne!(uid_line(&project), uid_line(&event_only));
    let Some(readings) = read_everywhere("project", &project) else {
        return;
    };
    for (parser, events) in &readings {
        let e = &events[0];
        assert_eq!(e["summary"], "Docs triage (Docs)", "{parser}");
        assert_eq!(e["location"], "Room 2, Hall B", "{parser}");
        assert!(
            e["description"]
                .as_str()
                .unwrap()
                .contains("Notes: https://pad.example.org/p/docs,1;2"),
            "{parser}"
        );
    }
    assert_everywhere_at(
        &readings,
        "Docs triage",
        &utc(&slot["starts_at"]),
        &utc(&slot["ends_at"]),
    );
}

async fn personal_feeds_show_ones_own_events_behind_a_secret_link(app: TestApp) {
    let mine = app.create_event(&event_json("mine", Some(5))).await;
    app.create_event(&event_json("full", Some(0))).await;
    app.create_event(&event_json("not-mine", Some(5))).await;
    let day = &mine["starts_at"].as_str().unwrap()[..10];
    for (project, title) in [("docs", "Docs hour"), ("infra", "Infra hour")] {
        app.create_project("mine", &json!({"slug": project, "name": project}))
            .await;
        let booked = app
            .post_json(
                &format!("/api/v1/events/mine/projects/{project}/slots"),
                &json!({"title": title, "room": project,
                        "starts_at": format!("{day}T10:00"), "ends_at": format!("{day}T11:00")}),
                true,
            )
            .await;
        assert_eq!(booked.status(), 201);
    }
    app.sign_up("mine", "Pat", "pat@example.org", &["docs"])
        .await;
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

    let (before_rename, _) = get_feed(&app, &path).await;
    app.patch_json(
        "/api/v1/events/mine/projects/docs",
        &json!({"name": "Documentation"}),
        true,
    )
    .await;
    let (headers, body) = get_feed(&app, &path).await;
    assert_ne!(
        before_rename["etag"], headers["etag"],
        "a joined project's new name"
    );
    assert!(body.contains("Docs hour (Documentation)"));
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
        assert_eq!(events.len(), 3, "two events and a session: {events:#?}");
        assert_eq!(find(events, "Docs hour")["status"], "CONFIRMED");
        assert!(
            !events
                .iter()
                .any(|e| e["summary"].as_str().unwrap().contains("Infra"))
        );
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

    // Cancelling sends a calendar object that removes the event: the confirmation's UID,
    // a higher SEQUENCE; the feed then holds neither the event nor its sessions.
    let confirmation = mail
        .iter()
        .find(|m| m.body.contains("Sprint mine"))
        .and_then(|m| m.calendar.clone())
        .unwrap();
    let mine_token = mail
        .iter()
        .find(|m| m.body.contains("Sprint mine"))
        .unwrap()
        .manage_token();
    let cancelled = app
        .post_json(
            &format!("/api/v1/registrations/{mine_token}/cancel"),
            &json!({}),
            false,
        )
        .await;
    assert!(
        cancelled.status().is_success(),
        "{:?}",
        cancelled.text().await
    );
    let all = app.wait_for_mail("pat@example.org", 3).await;
    let removal = all
        .iter()
        .find_map(|m| m.calendar.clone().filter(|c| c.contains("METHOD:CANCEL")))
        .expect("a cancelling calendar object");
    let uid_of = |ics: &str| {
        ics.lines()
            .find(|l| l.starts_with("UID:"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(uid_of(&removal), uid_of(&confirmation));
    let sequence = |ics: &str| -> i64 {
        ics.lines()
            .find_map(|l| l.strip_prefix("SEQUENCE:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let stamp = |ics: &str| {
        ics.lines()
            .find_map(|l| l.strip_prefix("DTSTAMP:"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(sequence(&removal), sequence(&confirmation));
    assert!(
        stamp(&removal) >= stamp(&confirmation),
        "the cancellation is the newer object"
    );
    if let Some(readings) = read_everywhere("cancel", &removal) {
        for (parser, events) in &readings {
            assert_eq!(events[0]["status"], "CANCELLED", "{parser}");
        }
    }
    let (_, after) = get_feed(&app, &path).await;
    assert_eq!(
        after.matches("BEGIN:VEVENT").count(),
        1,
        "only the waitlist: {after}"
    );
    assert!(!after.contains("Docs hour") && !after.contains("Sprint mine"));

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
    feeds_come_gzip_compressed_when_the_client_asks,
    entries_name_the_organizer_the_place_and_the_alarm_one_chose,
    event_kind_and_project_feeds,
    personal_feeds_show_ones_own_events_behind_a_secret_link,
);
