//! What lets an event travel: the schema.org Event that search engines read, the link preview,
//! "add to calendar" links, the map link, the sitemap and robots.txt, times on the reader's
//! clocks, and who's going (for those who say so).

use serde_json::{Value, json};

use crate::helpers::{TestApp, event_json};

/// The JSON-LD data block of a page, parsed.
fn json_ld(html: &str) -> Value {
    let start = html
        .find("<script type=\"application/ld+json\">")
        .expect("a JSON-LD block")
        + 35;
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).expect("JSON-LD parses")
}

async fn the_event_page_describes_the_event_to_search_engines_and_link_previews(app: TestApp) {
    let mut body = event_json("described", Some(40));
    body["title"] = "Docs </script><b>sprint</b>".into();
    body["online_url"] = "https://meet.example.org/docs".into();
    app.create_event(&body).await;
    let event = app.event("described").await;
    let html = app.get("/events/described").await.text().await.unwrap();

    let ld = json_ld(&html);
    assert_eq!(ld["@context"], "https://schema.org");
    assert_eq!(ld["@type"], "Event");
    assert_eq!(ld["name"], "Docs </script><b>sprint</b>");
    assert_eq!(
        ld["startDate"], event["starts_at"],
        "with the event's offset"
    );
    assert_eq!(ld["endDate"], event["ends_at"]);
    assert_eq!(ld["eventStatus"], "https://schema.org/EventScheduled");
    assert_eq!(
        ld["eventAttendanceMode"],
        "https://schema.org/MixedEventAttendanceMode"
    );
    assert_eq!(ld["location"][0]["name"], "Hall B");
    assert_eq!(ld["location"][1]["url"], "https://meet.example.org/docs");
    assert_eq!(ld["url"], event["url"]);
    assert_eq!(ld["maximumAttendeeCapacity"], 40);

    assert!(html.contains("<meta property=\"og:title\" content=\"Docs &#60;/script&#62;&#60;b&#62;sprint&#60;/b&#62;\">")
        || html.contains("<meta property=\"og:title\" content=\"Docs &lt;/script&gt;&lt;b&gt;sprint&lt;/b&gt;\">"),
        "the preview's title, escaped");
    assert!(html.contains(&format!(
        "<link rel=\"canonical\" href=\"{}\">",
        event["url"].as_str().unwrap()
    )));
    assert!(html.contains("https://calendar.google.com/calendar/render?action=TEMPLATE"));
    assert!(html.contains("https://outlook.live.com/calendar/0/action/compose?"));
    assert!(html.contains("https://www.openstreetmap.org/search?query=Hall+B%2C+Main+Street+1"));

    let moved = app
        .patch_json(
            "/api/v1/events/described",
            &json!({"venue": "Hall C"}),
            true,
        )
        .await;
    assert_eq!(moved.status(), 200);
    let html = app.get("/events/described").await.text().await.unwrap();
    assert_eq!(
        json_ld(&html)["eventStatus"],
        "https://schema.org/EventRescheduled"
    );
    app.post_json("/api/v1/events/described/cancel", &json!({}), true)
        .await;
    let html = app.get("/events/described").await.text().await.unwrap();
    assert_eq!(
        json_ld(&html)["eventStatus"],
        "https://schema.org/EventCancelled"
    );
}

async fn the_sitemap_lists_published_events_and_robots_keep_out_of_private_pages(app: TestApp) {
    app.create_event(&event_json("listed", None)).await;
    let mut draft = event_json("unlisted", None);
    draft["draft"] = true.into();
    app.create_event(&draft).await;

    let sitemap = app.get("/sitemap.xml").await;
    assert_eq!(sitemap.status(), 200);
    assert!(
        sitemap.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let xml = sitemap.text().await.unwrap();
    assert!(
        xml.starts_with("<?xml")
            && xml.contains("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">")
    );
    assert!(xml.contains(&format!(
        "<loc>{}</loc>",
        app.event("listed").await["url"].as_str().unwrap()
    )));
    assert!(!xml.contains("unlisted"), "a draft is not listed");

    let robots = app.get("/robots.txt").await.text().await.unwrap();
    assert!(robots.contains("Disallow: /manage/") && robots.contains("Disallow: /lead/"));
    assert!(robots.contains("Sitemap: ") && robots.contains("/sitemap.xml"));
}

async fn a_reader_chooses_a_zone_and_sees_the_times_on_their_clocks_too(app: TestApp) {
    let mut body = event_json("far-away", None);
    body["starts_at"] = "2031-03-06T09:30".into();
    body["ends_at"] = "2031-03-06T17:00".into();
    body["online_url"] = "https://meet.example.org/far".into();
    app.create_event(&body).await;
    let browser = app.browser_client();
    let page = |path: &'static str| {
        let browser = browser.clone();
        let url = app.url(path);
        async move { browser.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let before = page("/events/far-away").await;
    assert!(before.contains("Thu 6 Mar 2031, 09:30–17:00 (Europe/Berlin)"));
    assert!(
        !before.contains("class=\"reader-time\""),
        "no zone chosen yet"
    );
    assert!(
        before.contains("data-zone=\"Europe/Berlin\""),
        "the script's cue"
    );

    let form = page("/preferences/zone?back=/events/far-away").await;
    let csrf = crate::pages::csrf_of(&form);
    let choose = |zone: &'static str, back: &'static str| {
        browser
            .post(app.url("/preferences/zone"))
            .form(&[("csrf", csrf.as_str()), ("zone", zone), ("back", back)])
            .send()
    };
    let bad = choose("Mars/Base", "/events/far-away").await.unwrap();
    assert_eq!(bad.status(), 422);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("is not a time zone Convene knows")
    );
    let chosen = choose("America/New_York", "/events/far-away")
        .await
        .unwrap();
    assert_eq!(chosen.status(), 303);
    assert_eq!(
        chosen.headers()["location"],
        "/events/far-away",
        "back to the event"
    );
    let after = page("/events/far-away").await;
    assert!(
        after.contains("Thu 6 Mar 2031, 09:30–17:00 (Europe/Berlin)"),
        "its own zone first"
    );
    assert!(
        after.contains(
            "<span class=\"reader-time\">Thu 6 Mar 2031, 03:30–11:00 (America/New_York)</span>"
        ),
        "{after}"
    );
    let elsewhere = choose("Asia/Tokyo", "//evil.example/").await.unwrap();
    assert_eq!(
        elsewhere.headers()["location"],
        "/",
        "back only to this site"
    );
    let forgotten = choose("", "/events/far-away").await.unwrap();
    assert_eq!(forgotten.status(), 303);
    let plain = page("/events/far-away").await;
    assert!(
        !plain.contains("class=\"reader-time\""),
        "an empty choice forgets the zone"
    );
}

async fn an_online_event_says_how_soon_it_starts(app: TestApp) {
    let soon = chrono::Utc::now() + chrono::Duration::minutes(190);
    let mut body = event_json("online-soon", None);
    body["timezone"] = "UTC".into();
    body["starts_at"] = soon.format("%Y-%m-%dT%H:%M:00Z").to_string().into();
    body["ends_at"] = (soon + chrono::Duration::hours(2))
        .format("%Y-%m-%dT%H:%M:00Z")
        .to_string()
        .into();
    body["online_url"] = "https://meet.example.org/soon".into();
    app.create_event(&body).await;
    let html = app.get("/events/online-soon").await.text().await.unwrap();
    assert!(
        html.contains("<strong class=\"soon\">starts in 3 hours</strong>"),
        "{html}"
    );
}

async fn only_people_who_ask_are_named_among_who_is_going(app: TestApp) {
    app.create_event(&event_json("named", Some(10))).await;
    app.create_project("named", &json!({"slug": "docs", "name": "Docs"}))
        .await;
    let shown = app
        .post_json(
            "/api/v1/events/named/registrations",
            &json!({"name": "Ada Lovelace", "email": "ada@example.org", "projects": ["docs"], "show_name": true}),
            false,
        )
        .await;
    assert_eq!(shown.status(), 202);
    app.sign_up("named", "Quiet Person", "quiet@example.org", &["docs"])
        .await;
    let html = app.get("/events/named").await.text().await.unwrap();
    assert!(html.contains("<h2>Who's going</h2>") || html.contains("<h2>Who&#39;s going</h2>"));
    assert!(html.contains("Ada Lovelace, and 1 more."), "{html}");
    assert!(
        html.contains("2 people joined: Ada Lovelace"),
        "on the project too"
    );
    assert!(
        !html.contains("Quiet Person"),
        "nobody is named unless they ask"
    );

    let mail = app.wait_for_mail("ada@example.org", 1).await;
    let token = mail[0].manage_token();
    let hidden = app
        .client
        .put(app.url(&format!("/api/v1/registrations/{token}/show-name")))
        .json(&json!({"show": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 200);
    let body: Value = hidden.json().await.unwrap();
    assert_eq!(body["show_name"], false);
    let html = app.get("/events/named").await.text().await.unwrap();
    assert!(!html.contains("Ada Lovelace"), "taken back at once");
}

crate::on_both_backends!(
    only_people_who_ask_are_named_among_who_is_going,
    a_reader_chooses_a_zone_and_sees_the_times_on_their_clocks_too,
    an_online_event_says_how_soon_it_starts,
    the_event_page_describes_the_event_to_search_engines_and_link_previews,
    the_sitemap_lists_published_events_and_robots_keep_out_of_private_pages,
);
