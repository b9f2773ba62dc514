//! Times around daylight saving changes, as every outside calendar parser reads them: a start
//! the zone skips, a start that happens twice, half-hour changes, zones without changes, and
//! whole days across a change. Each feed kind and each mail attachment must say the instant
//! the API stores.

use serde_json::{Value, json};

use crate::feeds::{Readings, assert_everywhere_at, read_everywhere};
use crate::helpers::{TestApp, event_json, problem_fields};

fn event_in(slug: &str, timezone: &str, starts_at: &str, ends_at: &str) -> Value {
    let mut event = event_json(slug, Some(10));
    event["title"] = format!("Zone {slug}").into();
    event["timezone"] = timezone.into();
    event["starts_at"] = starts_at.into();
    event["ends_at"] = ends_at.into();
    event
}

async fn feed(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// Reads `ics` everywhere and checks one event's instants; `None` when the parsers are absent.
fn read_at(name: &str, ics: &str, summary: &str, start: &str, end: &str) -> Option<Readings> {
    let readings = read_everywhere(name, ics)?;
    assert_everywhere_at(&readings, summary, start, end);
    Some(readings)
}

async fn a_start_the_zone_skips_is_refused_and_an_offset_is_kept(app: TestApp) {
    let refused = app
        .post_json(
            "/api/v1/events",
            &event_in(
                "gap",
                "Europe/Berlin",
                "2027-03-28T02:30",
                "2027-03-28T04:00",
            ),
            true,
        )
        .await;
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem_fields(&problem), vec!["starts_at"]);
    assert!(
        problem.to_string().contains(
            "02:30 on 28 March 2027 does not exist in Europe/Berlin: that day the clocks go forward from 02:00 to 03:00"
        ),
        "{problem}"
    );
    assert_eq!(app.get("/events/gap").await.status(), 404, "nothing stored");
    // Moving an event into a zone that skips its wall time blames the zone, the field sent.
    app.create_event(&event_in(
        "utc",
        "UTC",
        "2027-03-28T02:30",
        "2027-03-28T04:00",
    ))
    .await;
    let moved = app
        .patch_json(
            "/api/v1/events/utc",
            &json!({"timezone": "Europe/Berlin"}),
            true,
        )
        .await;
    assert_eq!(moved.status(), 422);
    let problem: Value = moved.json().await.unwrap();
    assert_eq!(problem_fields(&problem), vec!["timezone"], "{problem}");

    let event = app
        .create_event(&event_in(
            "gap",
            "Europe/Berlin",
            "2027-03-28T02:30:00+01:00",
            "2027-03-28T05:00",
        ))
        .await;
    assert_eq!(event["starts_at"], "2027-03-28T03:30:00+02:00");
    let page = app.get("/events/gap").await.text().await.unwrap();
    assert!(page.contains("03:30–05:00"), "the page says what is stored");

    app.sign_up("gap", "Ann", "ann@example.org", &[]).await;
    let mail = app.wait_for_mail("ann@example.org", 1).await;
    assert!(mail[0].body.contains("03:30–05:00"), "{}", mail[0].body);
    let attachment = mail[0].calendar.clone().expect("a calendar attachment");
    let (start, end) = ("2027-03-28T01:30:00Z", "2027-03-28T03:00:00Z");
    for (name, ics) in [
        ("gap-site", feed(&app, "/calendar.ics").await),
        ("gap-event", feed(&app, "/events/gap.ics").await),
        ("gap-mail", attachment),
    ] {
        assert!(
            ics.contains("DTSTART;TZID=Europe/Berlin:20270328T033000"),
            "{ics}"
        );
        read_at(name, &ics, "Zone gap", start, end);
    }
}

async fn a_start_that_happens_twice_keeps_its_instant_in_every_feed_and_mail(app: TestApp) {
    // 01:30 on 7 November 2027 happens twice in New York; this is the second, in EST.
    let event = app
        .create_event(&event_in(
            "fold",
            "America/New_York",
            "2027-11-07T06:30:00Z",
            "2027-11-07T09:00:00Z",
        ))
        .await;
    assert_eq!(event["starts_at"], "2027-11-07T01:30:00-05:00");
    assert_eq!(event["ends_at"], "2027-11-07T04:00:00-05:00");
    // An edit that leaves the times alone keeps the instant.
    let edited = app
        .patch_json("/api/v1/events/fold", &json!({"venue": "Hall C"}), true)
        .await;
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(edited["starts_at"], "2027-11-07T01:30:00-05:00");
    let page = app.get("/events/fold").await.text().await.unwrap();
    assert!(
        page.contains("01:30 EST–04:00"),
        "the page names which 01:30"
    );

    app.create_project("fold", &json!({"slug": "docs", "name": "Docs"}))
        .await;
    let slot = app
        .post_json(
            "/api/v1/events/fold/projects/docs/slots",
            &json!({"title": "Docs kickoff", "room": "Room 7",
                    "starts_at": "2027-11-07T01:45:00-05:00", "ends_at": "2027-11-07T02:30:00-05:00"}),
            true,
        )
        .await;
    assert_eq!(slot.status(), 201, "{:?}", slot.text().await);
    app.sign_up("fold", "Ann", "ann@example.org", &["docs"])
        .await;
    let mail = app.wait_for_mail("ann@example.org", 1).await;
    let own: Value = app
        .get_json(&format!("/api/v1/registrations/{}", mail[0].manage_token()))
        .await;
    let personal = own["feed_url"].as_str().unwrap();
    let personal = &personal[personal.find("/feeds/").unwrap()..];

    let event_times = ("2027-11-07T06:30:00Z", "2027-11-07T09:00:00Z");
    let slot_times = ("2027-11-07T06:45:00Z", "2027-11-07T07:30:00Z");
    for (name, ics, event, session) in [
        ("fold-site", feed(&app, "/calendar.ics").await, true, false),
        (
            "fold-kind",
            feed(&app, "/calendar/sprint.ics").await,
            true,
            false,
        ),
        (
            "fold-event",
            feed(&app, "/events/fold.ics").await,
            true,
            false,
        ),
        (
            "fold-project",
            feed(&app, "/events/fold/projects/docs.ics").await,
            false,
            true,
        ),
        ("fold-personal", feed(&app, personal).await, true, true),
        ("fold-mail", mail[0].calendar.clone().unwrap(), true, false),
    ] {
        // Only the times inside the fold are written in UTC.
        if event {
            assert!(ics.contains("DTSTART:20271107T063000Z"), "{name}: {ics}");
            assert!(
                ics.contains("DTEND;TZID=America/New_York:20271107T040000"),
                "{name}"
            );
        }
        let Some(readings) = read_everywhere(name, &ics) else {
            continue;
        };
        if event {
            assert_everywhere_at(&readings, "Zone fold", event_times.0, event_times.1);
        }
        if session {
            assert_everywhere_at(&readings, "Docs kickoff", slot_times.0, slot_times.1);
        }
    }

    // Moving the slot mails Ann the session, still read at the instants the API gives.
    let id = slot.json::<Value>().await.unwrap()["id"].clone();
    let moved = app
        .patch_json(
            &format!("/api/v1/events/fold/projects/docs/slots/{id}"),
            &json!({"title": "Docs kickoff", "room": "Room 7",
                    "starts_at": "2027-11-07T06:40:00Z", "ends_at": "2027-11-07T07:10:00Z"}),
            true,
        )
        .await;
    assert_eq!(moved.status(), 200, "{:?}", moved.text().await);
    let mail = app.wait_for_mail("ann@example.org", 2).await;
    let moved_mail = mail
        .iter()
        .find(|m| {
            m.calendar
                .as_ref()
                .is_some_and(|c| c.contains("Docs kickoff"))
        })
        .unwrap_or_else(|| {
            panic!(
                "no slot-moved mail: {:?}",
                mail.iter().map(|m| &m.subject).collect::<Vec<_>>()
            )
        });
    assert!(moved_mail.body.contains("01:40 EST"), "{}", moved_mail.body);
    read_at(
        "fold-moved",
        moved_mail.calendar.as_ref().unwrap(),
        "Docs kickoff",
        "2027-11-07T06:40:00Z",
        "2027-11-07T07:10:00Z",
    );
}

async fn half_hour_changes_zones_without_changes_and_whole_days_read_alike(app: TestApp) {
    let lord_howe = app
        .create_event(&event_in(
            "lord-howe",
            "Australia/Lord_Howe",
            "2027-10-02T20:00",
            "2027-10-03T12:00",
        ))
        .await;
    let kolkata = app
        .create_event(&event_in(
            "kolkata",
            "Asia/Kolkata",
            "2027-10-02T09:00",
            "2027-10-02T17:00",
        ))
        .await;
    let mut days = event_in("days", "Europe/Berlin", "2027-03-27", "2027-03-28");
    days["all_day"] = true.into();
    app.create_event(&days).await;
    let site = feed(&app, "/calendar.ics").await;
    let Some(readings) = read_everywhere("zones", &site) else {
        return;
    };
    let utc = crate::feeds::utc_of;
    assert_everywhere_at(
        &readings,
        "Zone lord-howe",
        &utc(&lord_howe["starts_at"]),
        &utc(&lord_howe["ends_at"]),
    );
    assert_eq!(
        utc(&lord_howe["ends_at"]),
        "2027-10-03T01:00:00Z",
        "+11:00 after the change"
    );
    assert_everywhere_at(
        &readings,
        "Zone kolkata",
        &utc(&kolkata["starts_at"]),
        "2027-10-02T11:30:00Z",
    );
    for (parser, events) in &readings {
        let whole = crate::feeds::find(events, "Zone days");
        assert_eq!(
            (
                whole["start"]["date"].as_str(),
                whole["end"]["date"].as_str()
            ),
            (Some("2027-03-27"), Some("2027-03-29")),
            "{parser}: {whole}"
        );
    }
}

async fn whole_days_made_timed_keep_their_span(app: TestApp) {
    let mut days = event_in("days", "Europe/Berlin", "2027-05-01", "2027-05-03");
    days["all_day"] = true.into();
    app.create_event(&days).await;
    let timed = app
        .patch_json("/api/v1/events/days", &json!({"all_day": false}), true)
        .await;
    assert_eq!(timed.status(), 200);
    let timed: Value = timed.json().await.unwrap();
    assert_eq!(
        (&timed["starts_at"], &timed["ends_at"]),
        (
            &json!("2027-05-01T00:00:00+02:00"),
            &json!("2027-05-04T00:00:00+02:00")
        )
    );
}

crate::on_both_backends!(
    whole_days_made_timed_keep_their_span,
    a_start_the_zone_skips_is_refused_and_an_offset_is_kept,
    a_start_that_happens_twice_keeps_its_instant_in_every_feed_and_mail,
    half_hour_changes_zones_without_changes_and_whole_days_read_alike,
);

/// A calendar of one-hour events at the given UTC instants, each in its zone, as Convene writes
/// it (the API accepts events from the year 2000, so past rule changes can be in a feed).
fn calendar_of(events: &[(&str, &str)]) -> String {
    use convene::ical::{CalEvent, Calendar, Status, When, render};
    let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ").unwrap();
    let items = events
        .iter()
        .enumerate()
        .map(|(i, (tzid, start))| CalEvent {
            uid: format!("zone-{i}@convene"),
            sequence: 0,
            modified: at("2026-01-01T00:00:00Z"),
            created: at("2026-01-01T00:00:00Z"),
            summary: format!("Case {i} in {tzid}"),
            description: String::new(),
            location: String::new(),
            url: None,
            conference: None,
            geo: None,
            color: None,
            status: Status::Confirmed,
            categories: vec![],
            organizer: None,
            alarm_minutes: None,
            when: When::Timed {
                tzid: (*tzid).into(),
                start_utc: at(start),
                end_utc: at(start) + chrono::Duration::hours(1),
            },
        })
        .collect();
    render(&Calendar {
        name: "Zones".into(),
        description: String::new(),
        refresh_minutes: 60,
        method: None,
        stamped: None,
        public: true,
        events: items,
    })
}

#[test]
fn zones_whose_rules_changed_and_zones_without_a_simple_rule_read_alike() {
    let cases = [
        // Brazil's last daylight saving time, 2018-19, and after it was abolished.
        ("America/Sao_Paulo", "2018-10-01T12:00:00Z"),
        ("America/Sao_Paulo", "2019-01-15T12:00:00Z"),
        ("America/Sao_Paulo", "2019-12-01T12:00:00Z"),
        // Israel: the Friday before the last Sunday of March, which no BYDAY alone says.
        ("Asia/Jerusalem", "2027-03-01T08:00:00Z"),
        ("Asia/Jerusalem", "2027-07-01T08:00:00Z"),
        ("Asia/Jerusalem", "2027-12-01T08:00:00Z"),
        // Ireland: winter is the "daylight" offset in the IANA data.
        ("Europe/Dublin", "2027-01-10T10:00:00Z"),
        ("Europe/Dublin", "2027-07-10T10:00:00Z"),
        // Lord Howe Island and a zone without changes.
        ("Australia/Lord_Howe", "2027-01-10T10:00:00Z"),
        ("Australia/Lord_Howe", "2027-07-10T10:00:00Z"),
        ("Asia/Kolkata", "2027-07-10T10:00:00Z"),
        // Zones whose latest change was a new name or a rule that began recently.
        ("America/Vancouver", "2027-07-10T10:00:00Z"),
        ("America/Havana", "2027-10-25T12:00:00Z"),
        ("America/Havana", "2028-01-10T12:00:00Z"),
    ];
    let ics = calendar_of(&cases);
    let Some(readings) = read_everywhere("rule-changes", &ics) else {
        return;
    };
    for (i, (tzid, start)) in cases.iter().enumerate() {
        let end = (chrono::NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M:%SZ").unwrap()
            + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
        assert_everywhere_at(&readings, &format!("Case {i} in {tzid}"), start, &end);
    }
}
