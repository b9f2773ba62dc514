//! Several `convene serve` processes on one PostgreSQL database, as behind a load balancer:
//! one is killed with SIGKILL while it holds claimed mail, and still every confirmation and
//! every reminder arrives exactly once (what the dead process had claimed goes out from the
//! other once its lease has run out). Also the operations side of one process: `/metrics`,
//! `convene healthcheck`, JSON logs with masked addresses, SIGTERM.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use convene::db::Db;
use convene::db::outbox::OutboxRow;
use serde_json::{Value, json};

use crate::helpers::{create_pg_database, postgres_admin_url};
use crate::instances::{Instance, convene, organizer_token, outbox_rows, terminate};
use crate::smtp::{Behaviour, SmtpSink};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_loses_no_mail_and_doubles_none() {
    let Some(admin) = postgres_admin_url() else {
        eprintln!("skipped: CONVENE_TEST_POSTGRES_URL is not set");
        return;
    };
    let (database_url, name) = tokio::task::spawn_blocking(move || create_pg_database(&admin))
        .await
        .unwrap();
    let smtp = SmtpSink::start();
    // The first instance's SMTP sessions stall before MAIL FROM is answered: what it claims,
    // it holds, and it has sent nothing of it when it dies.
    smtp.set(Behaviour::HangFor("instance-a", Duration::from_secs(120)));
    let secret = String::from_utf8(convene().arg("secret").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    let shared = |helo: &str| {
        vec![
            ("CONVENE_DATABASE_URL", database_url.clone()),
            ("CONVENE_SECRET_KEY", secret.clone()),
            ("CONVENE_BASE_URL", "https://convene.example".to_owned()),
            ("CONVENE_SMTP_URL", format!("{}/{helo}", smtp.url())),
            // A lease shorter than the default, so that the test is short.
            ("CONVENE_OUTBOX_LEASE_SECS", "12".to_owned()),
            ("CONVENE_WORKER_POLL_MS", "100".to_owned()),
            ("CONVENE_SMTP_TIMEOUT_SECS", "3".to_owned()),
        ]
    };
    let scratch = tempfile::tempdir().unwrap();
    let token = organizer_token(&shared("x"), scratch.path());
    let mut a = Instance::start(&shared("instance-a"));
    let mut b = Instance::start(&shared("instance-b"));
    a.wait_ready();
    b.wait_ready();

    let client = reqwest::Client::new();
    // Starts in 75 seconds, with a reminder one minute before: due while the test runs, and
    // after every signup (a reminder whose moment passed before the signup is not sent).
    let start = chrono::Utc::now() + chrono::Duration::seconds(75);
    let event: Value = client
        .post(format!("{}/api/v1/events", a.base))
        .bearer_auth(&token)
        .json(&json!({
            "slug": "crash-sprint",
            "kind": "sprint",
            "title": "Crash sprint",
            "summary": "s",
            "description": "d",
            "timezone": "UTC",
            "starts_at": start.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "ends_at": (start + chrono::Duration::hours(3)).format("%Y-%m-%dT%H:%M:%S").to_string(),
            "reminder_offsets": "1m",
            "venue": "Hall",
            "address": "Street 1",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(event["slug"], "crash-sprint", "{event}");

    const PEOPLE: usize = 24;
    let signups = (0..PEOPLE).map(|i| {
        let (client, base) = (client.clone(), if i % 2 == 0 { &a.base } else { &b.base });
        let url = format!("{base}/api/v1/events/crash-sprint/registrations");
        async move {
            client
                .post(url)
                .json(&json!({ "name": format!("P{i}"), "email": format!("p{i}@example.org") }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(signups).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");

    // Wait until every confirmation is either delivered or held by the stalled instance.
    let db = Db::connect(&database_url, 2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut previous: Vec<i64> = Vec::new();
    let held: Vec<OutboxRow> = loop {
        let rows = outbox_rows(&db);
        let now = chrono::Utc::now().naive_utc();
        let unsent: Vec<&OutboxRow> = rows.iter().filter(|r| r.sent_at.is_none()).collect();
        let all_held = unsent.iter().all(|r| {
            r.claimed_until.is_some_and(|t| t > now) && r.claimed_by == unsent[0].claimed_by
        });
        let ids: Vec<i64> = unsent.iter().map(|r| r.id).collect();
        // The same messages held by one worker on two looks 300 ms apart: the stalled one.
        if rows.len() == PEOPLE && !unsent.is_empty() && all_held && ids == previous {
            break unsent.into_iter().cloned().collect();
        }
        previous = if all_held { ids } else { Vec::new() };
        assert!(
            Instant::now() < deadline,
            "the instances did not settle: {} rows, {} unsent, {} delivered",
            rows.len(),
            unsent.len(),
            smtp.messages().len(),
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let killed_worker = held[0].claimed_by.clone().unwrap();
    assert!(
        held.iter()
            .all(|r| r.claimed_by.as_deref() == Some(&killed_worker)),
        "only the stalled instance holds mail"
    );

    // SIGKILL: no chance to give anything back.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    smtp.set(Behaviour::Accept);

    // Every person: one confirmation and one reminder, no more.
    let deadline = Instant::now() + Duration::from_secs(90);
    while smtp.messages().len() < 2 * PEOPLE && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for a duplicate to show up, were there one.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mail = smtp.mail();
    let mut per_person: HashMap<String, Vec<String>> = HashMap::new();
    for m in &mail {
        per_person
            .entry(m.to.clone())
            .or_default()
            .push(m.subject.clone());
    }
    for i in 0..PEOPLE {
        let mut subjects = per_person
            .remove(&format!("p{i}@example.org"))
            .unwrap_or_default();
        subjects.sort();
        assert!(
            subjects.len() == 2
                && subjects[0].starts_with("Reminder: Crash sprint starts in")
                && subjects[1] == "You're going: Crash sprint",
            "p{i}: {subjects:?}"
        );
    }
    assert!(per_person.is_empty(), "mail to strangers: {per_person:?}");

    // What the killed process held went out from the other, after the lease ran out.
    let rows = outbox_rows(&db);
    for was_held in &held {
        let row = rows.iter().find(|r| r.id == was_held.id).unwrap();
        let sent = row.sent_at.expect("delivered");
        assert!(
            sent >= was_held.claimed_until.unwrap(),
            "message {} was sent at {sent} before its lease ended",
            row.id
        );
        assert_ne!(row.claimed_by.as_deref(), Some(killed_worker.as_str()));
    }
    assert!(rows.iter().all(|r| r.sent_at.is_some()));
    assert!(
        !b.logs().contains("p1@example.org"),
        "addresses are masked in the logs"
    );

    drop(b);
    drop(db);
    crate::helpers::drop_pg_database(name).await;
}

/// SIGTERM: the server stops accepting, exits cleanly, and gives back the mail it had claimed
/// (even messages stuck at a stalled SMTP server), so nothing waits for a lease to run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_and_gives_back_claimed_mail() {
    let smtp = SmtpSink::start();
    let data = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", data.path().join("convene.db").display());
    let env = vec![
        ("CONVENE_DATABASE_URL", database_url.clone()),
        ("CONVENE_SMTP_URL", format!("{}/stalled", smtp.url())),
        ("CONVENE_SMTP_TIMEOUT_SECS", "30".to_owned()),
        ("CONVENE_WORKER_POLL_MS", "100".to_owned()),
        ("CONVENE_LOG_FORMAT", "json".to_owned()),
        ("CONVENE_LOG", "info,convene=debug".to_owned()),
    ];
    let token = organizer_token(&env, data.path());
    let mut server = Instance::start(&env);
    server.wait_ready();
    let client = reqwest::Client::new();
    let mut event = crate::helpers::event_json("graceful", None);
    event["timezone"] = "UTC".into();
    let created = client
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(&token)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // One message goes through (and is logged), then the SMTP server stalls.
    let first = client
        .post(format!(
            "{}/api/v1/events/graceful/registrations",
            server.base
        ))
        .json(&json!({ "name": "First", "email": "first.person@example.org" }))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(10);
    while smtp.messages().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the first message did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    smtp.set(Behaviour::HangFor("stalled", Duration::from_secs(120)));
    for i in 0..12 {
        let r = client
            .post(format!(
                "{}/api/v1/events/graceful/registrations",
                server.base
            ))
            .json(&json!({ "name": format!("P{i}"), "email": format!("p{i}@example.org") }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let db = Db::connect(&database_url, 2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while outbox_rows(&db)
        .iter()
        .all(|r| r.sent_at.is_some() || r.claimed_until.is_none())
    {
        assert!(Instant::now() < deadline, "the worker claimed nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let status = terminate(&mut server.child).await;
    assert!(status.success(), "exit status {status}");
    // Nothing more was sent, nothing is still reserved, nothing counted as a failed attempt.
    assert_eq!(smtp.messages().len(), 1);
    let rows = outbox_rows(&db);
    assert_eq!(rows.len(), 13);
    for row in rows
        .iter()
        .filter(|r| r.recipient != "first.person@example.org")
    {
        assert!(
            row.sent_at.is_none() && row.claimed_until.is_none(),
            "{row:?}"
        );
        assert_eq!(row.attempts, 0, "{row:?}");
    }
    // It no longer accepts connections.
    assert!(
        client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_err()
    );
    // JSON logs, one object per line, with addresses masked.
    let logs = server.logs();
    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("each log line is JSON"))
        .collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("gave back claimed messages"))),
        "{logs}"
    );
    assert!(
        logs.contains("f***@example.org") && !logs.contains("first.person@"),
        "the delivered message is logged with its address masked: {logs}"
    );
}
