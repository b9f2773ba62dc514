//! Hostile and careless clients: methods that are not methods, bodies that never arrive, one
//! address holding many requests, and the headers that keep private pages out of caches.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, Setup, TestApp, spawn_app_with};

/// `host:port` of an `http://host:port` base.
pub fn authority(base: &str) -> &str {
    base.trim_start_matches("http://")
}

/// Sends `request` as it is and reads the answer until the server closes the connection or
/// `within` has passed. Returns the answer and whether the server closed the connection.
pub async fn exchange(base: &str, request: &[u8], within: Duration) -> (String, bool) {
    let mut stream = TcpStream::connect(authority(base)).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_answer(&mut stream, within).await
}

/// Reads what the server sends until it closes the connection or `within` has passed.
pub async fn read_answer(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let deadline = tokio::time::Instant::now() + within;
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&answer).into(), true),
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&answer).into(), false),
        }
    }
}

/// A signup whose headers promise 100 bytes of body, of which 4 are sent.
pub fn stalled_signup(host: &str) -> Vec<u8> {
    format!(
        "POST /api/v1/events/sprint/registrations HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"na"
    )
    .into_bytes()
}

async fn app_with(tweak: fn(&mut convene::config::Settings)) -> TestApp {
    spawn_app_with(
        Backend::Sqlite,
        Setup {
            tweak: Some(tweak),
            ..Setup::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_do_not_become_metric_labels() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    let long = "Q".repeat(20_000);
    for method in ["BREWCOFFEE", long.as_str(), "PROPFIND"] {
        let request =
            format!("{method} /events/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let (answer, _) = exchange(&app.address, request.as_bytes(), Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 "), "{method:.20}: {answer}");
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        !text.contains("BREWCOFFEE") && !text.contains("QQQQ") && !text.contains("PROPFIND"),
        "a client-chosen method became a label"
    );
    assert!(
        text.contains(r#"convene_http_requests_total{method="other",route="/events/{slug}""#),
        "{text}"
    );
    assert!(text.len() < 64 * 1024, "the scrape is {} bytes", text.len());
    app.lifecycle().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_gets_408_and_the_connection_is_closed() {
    let app = app_with(|s| s.body_timeout_secs = 1).await;
    let host = authority(&app.address).to_owned();
    let form = format!(
        "POST /events/sprint/signup HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nname="
    );
    for (what, request) in [("API", stalled_signup(&host)), ("form", form.into_bytes())] {
        let started = Instant::now();
        let (answer, closed) = exchange(&app.address, &request, Duration::from_secs(15)).await;
        let took = started.elapsed();
        assert!(answer.starts_with("HTTP/1.1 408"), "{what}: {answer}");
        assert!(
            answer.contains("urn:convene:problem:request-timeout"),
            "{what}: {answer}"
        );
        assert!(closed, "{what}: the connection stayed open");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(10),
            "{what}: answered after {took:?}"
        );
    }
    // A body that arrives in time is read as usual.
    let answer = app
        .client
        .post(app.url("/api/v1/events/sprint/registrations"))
        .json(&serde_json::json!({"name": "A", "email": "a@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    app.lifecycle().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_may_hold_only_its_share_of_requests() {
    let app = app_with(|s| {
        s.max_requests_per_client = 2;
        s.body_timeout_secs = 60;
    })
    .await;
    let host = authority(&app.address).to_owned();
    let stalled = || async {
        let mut stream = TcpStream::connect(&host).await.unwrap();
        stream.write_all(&stalled_signup(&host)).await.unwrap();
        stream
    };
    let mut held = vec![stalled().await, stalled().await];
    // The two stalled requests are admitted once their headers are read. One whose headers
    // are read while a probe below is under way is itself refused (the address then has two
    // requests under way): it is sent again until both are held.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let answer = app.get("/api/v1/events").await;
        if answer.status() == 429 || Instant::now() > deadline {
            break answer;
        }
        for stream in held.iter_mut() {
            let mut first = [0u8; 1];
            let peeked = tokio::time::timeout(Duration::from_millis(1), stream.peek(&mut first));
            if matches!(peeked.await, Ok(Ok(n)) if n > 0) {
                *stream = stalled().await;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["type"], "urn:convene:problem:too-many-requests");
    // Health probes from the same address still get through.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.get("/api/v1/events").await.status();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after the client left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.lifecycle().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_pages_are_not_cached_and_https_is_strict() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    for path in [
        "/admin",
        "/admin/events/new",
        "/login",
        "/manage/not-a-token",
        "/lead/not-a-token",
        "/unsubscribe/not-a-token",
        "/api/v1/registrations/not-a-token",
    ] {
        let answer = app.get(path).await;
        assert_eq!(
            answer
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path} ({})",
            answer.status()
        );
    }
    let list = app.get_authed("/api/v1/events").await;
    assert_eq!(list.headers()["cache-control"], "no-store");
    let public = app.get("/").await;
    assert_ne!(
        public
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    // The tests' base URL is https://convene.example.
    assert_eq!(
        public.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    app.lifecycle().shutdown().await;

    let plain = spawn_app_with(
        Backend::Sqlite,
        Setup {
            own_base_url: true,
            ..Setup::default()
        },
    )
    .await
    .unwrap();
    let answer = plain.get("/").await;
    assert!(answer.headers().get("strict-transport-security").is_none());
    plain.lifecycle().shutdown().await;
}
