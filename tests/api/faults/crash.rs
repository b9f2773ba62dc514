//! Crashes: SIGKILL of a SQLite instance under signup load, and of one of two PostgreSQL
//! instances while it delivers reminders. What is promised: no acknowledged signup is lost,
//! no event is overbooked, every person going gets their reminder before the start while any
//! instance lives, and a kill makes at most a few messages go out twice (those the SMTP server
//! had accepted in the instant before the kill, not yet recorded).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use convene::db::Db;
use convene::db::outbox::OutboxRow;
use diesel::prelude::*;
use serde_json::{Value, json};

use super::{report, rounds};
use crate::helpers::{create_pg_database, drop_pg_database, postgres_admin_url};
use crate::instances::{Instance, convene, organizer_token, outbox_rows};
use crate::smtp::SmtpSink;

fn secret() -> String {
    String::from_utf8(convene().arg("secret").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned()
}

/// Creates an event through the API and returns its slug.
async fn create_event(base: &str, token: &str, slug: &str, body: Value) {
    let mut event = json!({
        "slug": slug, "kind": "sprint", "title": "Crash sprint", "summary": "s",
        "description": "d", "timezone": "UTC", "venue": "Hall", "address": "Street 1",
    });
    for (k, v) in body.as_object().unwrap() {
        event[k] = v.clone();
    }
    let created = reqwest::Client::new()
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(token)
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
}

/// Message-IDs delivered more than once, counted once per extra copy.
fn duplicates(smtp: &SmtpSink) -> usize {
    duplicated_firsts(smtp).len()
}

/// For each extra copy of a message, where in the order of arrival its first copy came.
fn duplicated_firsts(smtp: &SmtpSink) -> Vec<usize> {
    let mut first: HashMap<String, usize> = HashMap::new();
    let mut extra = Vec::new();
    for (i, m) in smtp.mail().into_iter().enumerate() {
        match first.get(&m.message_id) {
            Some(at) => extra.push(*at),
            None => {
                first.insert(m.message_id, i);
            }
        }
    }
    extra
}

/// Waits until the outbox holds at least `reminders` reminders and has nothing left to send
/// (or `limit` passes).
async fn wait_until_drained(db: &Db, reminders: usize, limit: Duration) -> Vec<OutboxRow> {
    let deadline = Instant::now() + limit;
    loop {
        let db = db.clone();
        let rows = tokio::task::spawn_blocking(move || outbox_rows(&db))
            .await
            .unwrap();
        let scheduled = rows.iter().filter(|r| r.kind == "reminder").count();
        if (scheduled >= reminders && rows.iter().all(|r| r.state() != "pending"))
            || Instant::now() > deadline
        {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The mean and the largest time from the SMTP server's acceptance to the record of it, from
/// an instance's `/metrics` (seconds): the window in which a kill causes a duplicate.
async fn record_lag(base: &str) -> Option<(f64, f64)> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    let (sum, count) = (
        value("convene_mail_record_seconds_sum")?,
        value("convene_mail_record_seconds_count")?,
    );
    // The smallest bucket holding every observation bounds the largest.
    let largest = text
        .lines()
        .filter(|l| l.starts_with("convene_mail_record_seconds_bucket"))
        .find_map(|l| {
            let le: f64 = l.split("le=\"").nth(1)?.split('"').next()?.parse().ok()?;
            let n: f64 = l.rsplit(' ').next()?.parse().ok()?;
            (n >= count).then_some(le)
        })
        .unwrap_or(f64::INFINITY);
    (count > 0.0).then(|| (sum / count, largest))
}

/// SIGKILL of a SQLite instance, again and again, while 16 clients sign people up: every
/// signup that was answered 202 is stored, the capacity holds, and each kill duplicates a
/// few messages: those accepted in the instant before the kill, never more than the SMTP
/// connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: cargo test --test api faults:: -- --ignored"]
async fn sqlite_instance_killed_under_signup_load() {
    const CAPACITY: i64 = 40;
    const CLIENTS: usize = 16;
    const CONNECTIONS: usize = 8;
    let kills = rounds(20);
    let smtp = SmtpSink::start();
    let data = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", data.path().join("convene.db").display());
    let env = vec![
        ("CONVENE_DATABASE_URL", database_url.clone()),
        ("CONVENE_SECRET_KEY", secret()),
        ("CONVENE_SMTP_URL", smtp.url()),
        ("CONVENE_SMTP_CONNECTIONS", CONNECTIONS.to_string()),
        ("CONVENE_WORKER_POLL_MS", "100".to_owned()),
        ("CONVENE_OUTBOX_LEASE_SECS", "4".to_owned()),
        ("CONVENE_LOG", "warn".to_owned()),
    ];
    let token = organizer_token(&env, data.path());
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let mut lags = Vec::new();
    // How many messages had arrived at each kill: a message sent again after a kill first
    // arrived before it.
    let mut kill_marks = Vec::new();
    for round in 0..kills {
        let mut instance = Instance::start(&env);
        instance.wait_ready();
        if round == 0 {
            let start = chrono::Utc::now() + chrono::Duration::days(30);
            create_event(
                &instance.base,
                &token,
                "crash",
                json!({
                    "capacity": CAPACITY,
                    "starts_at": start.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "ends_at": (start + chrono::Duration::hours(3)).format("%Y-%m-%dT%H:%M:%S").to_string(),
                }),
            )
            .await;
        }
        let alive = Arc::new(AtomicBool::new(true));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let load: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (client, alive, next, acknowledged) = (
                    client.clone(),
                    alive.clone(),
                    next.clone(),
                    acknowledged.clone(),
                );
                let url = format!("{}/api/v1/events/crash/registrations", instance.base);
                tokio::spawn(async move {
                    while alive.load(Ordering::Relaxed) {
                        let email =
                            format!("p{}@example.org", next.fetch_add(1, Ordering::Relaxed));
                        let body = json!({ "name": "Crash Tester", "email": email });
                        match client.post(&url).json(&body).send().await {
                            Ok(r) if r.status() == 202 => acknowledged.lock().unwrap().push(email),
                            Ok(r) => assert!(
                                r.status().as_u16() < 500 || r.status() == 503,
                                "a signup answered {}",
                                r.status()
                            ),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        // A crash comes at no particular moment: once mail is flowing, the kill falls at a
        // different point of the load each round (20 to 480 ms later).
        let delivered_before = smtp.messages().len();
        let deadline = Instant::now() + Duration::from_secs(20);
        while smtp.messages().len() < delivered_before + 5 {
            assert!(Instant::now() < deadline, "no mail is being delivered");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(20 + (round as u64 * 97) % 460)).await;
        if let Some(lag) = record_lag(&instance.base).await {
            lags.push(lag);
        }
        instance.child.kill().unwrap();
        kill_marks.push(smtp.messages().len());
        instance.child.wait().unwrap();
        alive.store(false, Ordering::Relaxed);
        for task in load {
            task.await.unwrap();
        }
    }

    // A last instance delivers what is left.
    let mut instance = Instance::start(&env);
    instance.wait_ready();
    let db = Db::connect(&database_url, 2).unwrap();
    let rows = wait_until_drained(&db, 0, Duration::from_secs(60)).await;
    let registrations: Vec<(String, String)> = {
        use convene::db::schema::registrations::dsl::*;
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            db.read_blocking(|c| Ok(registrations.select((email, status)).load(c)?))
                .unwrap()
        })
        .await
        .unwrap()
    };
    let stored: HashMap<&str, &str> = registrations
        .iter()
        .map(|(e, s)| (e.as_str(), s.as_str()))
        .collect();
    let acknowledged = acknowledged.lock().unwrap().clone();
    let lost = acknowledged
        .iter()
        .filter(|e| !stored.contains_key(e.as_str()))
        .count();
    let going = stored.values().filter(|s| **s == "going").count() as i64;
    let firsts = duplicated_firsts(&smtp);
    let dupes = firsts.len();
    let mut per_kill = vec![0; kills];
    for first in firsts {
        let kill = kill_marks.iter().position(|mark| first < *mark);
        per_kill[kill.unwrap_or(kills - 1)] += 1;
    }
    let most_in_one_kill = per_kill.iter().copied().max().unwrap_or(0);
    if dupes > 0 {
        let twice: HashSet<String> = {
            let mut seen = HashSet::new();
            smtp.mail()
                .into_iter()
                .filter(|m| !seen.insert(m.message_id.clone()))
                .map(|m| m.message_id)
                .collect()
        };
        for row in rows
            .iter()
            .filter(|r| twice.iter().any(|t| t.contains(&r.message_id)))
        {
            eprintln!(
                "sent twice: message {} attempts={} by={:?} last_error={:?}",
                row.id, row.attempts, row.claimed_by, row.last_error
            );
        }
        eprintln!("kill marks {kill_marks:?}, per kill {per_kill:?}");
    }
    let unsent = rows.iter().filter(|r| r.state() != "sent").count();
    let (mean_lag, worst_lag) = lags.iter().fold((0.0, 0.0_f64), |(sum, worst), (mean, w)| {
        (sum + mean / lags.len() as f64, worst.max(*w))
    });
    report(
        "sqlite_kill",
        &[
            ("kills", kills.to_string()),
            ("acknowledged", acknowledged.len().to_string()),
            ("lost", lost.to_string()),
            ("going", going.to_string()),
            ("capacity", CAPACITY.to_string()),
            ("mails", smtp.messages().len().to_string()),
            ("duplicates", dupes.to_string()),
            (
                "duplicates_per_kill",
                format!("{:.2}", dupes as f64 / kills as f64),
            ),
            ("most_duplicates_in_one_kill", most_in_one_kill.to_string()),
            ("record_lag_mean_ms", format!("{:.2}", mean_lag * 1000.0)),
            (
                "record_lag_max_bucket_ms",
                format!("{}", worst_lag * 1000.0),
            ),
            ("not_sent", unsent.to_string()),
        ],
    );
    assert!(!acknowledged.is_empty());
    assert_eq!(lost, 0, "acknowledged signups lost");
    assert!(going <= CAPACITY, "overbooked: {going} going");
    assert_eq!(unsent, 0, "every message went out in the end");
    assert!(
        most_in_one_kill <= CONNECTIONS,
        "{most_in_one_kill} duplicates after one kill: {per_kill:?}"
    );
    // The average depends on how much mail flows at the instant of the kill: with 16 clients
    // saturating the 2-core machine (about 400 signups and mails a second) it measured 0.15 to
    // 1.9 a kill over runs of 20, about one over 100 kills, each duplicate one of the last
    // messages accepted before the kill (docs/operations.md). The bound above is what the
    // design guarantees.
}

/// Two instances on one PostgreSQL database; one is SIGKILLed as it delivers reminders (or,
/// every other round, long before they are due). The other sends every person going their
/// reminder before the event starts, and the outbox says what was sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: cargo test --test api faults:: -- --ignored"]
async fn reminders_survive_a_killed_instance() {
    let Some(admin) = postgres_admin_url() else {
        eprintln!("skipped: CONVENE_TEST_POSTGRES_URL is not set");
        return;
    };
    const PEOPLE: usize = 300;
    let total = rounds(5);
    let secret = secret();
    let (mut without_reminder, mut dupes, mut late) = (0, 0, 0);
    for round in 0..total {
        let admin = admin.clone();
        let (database_url, name) = tokio::task::spawn_blocking(move || create_pg_database(&admin))
            .await
            .unwrap();
        let smtp = SmtpSink::start();
        let env = vec![
            ("CONVENE_DATABASE_URL", database_url.clone()),
            ("CONVENE_SECRET_KEY", secret.clone()),
            ("CONVENE_SMTP_URL", smtp.url()),
            ("CONVENE_REMINDER_OFFSETS", "1m".to_owned()),
            ("CONVENE_WORKER_POLL_MS", "200".to_owned()),
            ("CONVENE_LOG", "info".to_owned()),
        ];
        let scratch = tempfile::tempdir().unwrap();
        let token = organizer_token(&env, scratch.path());
        let mut a = Instance::start(&env);
        let mut b = Instance::start(&env);
        a.wait_ready();
        b.wait_ready();
        // Reminders fall due 15 s from now, the event starts a minute later.
        let start = chrono::Utc::now() + chrono::Duration::seconds(75);
        create_event(
            &a.base,
            &token,
            "crash",
            json!({
                "starts_at": start.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "ends_at": (start + chrono::Duration::hours(3)).format("%Y-%m-%dT%H:%M:%S").to_string(),
            }),
        )
        .await;
        let client = reqwest::Client::new();
        let signups = futures::stream::iter(0..PEOPLE).map(|i| {
            let client = client.clone();
            let base = if i % 2 == 0 { &a.base } else { &b.base };
            let url = format!("{base}/api/v1/events/crash/registrations");
            async move {
                let body = json!({ "name": format!("P{i}"), "email": format!("p{i}@example.org") });
                client.post(url).json(&body).send().await.unwrap().status()
            }
        });
        use futures::StreamExt;
        let statuses: Vec<_> = signups.buffer_unordered(16).collect().await;
        assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
        let db = Db::connect(&database_url, 2).unwrap();
        let early = round % 2 == 1;
        let a_worker = worker_id(&a);
        if early {
            // Long before the reminders are due, once the confirmations are out.
            let deadline = Instant::now() + Duration::from_secs(30);
            while smtp.messages().len() < PEOPLE {
                assert!(Instant::now() < deadline, "confirmations did not arrive");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        } else {
            // Just after the first reminder from the instance about to die went out.
            let deadline = Instant::now() + Duration::from_secs(40);
            loop {
                let db = db.clone();
                let rows = tokio::task::spawn_blocking(move || outbox_rows(&db))
                    .await
                    .unwrap();
                if rows.iter().any(|r| {
                    r.kind == "reminder"
                        && r.sent_at.is_some()
                        && r.claimed_by.as_deref() == Some(a_worker.as_str())
                }) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "instance A sent no reminder: {}",
                    a.logs()
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        a.child.kill().unwrap();
        a.child.wait().unwrap();

        let until_start = (start - chrono::Utc::now()).to_std().unwrap_or_default();
        let rows = wait_until_drained(&db, PEOPLE, until_start + Duration::from_secs(20)).await;
        let reminded: HashSet<String> = smtp
            .mail()
            .into_iter()
            .filter(|m| m.subject.starts_with("Reminder"))
            .map(|m| m.to)
            .collect();
        let start_naive = start.naive_utc();
        let round_late = rows
            .iter()
            .filter(|r| r.kind == "reminder" && r.sent_at.is_none_or(|t| t > start_naive))
            .count();
        let round_without = PEOPLE - reminded.len();
        let round_dupes = duplicates(&smtp);
        report(
            "reminder_kill_round",
            &[
                ("round", round.to_string()),
                (
                    "kill",
                    if early { "early" } else { "during_delivery" }.to_owned(),
                ),
                ("without_reminder", round_without.to_string()),
                ("late_or_unsent", round_late.to_string()),
                ("duplicates", round_dupes.to_string()),
            ],
        );
        if round_without > 0 || round_late > 0 {
            eprintln!("survivor's log:\n{}", b.logs());
        }
        without_reminder += round_without;
        dupes += round_dupes;
        late += round_late;
        drop(b);
        drop(db);
        drop_pg_database(name).await;
    }
    report(
        "reminder_kill",
        &[
            ("rounds", total.to_string()),
            ("without_reminder", without_reminder.to_string()),
            ("late_or_unsent", late.to_string()),
            ("duplicates", dupes.to_string()),
        ],
    );
    assert_eq!(without_reminder, 0, "people without their reminder");
    assert_eq!(late, 0, "reminders sent after the start, or not at all");
    assert!(dupes <= 8 * total, "{dupes} duplicates in {total} kills");
}

/// The worker id an instance logged when its worker started.
fn worker_id(instance: &Instance) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(id) = instance.logs().lines().find_map(|l| {
            l.contains("outbox worker started")
                .then(|| l.split("worker=").nth(1)?.split_whitespace().next())
                .flatten()
                .map(str::to_owned)
        }) {
            return id;
        }
        assert!(Instant::now() < deadline, "no worker id in the log");
        std::thread::sleep(Duration::from_millis(50));
    }
}
