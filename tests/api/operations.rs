//! What operators rely on: `/metrics`, the login rate limit and which forwarded headers are
//! believed, and moving a deployment from SQLite to PostgreSQL with export and import.

use std::process::Command;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Backend, Setup, TestApp, create_pg_database, event_json, postgres_admin_url, spawn_app_with,
};

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn metrics_count_requests_signups_and_mail(app: TestApp) {
    app.create_event(&event_json("metered", Some(1))).await;
    for who in ["a", "b"] {
        let r = app
            .sign_up("metered", who, &format!("{who}@example.org"), &[])
            .await;
        assert_eq!(r.status(), 202);
    }
    assert_eq!(app.get("/events/metered").await.status(), 200);
    assert_eq!(app.get("/events/no-such-event").await.status(), 404);
    app.wait_for_outbox_drained().await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    let signups = |outcome: &str| {
        metric(
            &text,
            &format!("convene_signups_total{{outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(signups("going"), Some(1.0), "{text}");
    assert_eq!(signups("waitlisted"), Some(1.0));
    assert_eq!(signups("already_registered"), Some(0.0));
    assert_eq!(
        metric(
            &text,
            r#"convene_http_requests_total{method="POST",route="/api/v1/events/{slug}/registrations",status="202"}"#
        ),
        Some(2.0)
    );
    // Routes, never paths: no slug (nor any token) becomes a label.
    assert!(!text.contains("no-such-event") && !text.contains("route=\"/events/metered\""));
    assert!(text.contains(r#"route="/events/{slug}",status="404""#));
    assert!(
        metric(&text, r#"convene_mail_deliveries_total{result="sent"}"#).unwrap() >= 2.0,
        "{text}"
    );
    assert_eq!(metric(&text, "convene_outbox_pending"), Some(0.0));
    assert_eq!(
        metric(&text, "convene_outbox_oldest_pending_age_seconds"),
        Some(0.0)
    );
    assert_eq!(metric(&text, "convene_outbox_failed"), Some(0.0));
    assert!(metric(&text, "convene_db_pool_max_connections").unwrap() >= 2.0);
    assert!(text.contains("convene_http_request_duration_seconds_bucket"));
}

crate::on_both_backends!(metrics_count_requests_signups_and_mail);

async fn csrf_and_client(app: &TestApp) -> (reqwest::Client, String) {
    let browser = app.browser_client();
    let html = browser
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (browser, crate::pages::csrf_of(&html))
}

async fn try_login(
    app: &TestApp,
    browser: &reqwest::Client,
    csrf: &str,
    forwarded_for: Option<&str>,
) -> (StatusCode, String) {
    let mut request = browser.post(app.url("/login")).form(&[
        ("csrf", csrf),
        ("email", app.organizer_email.as_str()),
        ("password", "not the password"),
    ]);
    if let Some(ip) = forwarded_for {
        request = request.header("X-Forwarded-For", ip);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

mod sqlite_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn logins_are_limited_per_client_and_forwarded_headers_need_a_trusted_proxy() {
        // No trusted proxy: X-Forwarded-For is the client's own claim and changes nothing.
        let app = spawn_app_with(Backend::Sqlite, Setup::default())
            .await
            .unwrap();
        let (browser, csrf) = csrf_and_client(&app).await;
        for i in 0..10 {
            let (status, _) =
                try_login(&app, &browser, &csrf, Some(&format!("198.51.100.{i}"))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
        }
        // Every claimed address counted for the one real client: now its guesses take turns
        // an interval apart, and those beyond the longest wait are refused.
        let claims = ["203.0.113.97", "203.0.113.98", "203.0.113.99"];
        let answers = join_all(
            claims
                .iter()
                .map(|ip| try_login(&app, &browser, &csrf, Some(ip))),
        )
        .await;
        let refused: Vec<&String> = answers
            .iter()
            .filter(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS)
            .map(|(_, body)| body)
            .collect();
        assert_eq!(
            refused.len(),
            1,
            "{:?}",
            answers.iter().map(|a| a.0).collect::<Vec<_>>()
        );
        assert!(
            refused[0].contains("Too many failed logins"),
            "{}",
            refused[0]
        );
        app.lifecycle().shutdown().await;

        // Behind a trusted proxy on loopback, each forwarded client has its own budget.
        let app = spawn_app_with(
            Backend::Sqlite,
            Setup {
                tweak: Some(|s| s.trusted_proxies = "127.0.0.1/32, ::1".into()),
                ..Setup::default()
            },
        )
        .await
        .unwrap();
        let (browser, csrf) = csrf_and_client(&app).await;
        for _ in 0..10 {
            let (status, _) = try_login(&app, &browser, &csrf, Some("198.51.100.1")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        // What a client prepends itself is skipped (the proxy's own entry is last), so the
        // third of these counts as 198.51.100.1 too: one of the three is refused. Another
        // forwarded client goes ahead at once.
        let same = ["198.51.100.1", "198.51.100.1", "203.0.113.5, 198.51.100.1"];
        let started = std::time::Instant::now();
        let (answers, other) = futures::join!(
            join_all(
                same.iter()
                    .map(|ip| try_login(&app, &browser, &csrf, Some(ip)))
            ),
            async {
                let answer = try_login(&app, &browser, &csrf, Some("198.51.100.2")).await;
                (answer.0, started.elapsed())
            }
        );
        let refused = answers
            .iter()
            .filter(|(status, _)| *status == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert_eq!(refused, 1);
        assert_eq!(other.0, StatusCode::UNAUTHORIZED);
        assert!(other.1 < std::time::Duration::from_secs(3), "{:?}", other.1);
        app.lifecycle().shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metrics_can_require_a_token() {
        let app = spawn_app_with(
            Backend::Sqlite,
            Setup {
                tweak: Some(|s| s.metrics_token = Some("scrape-secret-0123456789".into())),
                ..Setup::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(app.get("/metrics").await.status(), 401);
        let wrong = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth("scrape-secret-012345678X")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
        let right = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth("scrape-secret-0123456789")
            .send()
            .await
            .unwrap();
        assert_eq!(right.status(), 200);
        assert!(
            right
                .text()
                .await
                .unwrap()
                .contains("convene_outbox_pending")
        );
        app.lifecycle().shutdown().await;
    }
}

fn convene(args: &[&str], database_url: &str, data_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_convene"))
        .args(args)
        .env("CONVENE_DATABASE_URL", database_url)
        .env("CONVENE_DATA_DIR", data_dir)
        .env("CONVENE_LOG", "warn")
        .output()
        .expect("convene runs")
}

/// SQLite to PostgreSQL, as docs/operations.md describes it: the data, the ids, the links in
/// email already sent and the feeds all carry over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_sqlite_and_import_into_postgresql_keeps_everything_working() {
    let Some(admin) = postgres_admin_url() else {
        eprintln!("skipped: CONVENE_TEST_POSTGRES_URL is not set");
        return;
    };
    let old = spawn_app_with(Backend::Sqlite, Setup::default())
        .await
        .unwrap();
    old.create_event(&event_json("moving", Some(1))).await;
    old.create_project(
        "moving",
        &serde_json::json!({"slug": "docs", "name": "Docs", "location": "Table 2", "leads": [{"name": "Lee", "email": "lee@example.org"}]}),
    )
    .await;
    assert_eq!(
        old.sign_up("moving", "Ann", "ann@example.org", &["docs"])
            .await
            .status(),
        202
    );
    assert_eq!(
        old.sign_up("moving", "Bob", "bob@example.org", &[])
            .await
            .status(),
        202
    );
    let ann_mail = old.wait_for_mail("ann@example.org", 1).await;
    let manage = ann_mail[0].manage_token();
    let before_event: Value = old.event("moving").await;
    let before_regs = old.registrations("moving").await;
    let before_ics = old.get("/events/moving.ics").await.text().await.unwrap();
    let secret = old.state.key.encode();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("convene-export.jsonl");
    let exported = convene(
        &["export", "--output", file.to_str().unwrap()],
        &old.database_url,
        dir.path(),
    );
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert!(String::from_utf8_lossy(&exported.stderr).contains("registrations: 2"));
    old.lifecycle().shutdown().await;

    let (pg_url, name) = tokio::task::spawn_blocking(move || create_pg_database(&admin))
        .await
        .unwrap();
    let imported = convene(&["import", file.to_str().unwrap()], &pg_url, dir.path());
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(String::from_utf8_lossy(&imported.stdout).contains("postgresql"));
    // A second import would mix two deployments: refused, and nothing changes.
    let again = convene(&["import", file.to_str().unwrap()], &pg_url, dir.path());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));
    // Not an export at all.
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "{\"hello\": 1}\n").unwrap();
    let refused = convene(&["import", junk.to_str().unwrap()], &pg_url, dir.path());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a Convene export"));

    let new = spawn_app_with(
        Backend::Postgres,
        Setup {
            existing: Some((pg_url.clone(), secret)),
            ..Setup::default()
        },
    )
    .await
    .unwrap();
    let after_event: Value = new.event("moving").await;
    for field in [
        "title",
        "starts_at",
        "ends_at",
        "going_count",
        "waitlist_count",
        "revision",
    ] {
        assert_eq!(after_event[field], before_event[field], "{field}");
    }
    assert_eq!(new.registrations("moving").await, before_regs);
    let after_ics = new.get("/events/moving.ics").await.text().await.unwrap();
    let pick = |ics: &str, prefix: &str| {
        ics.lines()
            .filter(|l| l.starts_with(prefix))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    for prefix in ["UID:", "SEQUENCE:", "DTSTART", "DTEND"] {
        assert_eq!(
            pick(&after_ics, prefix),
            pick(&before_ics, prefix),
            "{prefix}"
        );
    }
    // The link in the email sent before the move still works.
    let manage_page = new.get(&format!("/manage/{manage}")).await;
    assert_eq!(manage_page.status(), 200);
    assert!(manage_page.text().await.unwrap().contains("Ann"));
    // New rows continue after the copied ids.
    assert_eq!(
        new.sign_up("moving", "Cy", "cy@example.org", &[])
            .await
            .status(),
        202
    );
    assert_eq!(new.registrations("moving").await.len(), 3);
    new.lifecycle().shutdown().await;
    crate::helpers::drop_pg_database(name).await;
}
