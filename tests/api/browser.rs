//! End-to-end tests in a real headless Chromium, driven over WebDriver (chromedriver and
//! fantoccini). Screenshots of the main pages are kept under target/screenshots/.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{Backend, Setup, TestApp, event_json, spawn_app_with};

struct Driver {
    port: u16,
    _process: Child,
}

/// Starts chromedriver on `port` under a small shell that watches this test binary and stops
/// chromedriver once the binary has exited. Statics are never dropped, so without the watcher
/// every run of the tests would leave a chromedriver behind.
const WATCHED_DRIVER: &str = r#"
/usr/bin/chromedriver --port="$2" --silent &
driver=$!
trap 'kill "$driver" 2>/dev/null' EXIT
trap 'kill "$driver" 2>/dev/null; exit 1' INT TERM HUP
while kill -0 "$1" 2>/dev/null && kill -0 "$driver" 2>/dev/null; do sleep 1; done
"#;

#[expect(
    clippy::zombie_processes,
    reason = "the watcher lives as long as the test binary and ends after it, with chromedriver"
)]
/// One chromedriver for the whole test binary, or None where Chromium is not installed (a
/// failure in CI, where `.ci/run` installs it).
fn driver() -> Option<&'static Driver> {
    static DRIVER: OnceLock<Option<Driver>> = OnceLock::new();
    DRIVER
        .get_or_init(|| {
            let installed = std::path::Path::new("/usr/bin/chromium").exists()
                && std::path::Path::new("/usr/bin/chromedriver").exists();
            if !installed {
                assert!(
                    std::env::var("CI").map_or(true, |v| v != "true"),
                    "chromium and chromium-driver must be installed in CI"
                );
                eprintln!(
                    "skipped: Chromium is not installed (apt-get install chromium chromium-driver)"
                );
                return None;
            }
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let process = Command::new("/bin/sh")
                .args(["-c", WATCHED_DRIVER, "watch-chromedriver"])
                .arg(std::process::id().to_string())
                .arg(port.to_string())
                .spawn()
                .expect("chromedriver starts");
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(Driver {
                        port,
                        _process: process,
                    });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            panic!("chromedriver did not start");
        })
        .as_ref()
}

async fn browser(width: u32) -> Option<(Client, tempfile::TempDir)> {
    let driver = driver()?;
    // The test binary links two rustls back-ends (ring, and aws-lc through a test server);
    // WebDriver traffic is plain HTTP, but rustls wants one chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.path().display()),
                     format!("--window-size={width},900")]
        }),
    );
    let client = ClientBuilder::rustls()
        .expect("a WebDriver client")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a browser session");
    Some((client, profile))
}

async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Whether the page fits the window without sideways scrolling.
async fn fits(client: &Client) -> bool {
    let value = client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    value.as_bool().unwrap_or(false)
}

/// Types `text` into the element `at`.
async fn type_in(client: &Client, at: Locator<'_>, text: &str) {
    let field = client.find(at).await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Clicks the element `at`.
async fn click(client: &Client, at: Locator<'_>) {
    client.find(at).await.unwrap().click().await.unwrap();
}

/// Signs the test's organizer in on the login page the browser shows.
async fn sign_in(client: &Client, app: &TestApp) {
    type_in(client, Locator::Id("email"), &app.organizer_email).await;
    type_in(client, Locator::Id("password"), &app.organizer_password).await;
    click(client, Locator::Css("form button[type=submit]")).await;
}

/// Waits until the browser's address contains `part` (a form's redirect has landed).
async fn wait_for_address(client: &Client, part: &str) {
    for _ in 0..100 {
        if client.current_url().await.unwrap().as_str().contains(part) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser never reached an address with {part}");
}

async fn app_for_browser() -> TestApp {
    spawn_app_with(
        Backend::Sqlite,
        Setup {
            own_base_url: true,
            ..Setup::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attendee_signs_up_on_a_phone_and_cancels_from_the_email() {
    let app = app_for_browser().await;
    let lifecycle = app.lifecycle();
    let mut event = event_json("phone-sprint", Some(10));
    event["description"] = "Bring a **laptop**. We start with a short round of introductions, then every table works on its own.".into();
    app.create_event(&event).await;
    app.create_project("phone-sprint", &json!({"slug": "docs", "name": "Documentation", "location": "Table 1", "leads": [{"name": "Lee"}], "repository_url": "https://example.org/docs"})).await;
    app.create_project(
        "phone-sprint",
        &json!({"slug": "core", "name": "Core library", "location": "Table 2", "capacity": 4}),
    )
    .await;
    let Some((client, _profile)) = browser(390).await else {
        return;
    };

    client.goto(&app.url("/")).await.unwrap();
    assert!(fits(&client).await, "the home page fits 390 px");
    let nav_rows = client
        .execute(
            "return new Set(Array.from(document.querySelectorAll('header.site nav a')).map(a => a.getBoundingClientRect().top)).size",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(nav_rows, json!(1), "the site's links share one line");
    screenshot(&client, "home-390").await;
    click(&client, Locator::LinkText("Sprint phone-sprint")).await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/events/phone-sprint")
    );
    assert!(fits(&client).await, "the event page fits 390 px");
    // The script adds the times on the reader's clocks where they differ from the event's.
    let zone = client
        .execute(
            "return Intl.DateTimeFormat().resolvedOptions().timeZone",
            vec![],
        )
        .await
        .unwrap();
    if matches!(zone.as_str(), Some("UTC" | "Etc/UTC")) {
        let mine = client
            .find(Locator::Css(".facts .reader-time"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(mine.ends_with("UTC)"), "{mine}");
    }
    screenshot(&client, "event-390").await;

    type_in(&client, Locator::Id("name"), "Ada Lovelace").await;
    type_in(&client, Locator::Id("email"), "ada@example.org").await;
    click(&client, Locator::Css("input[name=projects][value=docs]")).await;
    click(
        &client,
        Locator::Css("form[action$='/signup#signup'] button[type=submit]"),
    )
    .await;
    wait_for_address(&client, "/thanks").await;
    let heading = client
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(heading, "Check your inbox");
    screenshot(&client, "thanks-390").await;

    let mail = app.wait_for_mail("ada@example.org", 1).await;
    let link = mail[0].manage_link();
    assert!(link.starts_with(&app.address), "{link}");
    client.goto(&link).await.unwrap();
    let page = client.source().await.unwrap();
    assert!(page.contains("You are going.") && page.contains("Documentation"));
    assert!(fits(&client).await);
    screenshot(&client, "manage-390").await;
    // Cancelling asks first: the link shows the question, only "yes" cancels.
    click(&client, Locator::Css("a[href$='/cancel']")).await;
    let question = client.find(Locator::Css("h1")).await.unwrap();
    assert_eq!(question.text().await.unwrap(), "Cancel your registration?");
    let own: serde_json::Value = app
        .get_json(&format!("/api/v1/registrations/{}", mail[0].manage_token()))
        .await;
    assert_eq!(
        own["status"], "going",
        "showing the question changes nothing"
    );
    assert!(fits(&client).await);
    click(&client, Locator::Css("form[action$='/cancel'] button")).await;
    wait_for_address(&client, "done=cancelled").await;
    let status = client
        .find(Locator::Css("p.notice"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status.contains("cancelled"), "{status}");
    let own: serde_json::Value = app
        .get_json(&format!("/api/v1/registrations/{}", mail[0].manage_token()))
        .await;
    assert_eq!(own["status"], "cancelled");
    client.close().await.unwrap();
    lifecycle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizer_creates_an_event_with_a_project_from_a_laptop() {
    let app = app_for_browser().await;
    let lifecycle = app.lifecycle();
    let Some((client, _profile)) = browser(1280).await else {
        return;
    };
    client.goto(&app.url("/admin")).await.unwrap();
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/login")
    );
    screenshot(&client, "login").await;
    sign_in(&client, &app).await;
    wait_for_address(&client, "/admin").await;
    click(&client, Locator::LinkText("New event")).await;
    let fill = |id: &'static str, text: String| {
        let client = client.clone();
        async move {
            let field = client.find(Locator::Id(id)).await.unwrap();
            field.clear().await.unwrap();
            field.send_keys(&text).await.unwrap();
        }
    };
    // Date pickers take their value as a person's picker would set it.
    let pick = |id: &'static str, value: String| {
        let client = client.clone();
        async move {
            client
                .execute(
                    "document.getElementById(arguments[0]).value = arguments[1]",
                    vec![id.into(), value.into()],
                )
                .await
                .unwrap();
        }
    };
    let day = (chrono::Utc::now() + chrono::Duration::days(20)).format("%Y-%m-%d");
    fill("title", "Spring Hack-in".into()).await;
    click(&client, Locator::Css("#kind option[value=hack-in]")).await;
    click(
        &client,
        Locator::Css("#timezone option[value='Europe/Amsterdam']"),
    )
    .await;
    pick("starts_at", format!("{day}T18:00")).await;
    pick("ends_at", format!("{day}T22:00")).await;
    fill("venue", "Library, room 3".into()).await;
    fill("capacity", "25".into()).await;
    fill("description", "Bring your own project.".into()).await;
    screenshot(&client, "admin-new-event").await;
    click(&client, Locator::Css("button[value=draft]")).await;
    wait_for_address(&client, "done=draft").await;
    click(&client, Locator::LinkText("Add a project")).await;
    fill("name", "Retro computers".into()).await;
    fill("location", "Table 5".into()).await;
    fill("leads", "Rita <rita@example.org>".into()).await;
    click(&client, Locator::Css("form.stack button[type=submit]")).await;
    wait_for_address(&client, "done=project").await;
    screenshot(&client, "admin-edit-event").await;
    let draft_home = app.get("/").await.text().await.unwrap();
    assert!(
        !draft_home.contains("Spring Hack-in"),
        "a draft is not on the public home page"
    );
    click(&client, Locator::Css("form[action$='/publish'] button")).await;
    wait_for_address(&client, "done=published").await;
    client.goto(&app.url("/admin")).await.unwrap();
    screenshot(&client, "admin-events").await;

    client.goto(&app.url("/")).await.unwrap();
    let home = client.source().await.unwrap();
    assert!(
        home.contains("Spring Hack-in") && home.contains("25 seats left"),
        "the new event is on the home page"
    );
    click(&client, Locator::LinkText("Spring Hack-in")).await;
    let page = client.source().await.unwrap();
    assert!(
        page.contains("Retro computers")
            && page.contains("Table 5")
            && page.contains("Led by Rita")
            && !page.contains("rita@example.org")
    );
    screenshot(&client, "event-desktop").await;
    client.close().await.unwrap();
    lifecycle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_posts_a_now_line_and_an_open_board_shows_it_live() {
    let app = app_for_browser().await;
    let lifecycle = app.lifecycle();
    app.create_event(&event_json("live-sprint", None)).await;
    app.create_project("live-sprint", &json!({"slug": "docs", "name": "Documentation", "location": "Table 1", "leads": [{"name": "Lee", "email": "lee@example.org"}]})).await;
    app.create_project(
        "live-sprint",
        &json!({"slug": "core", "name": "Core library", "location": "Room 2", "notes_url": "https://pad.example.org/core"}),
    )
    .await;
    let mail = app.wait_for_mail("lee@example.org", 1).await;
    let start = mail[0].body.find("/lead/").expect("a lead link");
    let begin = mail[0].body[..start].rfind("http").unwrap();
    let lead_link = mail[0].body[begin..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let Some((board, _profile_a)) = browser(1280).await else {
        return;
    };
    let Some((lead, _profile_b)) = browser(390).await else {
        return;
    };
    board
        .goto(&app.url("/events/live-sprint/board"))
        .await
        .unwrap();
    // The script is connected once it says so.
    for _ in 0..50 {
        if board
            .find(Locator::Id("live"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            == "live"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A keyboard user sits on a card's link while the board changes.
    board
        .execute(
            "document.querySelector('[data-project=core] a.notes').focus()",
            vec![],
        )
        .await
        .unwrap();
    lead.goto(&lead_link).await.unwrap();
    assert!(fits(&lead).await, "the lead page fits 390 px");
    screenshot(&lead, "lead-390").await;
    lead.find(Locator::Id("now"))
        .await
        .unwrap()
        .send_keys("writing the install guide")
        .await
        .unwrap();
    lead.find(Locator::Css("form[action$='/board'] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_address(&lead, "done=board").await;
    let posted = std::time::Instant::now();
    let mut shown = String::new();
    while posted.elapsed() < Duration::from_secs(2) {
        shown = board
            .find(Locator::Css("[data-project=docs] .now .text"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if shown == "writing the install guide" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        shown, "writing the install guide",
        "the open board shows the line within 2 s, without a reload"
    );
    let focused = board
        .execute("return document.activeElement.className", vec![])
        .await
        .unwrap();
    assert_eq!(focused, json!("notes"), "the focus stays on the link");
    screenshot(&board, "board-desktop").await;
    board
        .goto(&app.url("/events/live-sprint/board?view=signage"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    screenshot(&board, "board-signage").await;
    let _ = board.close().await;
    let _ = lead.close().await;
    lifecycle.shutdown().await;
}

/// axe-core's violations on the page the browser shows, one line per rule ("rule: where"); None
/// where axe-core is not installed (a failure in CI, where `.ci/run` installs it).
async fn axe_violations(client: &Client) -> Option<Vec<String>> {
    let axe = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/a11y/node_modules/axe-core/axe.min.js");
    let Ok(source) = std::fs::read_to_string(&axe) else {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "axe-core must be installed in CI (cd tests/a11y && npm ci)"
        );
        eprintln!("skipped: axe-core is not installed (cd tests/a11y && npm ci)");
        return None;
    };
    client.execute(&source, vec![]).await.unwrap();
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document).then(
               r => done(r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))),
               e => done(['axe-core failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    Some(serde_json::from_value(found).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_core_on_a_phone() {
    let app = app_for_browser().await;
    let lifecycle = app.lifecycle();
    app.create_event(&event_json("axe-sprint", Some(1))).await;
    app.create_project("axe-sprint", &json!({"slug": "docs", "name": "Documentation", "location": "Table 1", "leads": [{"name": "Lee", "email": "lee@example.org"}]})).await;
    app.sign_up("axe-sprint", "Ann", "ann@example.org", &["docs"])
        .await;
    app.sign_up("axe-sprint", "Bob", "bob@example.org", &[])
        .await;
    let ann = app.wait_for_mail("ann@example.org", 1).await[0].manage_token();
    let bob = app.wait_for_mail("bob@example.org", 1).await[0].manage_token();
    let lead_mail = &app.wait_for_mail("lee@example.org", 1).await[0].body;
    let lead = lead_mail[lead_mail.find("/lead/").unwrap()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let Some((client, _profile)) = browser(390).await else {
        return;
    };
    let mut checked = Vec::new();
    let mut check = async |path: &str| {
        client.goto(&app.url(path)).await.unwrap();
        let Some(violations) = axe_violations(&client).await else {
            return false;
        };
        assert!(violations.is_empty(), "{path}: {violations:#?}");
        checked.push(path.to_owned());
        true
    };
    for path in [
        "/".to_owned(),
        "/?period=past".into(),
        "/calendar".into(),
        "/events/axe-sprint".into(),
        "/events/axe-sprint/board".into(),
        "/events/axe-sprint/board?view=signage".into(),
        format!("/manage/{ann}"),
        format!("/manage/{bob}"),
        format!("/manage/{ann}/cancel"),
        lead.clone(),
        "/login".into(),
    ] {
        if !check(&path).await {
            return;
        }
    }
    // A failed signup: the form with its errors.
    client.goto(&app.url("/events/axe-sprint")).await.unwrap();
    type_in(&client, Locator::Id("email"), "not-an-address").await;
    click(
        &client,
        Locator::Css("form[action$='/signup#signup'] button[type=submit]"),
    )
    .await;
    wait_for_address(&client, "/signup").await;
    let violations = axe_violations(&client).await.unwrap();
    assert!(violations.is_empty(), "failed signup: {violations:#?}");
    // The organizer's pages, signed in.
    client.goto(&app.url("/login")).await.unwrap();
    sign_in(&client, &app).await;
    wait_for_address(&client, "/admin").await;
    for path in [
        "/admin",
        "/admin/tokens",
        "/admin/events/new",
        "/admin/events/axe-sprint",
        "/admin/events/axe-sprint/attendees",
        "/admin/events/axe-sprint/cancel",
        "/admin/events/axe-sprint/projects/new",
        "/admin/events/axe-sprint/projects/docs",
        "/admin/events/axe-sprint/projects/docs/delete",
    ] {
        check(path).await;
    }
    assert_eq!(checked.len(), 20, "{checked:?}");
    // Every kind of mail, as its HTML part is rendered (the golden files the mail tests keep
    // in step with the templates), read in the same browser.
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/mail");
    let scratch = tempfile::tempdir().unwrap();
    let mut mails = 0;
    for entry in std::fs::read_dir(&golden).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let html = text.split_once("--- html\n").expect("an HTML part").1;
        let file = scratch
            .path()
            .join(path.file_name().unwrap())
            .with_extension("html");
        std::fs::write(&file, html).unwrap();
        client
            .goto(&format!("file://{}", file.display()))
            .await
            .unwrap();
        let violations = axe_violations(&client).await.unwrap();
        assert!(violations.is_empty(), "{}: {violations:#?}", path.display());
        mails += 1;
    }
    assert!(mails >= 11, "every kind of mail: {mails}");
    client.close().await.unwrap();
    lifecycle.shutdown().await;
}
