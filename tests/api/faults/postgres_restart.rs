//! PostgreSQL restarted under signup load (`pg_ctl restart`, fast and immediate in turn), on a
//! server of the test's own: never the machine's shared one. Promised: while the database is
//! away a signup may be answered 503 and nothing else goes wrong; every acknowledged signup is
//! stored once and gets its confirmation once; the instance serves again by itself.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene::db::Db;
use convene::db::schema::registrations;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::{report, rounds};
use crate::helpers::event_json;
use crate::instances::{Instance, PgCluster, SignupLoad, organizer_token, outbox_rows, secret_key};
use crate::smtp::SmtpSink;

const SLUG: &str = "restarts";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: cargo test --test api faults:: -- --ignored --nocapture"]
async fn postgres_restarts_lose_no_acknowledged_signup() {
    let restarts = rounds(3);
    let Some(cluster) = tokio::task::spawn_blocking(PgCluster::start).await.unwrap() else {
        return;
    };
    let cluster = Arc::new(cluster);
    let admin_url = cluster.url("postgres");
    tokio::task::spawn_blocking(move || {
        diesel::PgConnection::establish(&admin_url)
            .unwrap()
            .batch_execute("CREATE DATABASE convene")
            .unwrap();
    })
    .await
    .unwrap();
    let database_url = cluster.url("convene");

    let smtp = SmtpSink::start();
    let env = vec![
        ("CONVENE_DATABASE_URL", database_url.clone()),
        ("CONVENE_SECRET_KEY", secret_key()),
        ("CONVENE_BASE_URL", "https://convene.example".to_owned()),
        ("CONVENE_SMTP_URL", smtp.url()),
        ("CONVENE_WORKER_POLL_MS", "100".to_owned()),
        // Were a delivery's record lost to the restart, the message would go out again once
        // its lease ran out: short, so that such a duplicate would show here.
        ("CONVENE_OUTBOX_LEASE_SECS", "10".to_owned()),
        ("CONVENE_SMTP_TIMEOUT_SECS", "2".to_owned()),
    ];
    let scratch = tempfile::tempdir().unwrap();
    let token = organizer_token(&env, scratch.path());
    let mut server = Instance::start(&env);
    server.wait_ready();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(&token)
        .json(&event_json(SLUG, None))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let began = Instant::now();
    let load = SignupLoad::start(&server.base, SLUG, 4, Duration::from_millis(20), |i| {
        format!("p{i}@example.org")
    });
    let mut modes = Vec::new();
    let mut restart_ms = Vec::new();
    let mut recovery_ms = Vec::new();
    for round in 0..restarts {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mode = if round % 2 == 0 { "fast" } else { "immediate" };
        let restarting = Instant::now();
        let pg = cluster.clone();
        tokio::task::spawn_blocking(move || pg.restart(mode))
            .await
            .unwrap();
        let restarted = Instant::now();
        // Serving again: a signup sent after the restart is acknowledged.
        let deadline = restarted + Duration::from_secs(30);
        let recovered = loop {
            if let Some(first) = load
                .answers()
                .iter()
                .filter(|a| a.status == Ok(202) && a.at > restarted)
                .map(|a| a.at)
                .min()
            {
                break first;
            }
            assert!(
                Instant::now() < deadline,
                "no signup acknowledged within 30 s of restart {round}: {}",
                server
                    .logs()
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        modes.push(mode);
        restart_ms.push((restarted - restarting).as_millis());
        recovery_ms.push((recovered - restarted).as_millis());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let answers = load.stop().await;

    let db = Db::connect(&database_url, 2).unwrap();
    let stored: Vec<String> = db
        .read_blocking(|conn| {
            Ok(registrations::table
                .select(registrations::email)
                .load(conn)?)
        })
        .unwrap();
    let mut per_email: HashMap<&str, usize> = HashMap::new();
    for email in &stored {
        *per_email.entry(email.as_str()).or_default() += 1;
    }
    let acknowledged: HashSet<&str> = answers
        .iter()
        .filter(|a| a.status == Ok(202))
        .map(|a| a.email.as_str())
        .collect();
    let lost: Vec<&&str> = acknowledged
        .iter()
        .filter(|e| !per_email.contains_key(**e))
        .collect();
    let duplicate_registrations: usize = per_email.values().map(|n| n - 1).sum();
    let stored_unacknowledged = per_email
        .keys()
        .filter(|e| !acknowledged.contains(**e))
        .count();
    let count =
        |f: &dyn Fn(&Result<u16, String>) -> bool| answers.iter().filter(|a| f(&a.status)).count();
    let unavailable = count(&|s| *s == Ok(503));
    let other_5xx: Vec<_> = answers
        .iter()
        .filter(|a| matches!(a.status, Ok(s) if s >= 500 && s != 503))
        .collect();
    let other_answers: Vec<_> = answers
        .iter()
        .filter(|a| !matches!(a.status, Ok(202) | Ok(503)))
        .collect();

    // Every stored registration's confirmation goes out (a cut connection is retried).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = outbox_rows(&db);
        let sent = rows.iter().filter(|r| r.state() == "sent").count();
        if rows.iter().all(|r| r.state() != "pending") && smtp.messages().len() >= sent {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mail not settled 60 s after the load: {} pending",
            rows.iter().filter(|r| r.state() == "pending").count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Long enough for a second copy of a message to arrive, were one on its way.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mail = smtp.mail();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    let mut mailed: HashSet<&str> = HashSet::new();
    for m in &mail {
        *per_id.entry(m.message_id.as_str()).or_default() += 1;
        mailed.insert(m.to.as_str());
    }
    let duplicate_mail: usize = per_id.values().map(|n| n - 1).sum();
    let unconfirmed = acknowledged
        .iter()
        .filter(|e| !mailed.contains(**e))
        .count();
    let failed = outbox_rows(&db)
        .iter()
        .filter(|r| r.state() != "sent")
        .count();
    let alive = server.child.try_wait().unwrap().is_none();
    let unrecorded = server
        .logs()
        .matches("could not record delivered messages")
        .count();

    let list = |v: &[u128]| v.iter().map(u128::to_string).collect::<Vec<_>>().join(",");
    report(
        "postgres_restart",
        &[
            ("restarts", restarts.to_string()),
            ("modes", modes.join(",")),
            ("signups", answers.len().to_string()),
            ("acknowledged", acknowledged.len().to_string()),
            ("answers_503", unavailable.to_string()),
            ("answers_5xx_other", other_5xx.len().to_string()),
            (
                "other_answers",
                (other_answers.len() - other_5xx.len()).to_string(),
            ),
            ("lost", lost.len().to_string()),
            ("stored_unacknowledged", stored_unacknowledged.to_string()),
            (
                "duplicate_registrations",
                duplicate_registrations.to_string(),
            ),
            ("unconfirmed", unconfirmed.to_string()),
            ("mail_not_sent", failed.to_string()),
            ("duplicate_mail", duplicate_mail.to_string()),
            ("records_retried", unrecorded.to_string()),
            ("restart_ms", list(&restart_ms)),
            ("recovery_ms", list(&recovery_ms)),
            ("total_s", began.elapsed().as_secs().to_string()),
        ],
    );

    assert!(alive, "the instance survived: {}", server.logs());
    assert!(lost.is_empty(), "acknowledged signups lost: {lost:?}");
    assert!(
        other_5xx.is_empty(),
        "5xx other than 503: {:?}\nwhat the server said of them:\n{}",
        &other_5xx[..other_5xx.len().min(5)],
        server
            .logs()
            .lines()
            .filter(|l| l.contains("request failed"))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        other_answers.is_empty(),
        "answers other than 202 and 503: {:?}",
        &other_answers[..other_answers.len().min(5)]
    );
    assert_eq!(duplicate_registrations, 0);
    assert_eq!(unconfirmed, 0, "every acknowledged signup is confirmed");
    assert_eq!(failed, 0, "every message is sent");
    // A record that meets the restart is made again on a new connection (counted as
    // `records_retried`): nothing goes out twice.
    assert_eq!(
        duplicate_mail, 0,
        "messages delivered twice ({unrecorded} records had to be retried)"
    );
    drop(server);
    drop(db);
}
