//! Whether the time of a signup tells who is registered. The answers are byte-identical; this
//! measures the latency of signups for new addresses against signups for addresses already
//! registered, interleaved, on a real `convene serve` over SQLite and over PostgreSQL.
//!
//! ```sh
//! cargo test --test api faults::timing -- --ignored --nocapture
//! ```
//!
//! The promise: the medians differ by at most 25 % of the smaller median or 0.3 ms, whichever
//! is larger. Before both paths did the same work, the issue measured 68 % on SQLite (2.10
//! against 3.53 ms) and 42 % on PostgreSQL (2.40 against 1.69 ms); this test on the old code
//! here (debug build, shared 2-core machine) gave known-slower by 0.63 ms on SQLite and
//! known-faster by 1.60 ms on PostgreSQL in one run (failing), less in another; after, 0.06
//! and 0.01 ms. A relative bound alone
//! fails on noise when medians are near a millisecond on a busy shared machine; an absolute
//! one alone fails when the machine is loaded and everything is three times slower. Samples
//! alternate new and known (and which of the two goes first), so drift of the machine's load
//! falls on both alike.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{report, rounds};
use crate::helpers::{create_pg_database, drop_pg_database, postgres_admin_url};
use crate::instances::{Instance, organizer_token};

/// Signups made before any measured one: 1,500 per round, 3,000 at full length.
fn background() -> usize {
    1500 * rounds(2)
}

/// Pairs of signups made before measuring.
const WARM_UP: usize = 20;

/// Samples per kind: 100 per round, 200 at full length.
fn samples() -> usize {
    100 * rounds(2)
}

struct Figures {
    p50: f64,
    p90: f64,
}

fn percentiles(mut ms: Vec<f64>) -> Figures {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Figures {
        p50: at(0.5),
        p90: at(0.9),
    }
}

async fn sign_up(client: &reqwest::Client, base: &str, email: &str) -> f64 {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/api/v1/events/timing/registrations"))
        .json(&json!({ "name": "Probe", "email": email }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.bytes().await.unwrap();
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    elapsed
}

/// Measures new against known signups on the database `database_url`; returns the figures.
async fn measure(backend: &str, database_url: String) -> (Figures, Figures) {
    let scratch = tempfile::tempdir().unwrap();
    let env = vec![
        ("CONVENE_DATABASE_URL", database_url),
        ("CONVENE_BASE_URL", "https://convene.example".to_owned()),
        ("CONVENE_LOG", "warn".to_owned()),
    ];
    let token = organizer_token(&env, scratch.path());
    let mut server = Instance::start(&env);
    server.wait_ready();
    let client = reqwest::Client::new();
    let day = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%d");
    let created = client
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(&token)
        .json(&json!({
            "slug": "timing", "kind": "sprint", "title": "Timing", "summary": "s",
            "description": "d", "timezone": "UTC",
            "starts_at": format!("{day}T09:00"), "ends_at": format!("{day}T17:00"),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // An event with a history: the outbox and the registrations hold thousands of rows, so a
    // statement that scans where the other path looks up an index shows.
    let earlier: Vec<String> = (0..background())
        .map(|i| format!("earlier{i}@example.org"))
        .collect();
    for batch in earlier.chunks(16) {
        futures::future::join_all(
            batch
                .iter()
                .map(|email| sign_up(&client, &server.base, email)),
        )
        .await;
    }
    let n = samples();
    // The registered addresses, each probed once later: an attacker's probe finds a person
    // who signed up earlier and has had no "already registered" note yet.
    for i in 0..n + WARM_UP {
        sign_up(&client, &server.base, &format!("known{i}@example.org")).await;
    }
    // Warm-up, not counted: connections, statement caches, the mail worker's first batch.
    for i in 0..WARM_UP {
        sign_up(&client, &server.base, &format!("warm{i}@example.org")).await;
        sign_up(
            &client,
            &server.base,
            &format!("known{}@example.org", n + i),
        )
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut new, mut known) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        assert!(
            Instant::now() < deadline,
            "{backend}: measuring took too long"
        );
        let fresh = format!("new{i}@example.org");
        let registered = format!("known{i}@example.org");
        if i % 2 == 0 {
            new.push(sign_up(&client, &server.base, &fresh).await);
            known.push(sign_up(&client, &server.base, &registered).await);
        } else {
            known.push(sign_up(&client, &server.base, &registered).await);
            new.push(sign_up(&client, &server.base, &fresh).await);
        }
    }
    let list: Vec<Value> = client
        .get(format!(
            "{}/api/v1/events/timing/registrations",
            server.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.len(),
        background() + 2 * n + 2 * WARM_UP,
        "{backend}: one registration per address (data in {})",
        server.data.path().display()
    );
    drop(server);
    (percentiles(new), percentiles(known))
}

fn judge(backend: &str, new: &Figures, known: &Figures) {
    let difference = (new.p50 - known.p50).abs();
    let bound = (0.25 * new.p50.min(known.p50)).max(0.3);
    report(
        &format!("timing-{backend}"),
        &[
            ("samples", samples().to_string()),
            ("earlier_signups", background().to_string()),
            ("new_p50_ms", format!("{:.2}", new.p50)),
            ("new_p90_ms", format!("{:.2}", new.p90)),
            ("known_p50_ms", format!("{:.2}", known.p50)),
            ("known_p90_ms", format!("{:.2}", known.p90)),
            ("p50_difference_ms", format!("{difference:.2}")),
            ("bound_ms", format!("{bound:.2}")),
        ],
    );
    assert!(
        difference <= bound,
        "{backend}: new p50 {:.2} ms, known p50 {:.2} ms: {difference:.2} ms apart, more than {bound:.2}",
        new.p50,
        known.p50
    );
}

#[ignore = "fault suite: run with --ignored"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signup_takes_as_long_for_a_known_address_as_for_a_new_one() {
    let folder = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", folder.path().join("convene.db").display());
    let (new, known) = measure("sqlite", sqlite).await;
    judge("sqlite", &new, &known);

    let Some(admin) = postgres_admin_url() else {
        eprintln!("PostgreSQL skipped: CONVENE_TEST_POSTGRES_URL is not set");
        return;
    };
    let (url, name) = tokio::task::spawn_blocking(move || create_pg_database(&admin))
        .await
        .unwrap();
    let (new, known) = measure("postgres", url).await;
    drop_pg_database(name).await;
    judge("postgres", &new, &known);
}
