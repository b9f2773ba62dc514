//! `convene serve --demo` as a newcomer meets it, started as the README says: a sprint in
//! progress whose board has now/next lines, booked sessions and people checked in; a full
//! event with a waitlist, a moved event and a cancelled one; the mail all of it caused, sent
//! by the worker of that very process; and an organizer login, shown once.

use std::time::{Duration, Instant};

use convene::demo::{CALLED_OFF, MOVED, SPRINT, SUMMIT};
use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::instances::Instance;
use crate::pages::csrf_of;

/// `serve --demo` on `data`, on `database_url` (else the folder's SQLite file), ready.
fn serve_demo(data: tempfile::TempDir, database_url: Option<&str>) -> Instance {
    let env: Vec<(&str, String)> = database_url
        .map(|url| ("CONVENE_DATABASE_URL", url.to_owned()))
        .into_iter()
        .collect();
    let mut demo = Instance::start_in(data, &["--demo"], &env);
    demo.wait_ready();
    demo
}

/// The line of the start-up output that begins with `prefix`, without it.
fn printed(demo: &Instance, prefix: &str) -> Option<String> {
    demo.logs()
        .lines()
        .find_map(|l| l.strip_prefix(prefix).map(str::to_owned))
}

async fn get_json(client: &Client, url: String, token: Option<&str>) -> Value {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The event's outbox once the worker has settled all of it (sent, or skipped because it no
/// longer applied, as a confirmation whose registration was cancelled): the kinds sent.
async fn sent_outbox(client: &Client, demo: &Instance, token: &str, slug: &str) -> Vec<String> {
    let url = format!("{}/api/v1/events/{slug}/outbox", demo.base);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let outbox = get_json(client, url.clone(), Some(token)).await;
        let messages = outbox.as_array().unwrap();
        let settled = |m: &&Value| m["state"] == "sent" || m["state"] == "skipped";
        if !messages.is_empty() && messages.iter().all(|m| settled(&m)) {
            return messages
                .iter()
                .filter(|m| m["state"] == "sent")
                .map(|m| m["kind"].as_str().unwrap().to_owned())
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "the outbox of {slug} was not sent in 30 s: {outbox}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_fresh_demo_shows_a_living_service(database_url: Option<&str>) {
    let started = chrono::Utc::now().naive_utc();
    let demo = serve_demo(tempfile::tempdir().unwrap(), database_url);
    let client = Client::new();
    // The first start on a new database is quiet: no connection fails on the way.
    let logs = demo.logs();
    assert!(
        !logs.contains("ERROR") && !logs.contains("database is locked"),
        "{logs}"
    );
    // Its calendar names the organizers and puts the events on the map.
    let feed = client
        .get(format!("{}/calendar.ics", demo.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("\r\n ", "");
    assert!(
        feed.contains("ORGANIZER;CN=Demo organizers:mailto:organizers@example.org")
            && feed.contains("GEO:51.447000;7.013000"),
        "{feed}"
    );

    // The board of the sprint in progress.
    let board = get_json(
        &client,
        format!("{}/api/v1/events/{SPRINT}/board", demo.base),
        None,
    )
    .await;
    let cards = board["cards"].as_array().unwrap();
    assert!(
        cards.iter().any(|c| c["now"] != "" && c["next"] != ""),
        "{board}"
    );
    assert!(cards.iter().any(|c| c["next_slot"].is_string()), "{board}");
    assert!(board["slots"].as_array().unwrap().len() >= 3, "{board}");
    let checked_in: i64 = cards
        .iter()
        .map(|c| c["checked_in"].as_i64().unwrap())
        .sum();
    // Check-ins end by themselves at midnight in the sprint's zone.
    let midnight = convene::domain::time::next_local_midnight(started, "Europe/Berlin").unwrap();
    assert!(
        checked_in > 0 || chrono::Utc::now().naive_utc() >= midnight,
        "nobody is checked in: {board}"
    );
    let page = client
        .get(format!("{}/events/{SPRINT}/board", demo.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let first = &cards[0];
    for shown in [&first["name"], &first["now"], &first["next"]] {
        assert!(page.contains(shown.as_str().unwrap()), "{shown} in {page}");
    }

    // Events: one moved after people signed up, one called off, one full with a waitlist.
    let all = get_json(
        &client,
        format!("{}/api/v1/events?period=all", demo.base),
        None,
    )
    .await;
    let event = |slug: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|e| e["slug"] == slug)
            .unwrap_or_else(|| panic!("{slug} in {all}"))
            .clone()
    };
    let cancelled: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "cancelled")
        .collect();
    assert_eq!(cancelled.len(), 1, "{all}");
    assert_eq!(cancelled[0]["slug"], CALLED_OFF);
    let moved = event(MOVED);
    assert!(
        moved["status"] == "scheduled" && moved["revision"].as_i64() > Some(0),
        "{moved}"
    );
    let summit = event(SUMMIT);
    assert!(
        summit["going_count"] == summit["capacity"] && summit["waitlist_count"].as_i64() > Some(0),
        "{summit}"
    );
    let past = get_json(
        &client,
        format!("{}/api/v1/events?period=past", demo.base),
        None,
    )
    .await;
    assert!(!past.as_array().unwrap().is_empty(), "{past}");

    // The organizer login printed once opens the admin pages and the outboxes.
    let email = printed(&demo, "Demo organizer for ").expect("a demo login is printed");
    let email = email.rsplit(": ").next().unwrap();
    let password = printed(&demo, "Password:  ").expect("a password is printed");
    let token = printed(&demo, "API token: ").expect("an API token is printed");
    let browser = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = browser.get(format!("{}/login", demo.base)).send().await;
    let csrf = csrf_of(&login.unwrap().text().await.unwrap());
    let logged_in = browser
        .post(format!("{}/login", demo.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", &password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    let admin = browser.get(format!("{}/admin", demo.base)).send().await;
    let admin = admin.unwrap().text().await.unwrap();
    assert!(admin.contains("Open Source Sprint Days"), "{admin}");

    // The mail the demo caused, sent by the worker of this process.
    let sprint = sent_outbox(&client, &demo, &token, SPRINT).await;
    for kind in [
        "signup_confirmation",
        "lead_link",
        "slot_moved",
        "organizer_message",
    ] {
        assert!(sprint.iter().any(|k| k == kind), "{kind} in {sprint:?}");
    }
    for (slug, kind) in [
        (MOVED, "event_changed"),
        (CALLED_OFF, "event_cancelled"),
        (SUMMIT, "promoted"),
    ] {
        let sent = sent_outbox(&client, &demo, &token, slug).await;
        assert!(sent.iter().any(|k| k == kind), "{kind} in {slug}: {sent:?}");
    }
    let files = std::fs::read_dir(demo.data.path().join("mail")).unwrap();
    assert!(
        files.count() >= sprint.len(),
        "the mail is in the data folder"
    );

    // Started again, the demo leaves the database as it is and shows no login.
    let mut demo = demo;
    let data = std::mem::replace(&mut demo.data, tempfile::tempdir().unwrap());
    drop(demo);
    let again = serve_demo(data, database_url);
    assert!(printed(&again, "Convene is running at ").is_some());
    assert!(
        printed(&again, "Demo data added").is_none(),
        "{}",
        again.logs()
    );
    assert!(printed(&again, "Password:").is_none());
    let all_again = get_json(
        &client,
        format!("{}/api/v1/events?period=all", again.base),
        None,
    );
    assert_eq!(
        all_again.await.as_array().unwrap().len(),
        all.as_array().unwrap().len()
    );
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fresh_demo_shows_a_living_service() {
        super::a_fresh_demo_shows_a_living_service(None).await;
    }
}

mod postgres {
    use crate::helpers::{create_pg_database, drop_pg_database, postgres_admin_url};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fresh_demo_shows_a_living_service() {
        let Some(admin) = postgres_admin_url() else {
            eprintln!("skipped: set CONVENE_TEST_POSTGRES_URL to run the PostgreSQL tests");
            return;
        };
        let (url, name) = tokio::task::spawn_blocking(move || create_pg_database(&admin))
            .await
            .unwrap();
        super::a_fresh_demo_shows_a_living_service(Some(&url)).await;
        drop_pg_database(name).await;
    }
}
