//! Pages of a busy site: the home page in pages of 25 events, the event page kept rendered
//! for everyone while each visitor still gets a form token of their own, and an attendee
//! list in pages with a search.

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

/// The names of the people an attendee page lists, in its order.
fn names_listed(html: &str) -> Vec<String> {
    html.split("<td data-label=\"Name\">Person ")
        .skip(1)
        .map(|rest| format!("Person {}", &rest[..3]))
        .collect()
}

async fn the_attendee_list_comes_in_pages_of_100_with_a_search(app: TestApp) {
    app.create_event(&event_json("big", Some(100))).await;
    app.create_project("big", &json!({"slug": "docs", "name": "Docs"}))
        .await;
    for i in 0..103 {
        let projects: &[&str] = if i == 1 { &["docs"] } else { &[] };
        let name = format!("Person {i:03}");
        let answer = app
            .sign_up("big", &name, &format!("p{i:03}@example.org"), projects)
            .await;
        assert_eq!(answer.status(), 202);
    }
    // Person 005 cancels: Person 100 takes the seat, 101 and 102 wait.
    let token = app.wait_for_mail("p005@example.org", 1).await[0].manage_token();
    let cancelled = app
        .post_json(
            &format!("/api/v1/registrations/{token}/cancel"),
            &json!({}),
            false,
        )
        .await;
    assert_eq!(cancelled.status(), 200);

    let organizer = crate::tokens::logged_in(&app).await;
    let page = |path: String| {
        let organizer = organizer.clone();
        let url = app.url(&path);
        async move {
            let response = organizer.get(url).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let (status, first) = page("/admin/events/big/attendees".into()).await;
    assert_eq!(status, 200);
    assert!(first.contains("100 going · 2 on the waitlist · 1 cancelled"));
    assert!(first.contains("1 to 100 of 103"), "{first}");
    let names = names_listed(&first);
    assert_eq!(names.len(), 100);
    assert_eq!(
        names[..6],
        [
            "Person 000",
            "Person 001",
            "Person 002",
            "Person 003",
            "Person 004",
            "Person 006"
        ]
    );
    assert_eq!(names[99], "Person 100");
    assert!(first.contains("<td data-label=\"Projects\">Docs</td>"));
    assert!(first.contains(r#"href="/admin/events/big/attendees?page=2" rel="next""#));

    let (_, second) = page("/admin/events/big/attendees?page=2".into()).await;
    assert_eq!(
        names_listed(&second),
        ["Person 101", "Person 102", "Person 005"]
    );
    assert!(second.contains("waitlisted #1") && second.contains("waitlisted #2"));
    assert!(second.contains("101 to 103 of 103") && second.contains("rel=\"prev\""));

    // A search matches any part of the name or the address, in any case.
    let (_, found) = page("/admin/events/big/attendees?q=person+10".into()).await;
    assert_eq!(
        names_listed(&found),
        ["Person 100", "Person 101", "Person 102"]
    );
    assert!(found.contains("1 to 3 of 3 whose name or email contains “person 10”"));
    assert!(
        found.contains("waitlisted #2"),
        "a found person's real place"
    );
    let (_, by_address) = page("/admin/events/big/attendees?q=P042%40EXAMPLE".into()).await;
    assert_eq!(names_listed(&by_address), ["Person 042"]);
    let (_, wildcard) = page("/admin/events/big/attendees?q=%25".into()).await;
    assert!(
        wildcard.contains("Nobody's name or email contains “%”"),
        "{wildcard}"
    );
    assert!(names_listed(&wildcard).is_empty(), "% matches only itself");

    let (status, long) = page(format!("/admin/events/big/attendees?q={}", "a".repeat(201))).await;
    assert_eq!(status, 422);
    assert!(
        long.contains("a search is at most 200 characters"),
        "{long}"
    );
    let (status, bad) = page("/admin/events/big/attendees?page=0".into()).await;
    assert_eq!(status, 400);
    assert!(bad.contains("page must be a whole number from 1 to 100000"));

    // The export has everyone, in the same order.
    let (_, csv) = page("/admin/events/big/attendees.csv".into()).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 104, "a header and 103 people");
    assert_eq!(
        lines[0], "\u{feff}name,email,status,waitlist_place,projects,registered",
        "a byte order mark, then the columns"
    );
    assert!(lines[2].starts_with("\"Person 001\",\"p001@example.org\",\"going\",\"\",\"Docs\""));
    assert!(lines[101].starts_with("\"Person 101\",\"p101@example.org\",\"waitlisted\",\"1\""));
    assert!(lines[103].starts_with("\"Person 005\",\"p005@example.org\",\"cancelled\",\"\""));
}

crate::on_both_backends!(
    the_home_page_lists_25_events_a_page_soonest_first,
    each_visitor_of_a_kept_event_page_gets_a_token_of_their_own,
    the_attendee_list_comes_in_pages_of_100_with_a_search,
);
