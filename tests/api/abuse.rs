//! Hostile clients: signup floods from one address, names that would put links into mail,
//! `+tag` variants of one inbox, and password guessing that must not lock the organizer out.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, Setup, TestApp, event_json, problem_fields, spawn_app_with};
use crate::pages::csrf_of;
use convene::domain::text::NAME_NOT_A_LINK;

/// Starts an app whose signup limit is `per_minute`, or None when PostgreSQL is not set up.
async fn app_with_signup_limit(backend: Backend) -> Option<TestApp> {
    spawn_app_with(
        backend,
        Setup {
            tweak: Some(|s| s.signups_per_minute = 3),
            ..Setup::default()
        },
    )
    .await
}

/// The CSRF token of an event page, read by a client that keeps cookies.
async fn form_client(app: &TestApp, slug: &str) -> (reqwest::Client, String) {
    let browser = app.browser_client();
    let html = browser
        .get(app.url(&format!("/events/{slug}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (browser, csrf_of(&html))
}

async fn form_signup(
    app: &TestApp,
    browser: &reqwest::Client,
    csrf: &str,
    slug: &str,
    name: &str,
    email: &str,
) -> reqwest::Response {
    browser
        .post(app.url(&format!("/events/{slug}/signup")))
        .form(&[("csrf", csrf), ("name", name), ("email", email)])
        .send()
        .await
        .unwrap()
}

async fn signups_are_limited_per_client_on_the_api_and_the_form(app: TestApp) {
    app.create_event(&event_json("flood", Some(100))).await;
    for i in 0..3 {
        let response = app
            .sign_up("flood", "Ada", &format!("ada{i}@example.org"), &[])
            .await;
        assert_eq!(response.status(), 202, "signup {i} is within the budget");
    }
    let refused = app
        .sign_up("flood", "Ada", "ada-late@example.org", &[])
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "Retry-After {retry}");
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "urn:convene:problem:too-many-requests");
    assert_eq!(problem["status"], 429);

    // The form shares the address's budget and says so on a page.
    let (browser, csrf) = form_client(&app, "flood").await;
    let page = form_signup(
        &app,
        &browser,
        &csrf,
        "flood",
        "Ada",
        "ada-form@example.org",
    )
    .await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers().contains_key("retry-after"));
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Too many attempts"), "{html}");
    assert!(html.contains("Wait "), "{html}");

    let stored: Vec<String> = app
        .registrations("flood")
        .await
        .iter()
        .map(|r| r["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        stored,
        ["ada0@example.org", "ada1@example.org", "ada2@example.org"],
        "refused signups store nothing"
    );
}

/// Names a stranger could use to put a link into a mail sent to anyone.
const LINK_NAMES: &[&str] = &[
    "Claim your prize: https://evil.test/win",
    "www.evil.test",
    "prize at evil.test",
    "ada@evil.test",
    "<a href=x>Ada</a>",
    "Ada //evil.test",
    "evil\u{3002}test",
];

async fn names_holding_links_are_refused_alike_on_the_api_and_the_form(app: TestApp) {
    app.create_event(&event_json("names", Some(100))).await;
    let (browser, csrf) = form_client(&app, "names").await;
    for name in LINK_NAMES {
        let api = app.sign_up("names", name, "victim@example.org", &[]).await;
        assert_eq!(api.status(), 422, "{name:?} on the API");
        let problem: Value = api.json().await.unwrap();
        assert_eq!(problem_fields(&problem), ["name"], "{name:?}");
        let message = problem["errors"][0]["message"].as_str().unwrap().to_owned();
        assert!(message.starts_with(NAME_NOT_A_LINK), "{name:?}: {message}");

        let form = form_signup(&app, &browser, &csrf, "names", name, "victim@example.org").await;
        assert_eq!(form.status(), 422, "{name:?} on the form");
        let html = form.text().await.unwrap();
        let shown = html
            .lines()
            .find(|l| l.contains("id=\"name-error\""))
            .unwrap_or_default()
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&#38;", "&");
        assert!(
            shown.contains(&message),
            "the form shows the API's message for {name:?}: {message}\n{shown}"
        );
    }
    // An ordinary name with dots still goes through both ways.
    assert_eq!(
        app.sign_up("names", "J.R.R. Tolkien", "jrr@example.org", &[])
            .await
            .status(),
        202
    );
    let form = form_signup(
        &app,
        &browser,
        &csrf,
        "names",
        "Dr. Ada (she/her)",
        "ada@example.org",
    )
    .await;
    assert_eq!(form.status(), 303);

    app.wait_for_mail("ada@example.org", 1).await;
    app.wait_for_outbox_drained().await;
    assert!(
        app.mail_to("victim@example.org").is_empty(),
        "no refused name produced mail"
    );
    let names: Vec<String> = app
        .registrations("names")
        .await
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "only the two real names are stored: {names:?}"
    );
}

async fn tag_variants_of_one_mailbox_share_its_mail_budget(app: TestApp) {
    app.create_event(&event_json("tags", None)).await;
    for i in 0..12 {
        let response = app
            .sign_up("tags", "Ada", &format!("Ada+{i}@Example.org"), &[])
            .await;
        assert_eq!(response.status(), 202, "variant {i}");
    }
    assert_eq!(
        app.sign_up("tags", "Bob", "bob@example.org", &[])
            .await
            .status(),
        202
    );
    app.wait_for_mail("bob@example.org", 1).await;
    app.wait_for_outbox_drained().await;
    let to_ada: Vec<String> = app
        .mail()
        .iter()
        .filter(|m| m.to.to_lowercase().starts_with("ada+"))
        .map(|m| m.to.clone())
        .collect();
    assert_eq!(
        to_ada.len(),
        convene::domain::mail_budget::PER_HOUR as usize,
        "one inbox gets its hourly share, whatever the tags: {to_ada:?}"
    );
    assert!(
        to_ada.iter().all(|to| to.starts_with("Ada+")),
        "mail goes to the address as typed: {to_ada:?}"
    );
    // The organizers see what was held back, and why.
    let outbox: Vec<Value> = app
        .get_authed("/api/v1/events/tags/outbox")
        .await
        .json()
        .await
        .unwrap();
    let held: Vec<&Value> = outbox.iter().filter(|m| m["state"] == "skipped").collect();
    assert_eq!(held.len(), 12 - to_ada.len(), "{outbox:#?}");
    assert!(
        held.iter().all(|m| m["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("share of signup mail")),
        "{held:#?}"
    );
}

async fn login(
    app: &TestApp,
    browser: &reqwest::Client,
    csrf: &str,
    email: &str,
    password: &str,
) -> StatusCode {
    browser
        .post(app.url("/login"))
        .form(&[("csrf", csrf), ("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
        .status()
}

async fn login_client(app: &TestApp) -> (reqwest::Client, String) {
    let browser = app.browser_client();
    let html = browser
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (browser, csrf_of(&html))
}

async fn the_right_password_gets_in_after_others_failed_from_the_same_address(app: TestApp) {
    let (browser, csrf) = login_client(&app).await;
    for i in 0..10 {
        let status = login(&app, &browser, &csrf, &app.organizer_email, "a wrong guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let started = Instant::now();
    let status = login(
        &app,
        &browser,
        &csrf,
        &app.organizer_email,
        &app.organizer_password,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the organizer gets in");
    assert!(
        started.elapsed() < convene::http::limits::LOGIN_MAX_WAIT + Duration::from_secs(2),
        "after a short wait at most: {:?}",
        started.elapsed()
    );
    let admin = browser.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(admin.status(), 200, "with a working session");
}

/// A browser that logged into the account before is not held up by someone guessing that
/// account from the same address: a fresh browser there is refused (its turn is too far
/// away), the known one gets in at once.
async fn a_known_browser_gets_in_while_others_guess_from_its_address(app: TestApp) {
    let (organizer, csrf) = login_client(&app).await;
    let first = login(
        &app,
        &organizer,
        &csrf,
        &app.organizer_email,
        &app.organizer_password,
    )
    .await;
    assert_eq!(first, StatusCode::SEE_OTHER);
    let (guesser, guesser_csrf) = login_client(&app).await;
    for _ in 0..10 {
        login(
            &app,
            &guesser,
            &guesser_csrf,
            &app.organizer_email,
            "a guess",
        )
        .await;
    }
    // Guesses sent together fill the queue of turns beyond the longest wait: those whose turn
    // is too far away are refused at once, the others wait for theirs.
    let burst: Vec<_> = (0..4)
        .map(|_| {
            let (guesser, url) = (guesser.clone(), app.url("/login"));
            let form = [
                ("csrf", guesser_csrf.clone()),
                ("email", app.organizer_email.clone()),
                ("password", "a guess".to_owned()),
            ];
            tokio::spawn(async move {
                let answer = guesser.post(url).form(&form).send().await.unwrap();
                answer.status()
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !burst.iter().any(|task| task.is_finished()) {
        assert!(Instant::now() < deadline, "no guess was refused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (stranger, stranger_csrf) = login_client(&app).await;
    let refused = login(
        &app,
        &stranger,
        &stranger_csrf,
        &app.organizer_email,
        &app.organizer_password,
    )
    .await;
    assert_eq!(
        refused,
        StatusCode::TOO_MANY_REQUESTS,
        "a browser never seen waits its turn"
    );
    let started = Instant::now();
    let known = login(
        &app,
        &organizer,
        &csrf,
        &app.organizer_email,
        &app.organizer_password,
    )
    .await;
    assert_eq!(
        known,
        StatusCode::SEE_OTHER,
        "the organizer's own browser gets in"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

async fn a_note_within_the_hour_does_not_swallow_a_returning_persons_confirmation(app: TestApp) {
    app.create_event(&event_json("again", Some(10))).await;
    for _ in 0..3 {
        app.sign_up("again", "Ada", "ada@example.org", &[]).await;
    }
    let mail = app.wait_for_mail("ada@example.org", 2).await;
    let token = mail[0].manage_token();
    let cancel = app
        .post_json(
            &format!("/api/v1/registrations/{token}/cancel"),
            &serde_json::json!({}),
            false,
        )
        .await;
    assert_eq!(cancel.status(), 200);
    app.sign_up("again", "Ada", "ada@example.org", &[]).await;
    let mail = app.wait_for_mail("ada@example.org", 4).await;
    app.wait_for_outbox_drained().await;
    let mut subjects: Vec<String> = app
        .mail_to("ada@example.org")
        .iter()
        .map(|m| m.subject.split(':').next().unwrap().to_owned())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Cancelled",
            "You're already registered",
            "You're going",
            "You're going"
        ],
        "one note for the two repeats, and a fresh confirmation after cancelling: {mail:#?}"
    );
}

crate::on_both_backends!(
    a_note_within_the_hour_does_not_swallow_a_returning_persons_confirmation,
    names_holding_links_are_refused_alike_on_the_api_and_the_form,
    tag_variants_of_one_mailbox_share_its_mail_budget,
    the_right_password_gets_in_after_others_failed_from_the_same_address,
    a_known_browser_gets_in_while_others_guess_from_its_address,
);

mod sqlite_limits {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn signups_are_limited_per_client() {
        let app = app_with_signup_limit(Backend::Sqlite).await.unwrap();
        let lifecycle = app.lifecycle();
        signups_are_limited_per_client_on_the_api_and_the_form(app).await;
        lifecycle.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_password_guesser_is_slowed_but_other_accounts_are_not() {
        let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
        let (browser, csrf) = login_client(&app).await;
        for _ in 0..10 {
            login(&app, &browser, &csrf, &app.organizer_email, "guess").await;
        }
        // Four guesses at once: they take turns six seconds apart, and those whose turn would
        // come after the longest wait are refused at once.
        let started = Instant::now();
        let guesses = (0..4).map(|_| {
            let (app, browser, csrf) = (&app, &browser, &csrf);
            async move {
                let status = login(app, browser, csrf, &app.organizer_email, "guess").await;
                (status, started.elapsed())
            }
        });
        let answers = join_all(guesses).await;
        let refused = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        let checked: Vec<Duration> = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
            .map(|(_, t)| *t)
            .collect();
        assert_eq!(refused, 2, "{answers:?}");
        assert_eq!(checked.len(), 2, "{answers:?}");
        assert!(
            checked.iter().any(|t| *t >= Duration::from_secs(5)),
            "the second turn came an interval later: {answers:?}"
        );
        // Another account from the same address is not held up by the guesses.
        let started = Instant::now();
        let other = login(&app, &browser, &csrf, "someone-else@example.org", "x").await;
        assert_eq!(other, StatusCode::UNAUTHORIZED);
        assert!(started.elapsed() < Duration::from_secs(2));
        app.lifecycle().shutdown().await;
    }
}

mod postgres_limits {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn signups_are_limited_per_client() {
        let Some(app) = app_with_signup_limit(Backend::Postgres).await else {
            eprintln!("skipped: set CONVENE_TEST_POSTGRES_URL to run the PostgreSQL tests");
            return;
        };
        let lifecycle = app.lifecycle();
        signups_are_limited_per_client_on_the_api_and_the_form(app).await;
        lifecycle.shutdown().await;
    }
}
