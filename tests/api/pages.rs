//! The web pages at the HTTP level: every form with good input, bad input, a missing CSRF
//! token and a foreign origin; GET never changes anything.

use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, event_json};

/// The CSRF token of the first form on a page.
pub fn csrf_of(html: &str) -> String {
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[start..start + 43].to_owned()
}

async fn page(client: &Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = client.get(app.url(path)).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn post_form(
    client: &Client,
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path))
        .form(fields)
        .send()
        .await
        .unwrap()
}

fn assert_security_headers(response: &reqwest::Response) {
    let h = response.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h.contains_key("referrer-policy"));
}

async fn the_event_page_shows_everything_escaped_and_sanitized(app: TestApp) {
    let mut event = event_json("page", Some(3));
    event["title"] = "</title><script>alert(1)</script>".into();
    event["description"] = "**Bring a laptop.** <script>alert(2)</script> [x](javascript:alert(3)) <img src=x onerror=alert(4)>".into();
    app.create_event(&event).await;
    app.create_project("page", &json!({"slug": "docs", "name": "Docs & <b>more</b>", "location": "Table 4", "capacity": 5, "leads": [{"name": "Lee", "email": "lee@example.org"}], "notes_url": "https://pad.example.org/p/docs"})).await;
    let response = app
        .client
        .get(app.url("/events/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_security_headers(&response);
    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<html lang=\"en\">"));
    // No inline script runs: the script elements are this site's zone script and the JSON-LD
    // data block, where the title's `<` is written as \u003c.
    assert_eq!(html.matches("<script").count(), 2, "{html}");
    assert!(html.contains("<script src=\"/static/zone.js\" defer></script>"));
    assert!(html.contains("<script type=\"application/ld+json\">{"));
    assert!(html.contains("\\u003c/title>\\u003cscript>"), "{html}");
    assert!(!html.contains("javascript:") && !html.contains("onerror"));
    assert!(html.contains("<strong>Bring a laptop.</strong>"));
    assert!(
        html.contains("Docs &#38; &#60;b&#62;more&#60;/b&#62;")
            || html.contains("Docs &amp; &lt;b&gt;more&lt;/b&gt;"),
        "project name escaped"
    );
    assert!(
        html.contains("Table 4")
            && html.contains("Led by Lee")
            && !html.contains("lee@example.org")
    );
    assert!(html.contains("(Europe/Berlin)"), "times name the zone");
    assert!(html.contains("3 of 3 seats left"));
    assert!(html.contains("webcal://convene.example/events/page.ics"));
    assert!(html.contains("webcal://convene.example/events/page/projects/docs.ics"));
    for label in ["for=\"name\"", "for=\"email\""] {
        assert!(html.contains(label), "every field has a label: {label}");
    }
    let (status, not_found) = page(&app.client, &app, "/events/nope").await;
    assert_eq!(status, 404);
    assert!(
        not_found.contains("Page not found") && not_found.contains("/static/style.css"),
        "a 404 in the same look"
    );
    let css = app.get("/static/style.css").await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
}

async fn signing_up_through_the_form(app: TestApp) {
    app.create_event(&event_json("form", Some(1))).await;
    app.create_project("form", &json!({"slug": "docs", "name": "Docs"}))
        .await;
    let browser = app.browser_client();
    let (_, html) = page(&browser, &app, "/events/form").await;
    let csrf = csrf_of(&html);

    // Bad input comes back on the form with the values kept and each problem by its field.
    let bad = post_form(
        &browser,
        &app,
        "/events/form/signup",
        &[
            ("csrf", &csrf),
            ("name", "Ada"),
            ("email", "not-an-address"),
            ("projects", "docs"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    assert!(html.contains("value=\"Ada\"") && html.contains("value=\"not-an-address\""));
    assert!(html.contains("id=\"email-error\"") && html.contains("aria-invalid=\"true\""));
    // The answer says so in its title, lands on the form, and links each problem to its field.
    assert!(html.contains("<title>Error: "), "{html}");
    assert!(html.contains(r#"action="/events/form/signup#signup""#));
    assert!(html.contains(r##"<li><a href="#email">Email: "##), "{html}");
    assert!(
        html.contains("value=\"docs\" checked"),
        "the chosen project stays checked"
    );
    let bad_name = post_form(
        &browser,
        &app,
        "/events/form/signup",
        &[
            ("csrf", &csrf),
            ("name", "Bob\r\nBcc: x@evil.test"),
            ("email", "bob@example.org"),
        ],
    )
    .await;
    assert_eq!(bad_name.status(), 422);
    assert!(app.registrations("form").await.is_empty(), "nothing stored");

    // Without the token, or from another site: refused, nothing stored.
    let no_token = post_form(
        &browser,
        &app,
        "/events/form/signup",
        &[("name", "Eve"), ("email", "eve@example.org")],
    )
    .await;
    assert_eq!(no_token.status(), 403);
    let foreign = browser
        .post(app.url("/events/form/signup"))
        .header("Origin", "https://evil.test")
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Eve"),
            ("email", "eve@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let other_browser = app.browser_client();
    let stolen = post_form(
        &other_browser,
        &app,
        "/events/form/signup",
        &[
            ("csrf", &csrf),
            ("name", "Eve"),
            ("email", "eve@example.org"),
        ],
    )
    .await;
    assert_eq!(
        stolen.status(),
        403,
        "a token without its cookie is refused"
    );
    let prefix_origin = browser
        .post(app.url("/events/form/signup"))
        .header("Origin", "https://convene.ex")
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Eve"),
            ("email", "eve@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        prefix_origin.status(),
        403,
        "an origin that is a prefix of ours is still foreign"
    );
    let hostile_slug = post_form(
        &browser,
        &app,
        "/events/x%0Ay/signup",
        &[
            ("csrf", &csrf),
            ("name", "Bot"),
            ("email", "bot@example.org"),
            ("website", "x"),
        ],
    )
    .await;
    assert_eq!(hostile_slug.status(), 404);
    let not_utf8 = browser
        .post(app.url("/events/form/signup"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&name=%FF%FE&email=eve%40example.org"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        not_utf8.status(),
        400,
        "invalid UTF-8 is refused, not stored mangled"
    );
    let nul = post_form(
        &browser,
        &app,
        "/events/form/signup",
        &[
            ("csrf", &csrf),
            ("name", "Ev\0e"),
            ("email", "eve@example.org"),
        ],
    )
    .await;
    assert_eq!(nul.status(), 422);
    let many: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("f{i}"), "x".to_owned()))
        .collect();
    let flood = browser
        .post(app.url("/events/form/signup"))
        .form(&many)
        .send()
        .await
        .unwrap();
    assert!(
        flood.status().is_client_error(),
        "10,000 fields: {}",
        flood.status()
    );
    let reload = browser
        .get(app.url("/events/form/signup"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            reload.status(),
            reload.headers()["location"].to_str().unwrap()
        ),
        (StatusCode::SEE_OTHER, "/events/form#signup")
    );
    let bot = post_form(
        &browser,
        &app,
        "/events/form/signup",
        &[
            ("csrf", &csrf),
            ("name", "Bot"),
            ("email", "bot@example.org"),
            ("website", "http://spam.test"),
        ],
    )
    .await;
    assert_eq!(bot.status(), 303, "the bot sees success");
    assert!(app.registrations("form").await.is_empty());

    // Good input: Post/Redirect/Get to the same page for a new and a known address.
    let good = post_form(
        &browser,
        &app,
        "/events/form/signup",
        &[
            ("csrf", &csrf),
            ("name", "Ada"),
            ("email", "ada@example.org"),
            ("projects", "docs"),
        ],
    )
    .await;
    assert_eq!(good.status(), 303);
    let location = good.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/events/form/thanks");
    let again = post_form(
        &browser,
        &app,
        "/events/form/signup",
        &[
            ("csrf", &csrf),
            ("name", "Ada"),
            ("email", "ADA@example.org"),
        ],
    )
    .await;
    assert_eq!(
        (
            again.status(),
            again.headers()["location"].to_str().unwrap()
        ),
        (StatusCode::SEE_OTHER, location.as_str())
    );
    let (_, thanks) = page(&browser, &app, &location).await;
    assert!(thanks.contains("Check your inbox"));
    assert!(
        thanks.contains("<strong class=\"sent-to\">ADA@example.org</strong>"),
        "the thanks page repeats the address last typed"
    );
    assert!(
        thanks.contains("calendar.google.com"),
        "and offers the calendar"
    );
    let list = app.registrations("form").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["projects"], json!(["docs"]));
    app.wait_for_mail("ada@example.org", 2).await;

    let huge = "x".repeat(2 * 1024 * 1024);
    let too_big = post_form(
        &browser,
        &app,
        "/events/form/signup",
        &[
            ("csrf", &csrf),
            ("name", &huge),
            ("email", "big@example.org"),
        ],
    )
    .await;
    assert_eq!(too_big.status(), 413);
    let json_body = browser
        .post(app.url("/events/form/signup"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 415);
}

async fn the_manage_page_changes_nothing_on_get(app: TestApp) {
    app.create_event(&event_json("manage", Some(1))).await;
    app.create_project("manage", &json!({"slug": "docs", "name": "Docs"}))
        .await;
    app.sign_up("manage", "Ann", "ann@example.org", &[]).await;
    app.sign_up("manage", "Bob", "bob@example.org", &[]).await;
    let token = app.wait_for_mail("ann@example.org", 1).await[0].manage_token();
    let path = format!("/manage/{token}");
    let browser = app.browser_client();
    for _ in 0..3 {
        let response = browser.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["referrer-policy"], "no-referrer");
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    assert_eq!(
        browser.head(app.url(&path)).send().await.unwrap().status(),
        200
    );
    let (_, html) = page(&browser, &app, &path).await;
    assert!(html.contains("You are going."));
    let csrf = csrf_of(&html);
    let own: serde_json::Value = app
        .get_json(&format!("/api/v1/registrations/{token}"))
        .await;
    assert_eq!(own["status"], "going", "looking changed nothing");

    let no_token = post_form(&browser, &app, &format!("{path}/cancel"), &[]).await;
    assert_eq!(no_token.status(), 403);
    let projects = post_form(
        &browser,
        &app,
        &format!("{path}/projects"),
        &[("csrf", &csrf), ("projects", "docs")],
    )
    .await;
    assert_eq!(projects.status(), 303);
    let own: serde_json::Value = app
        .get_json(&format!("/api/v1/registrations/{token}"))
        .await;
    assert_eq!(own["projects"], json!(["docs"]));
    // The feed's alarm, chosen without JavaScript.
    assert!(html.contains("<option value=\"\" selected>No alarm</option>"));
    let alarm = post_form(
        &browser,
        &app,
        &format!("{path}/feed-alarm"),
        &[("csrf", &csrf), ("minutes", "1440")],
    )
    .await;
    assert_eq!(alarm.status(), 303);
    let (_, html) = page(
        &browser,
        &app,
        alarm.headers()["location"].to_str().unwrap(),
    )
    .await;
    assert!(html.contains("alarm is saved") && html.contains("value=\"1440\" selected"));
    let tampered = post_form(
        &browser,
        &app,
        &format!("{path}/feed-alarm"),
        &[("csrf", &csrf), ("minutes", "soon")],
    )
    .await;
    assert_eq!(tampered.status(), 422);
    let cancel = post_form(
        &browser,
        &app,
        &format!("{path}/cancel"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(cancel.status(), 303);
    let (_, html) = page(
        &browser,
        &app,
        cancel.headers()["location"].to_str().unwrap(),
    )
    .await;
    assert!(html.contains("Your registration is cancelled"));
    let bob = app
        .registrations("manage")
        .await
        .into_iter()
        .find(|r| r["email"] == "bob@example.org")
        .unwrap();
    assert_eq!(bob["status"], "going", "the waitlist moved up");
    for wrong in [format!("{path}x"), path.to_uppercase()] {
        assert_eq!(page(&browser, &app, &wrong).await.0, 404);
    }
}

async fn organizers_log_in_and_run_an_event_from_the_pages(app: TestApp) {
    let browser = app.browser_client();
    let anonymous = browser.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(
        (
            anonymous.status(),
            anonymous.headers()["location"].to_str().unwrap()
        ),
        (StatusCode::SEE_OTHER, "/login")
    );
    let (_, login) = page(&browser, &app, "/login").await;
    let csrf = csrf_of(&login);
    let wrong = post_form(
        &browser,
        &app,
        "/login",
        &[
            ("csrf", &csrf),
            ("email", &app.organizer_email),
            ("password", "wrong"),
        ],
    )
    .await;
    let nul = post_form(
        &browser,
        &app,
        "/login",
        &[
            ("csrf", &csrf),
            ("email", "a\0@example.org"),
            ("password", "x"),
        ],
    )
    .await;
    assert_eq!(
        nul.status(),
        401,
        "a NUL byte is no organizer, on either database"
    );
    assert_eq!(wrong.status(), 401);
    let no_csrf = post_form(
        &browser,
        &app,
        "/login",
        &[
            ("email", &app.organizer_email),
            ("password", &app.organizer_password),
        ],
    )
    .await;
    assert_eq!(no_csrf.status(), 403);
    let ok = post_form(
        &browser,
        &app,
        "/login",
        &[
            ("csrf", &csrf),
            ("email", &app.organizer_email.to_uppercase()),
            ("password", &app.organizer_password),
        ],
    )
    .await;
    assert_eq!(ok.status(), 303);
    let cookie = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("convene_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Secure"),
        "{cookie}"
    );

    let (status, _) = page(&browser, &app, "/admin").await;
    assert_eq!(status, 200);
    let (_, form) = page(&browser, &app, "/admin/events/new").await;
    let csrf = csrf_of(&form);
    let bad = post_form(
        &browser,
        &app,
        "/admin/events",
        &[
            ("csrf", &csrf),
            ("title", "Hack night"),
            ("kind", "hack-in"),
            ("timezone", "Mars/Base"),
            ("starts_at", "2031-02-01T18:00"),
            ("ends_at", "2031-02-01T22:00"),
            ("capacity", "ten"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains("value=\"Hack night\"")
            && html.contains("whole number")
            && html.contains("is not a time zone Convene knows"),
        "every problem at once"
    );
    let created = post_form(
        &browser,
        &app,
        "/admin/events",
        &[
            ("csrf", &csrf),
            ("title", "Hack night"),
            ("kind", "hack-in"),
            ("timezone", "Europe/London"),
            ("starts_at", "2031-02-01T18:00"),
            ("ends_at", "2031-02-01T22:00"),
            ("venue", "The Space"),
            ("capacity", "12"),
            ("reminder_offsets", ""),
        ],
    )
    .await;
    assert_eq!(created.status(), 303);
    assert_eq!(
        created.headers()["location"],
        "/admin/events/hack-night?done=created"
    );
    let project = post_form(
        &browser,
        &app,
        "/admin/events/hack-night/projects",
        &[
            ("csrf", &csrf),
            ("name", "Soldering"),
            ("location", "Bench 2"),
            ("leads", "Sam <sam@example.org>\nKim"),
        ],
    )
    .await;
    assert_eq!(project.status(), 303);
    let (_, home) = page(&browser, &app, "/").await;
    assert!(home.contains("Hack night") && home.contains("12 seats left"));
    let (_, public) = page(&browser, &app, "/events/hack-night").await;
    assert!(public.contains("Soldering") && public.contains("Led by Sam, Kim"));

    let edit = post_form(
        &browser,
        &app,
        "/admin/events/hack-night",
        &[
            ("csrf", &csrf),
            ("title", "Hack night"),
            ("kind", "hack-in"),
            ("timezone", "Europe/London"),
            ("starts_at", "2031-02-01T18:00"),
            ("ends_at", "2031-02-01T22:00"),
            ("venue", "The Space"),
            ("capacity", "20"),
        ],
    )
    .await;
    assert_eq!(edit.status(), 303);
    assert_eq!(app.event("hack-night").await["capacity"], 20);

    app.sign_up("hack-night", "=SUM(1+1)", "zed@example.org", &[])
        .await;
    app.sign_up("hack-night", "Yan", "yan@example.org", &["soldering"])
        .await;
    let (_, attendees) = page(&browser, &app, "/admin/events/hack-night/attendees").await;
    assert!(attendees.contains("yan@example.org") && attendees.contains("Soldering"));
    let csv = browser
        .get(app.url("/admin/events/hack-night/attendees.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}name,email,status,waitlist_place,projects,registered\r\n"));
    assert!(
        csv.contains("\"Yan\",\"yan@example.org\",\"going\",\"\",\"Soldering\""),
        "{csv}"
    );
    assert!(
        csv.contains("\"'=SUM(1+1)\""),
        "a formula is neutralized: {csv}"
    );

    let message = post_form(
        &browser,
        &app,
        "/admin/events/hack-night/messages",
        &[
            ("csrf", &csrf),
            ("subject", "Doors open at 17:30"),
            ("body", "See you there."),
            ("project", "soldering"),
        ],
    )
    .await;
    assert_eq!(message.status(), 303);
    let yan = app.wait_for_mail("yan@example.org", 2).await;
    assert!(
        yan.iter()
            .any(|m| m.subject.starts_with("Doors open at 17:30")
                && m.body.contains("See you there."))
    );
    app.wait_for_outbox_drained().await;
    assert!(
        !app.mail_to("zed@example.org")
            .iter()
            .any(|m| m.subject.starts_with("Doors")),
        "only the people at the project"
    );
    let (_, admin_page) = page(&browser, &app, "/admin/events/hack-night").await;
    assert!(admin_page.contains("0 failed") && admin_page.contains("Message the attendees"));
    // Cancelling asks first, saying who will be mailed; asking changes nothing.
    let (status, question) = page(&browser, &app, "/admin/events/hack-night/cancel").await;
    assert_eq!(status, 200);
    assert!(
        question.contains("going, 0 on the waitlist) is told by email")
            && question.contains("Yes, cancel the event")
            && question.contains(r#"action="/admin/events/hack-night/cancel""#),
        "{question}"
    );
    assert_eq!(app.event("hack-night").await["status"], "scheduled");
    let cancel = post_form(
        &browser,
        &app,
        "/admin/events/hack-night/cancel",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(cancel.status(), 303);
    assert_eq!(app.event("hack-night").await["status"], "cancelled");
    let logout = post_form(&browser, &app, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(logout.status(), 303);
    assert_eq!(
        browser
            .get(app.url("/admin"))
            .send()
            .await
            .unwrap()
            .status(),
        303,
        "logged out"
    );
    let anonymous_post = app
        .client
        .post(app.url("/admin/events/hack-night/cancel"))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous_post.status(),
        303,
        "to the login page, nothing done"
    );
}

crate::on_both_backends!(
    the_event_page_shows_everything_escaped_and_sanitized,
    signing_up_through_the_form,
    the_manage_page_changes_nothing_on_get,
    organizers_log_in_and_run_an_event_from_the_pages,
);
