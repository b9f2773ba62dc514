//! Email over real SMTP: every kind of message, reminders, retries, opt-out, and headers.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{BASE_URL, Behaviour, Setup, TestApp, event_json, spawn_app_with};

/// Moves the app's clock to `before` ahead of the event's start.
fn move_clock_to_before_start(app: &TestApp, event: &Value, before: chrono::Duration) {
    let start = chrono::DateTime::parse_from_rfc3339(event["starts_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let now = chrono::Utc::now()
        + chrono::Duration::seconds(
            app.clock.now().and_utc().timestamp() - chrono::Utc::now().timestamp(),
        );
    app.clock.advance(start - before - now);
}

fn sequence_of(calendar: &str) -> i64 {
    let line = calendar
        .lines()
        .find(|l| l.starts_with("SEQUENCE:"))
        .expect("a SEQUENCE");
    line.trim_start_matches("SEQUENCE:").trim().parse().unwrap()
}

async fn every_kind_of_message_arrives_over_smtp(app: TestApp) {
    app.create_event(&event_json("mailbox", Some(1))).await;
    app.create_project("mailbox", &json!({"slug": "docs", "name": "Docs", "location": "Table 4", "notes_url": "https://pad.example.org/p/docs"})).await;
    app.sign_up("mailbox", "Ann", "ann@example.org", &["docs"])
        .await;
    app.sign_up("mailbox", "Bob", "bob@example.org", &[]).await;
    app.sign_up("mailbox", "Ann again", "ANN@example.org", &[])
        .await;

    let ann = app.wait_for_mail("ann@example.org", 2).await;
    let confirmation = ann
        .iter()
        .find(|m| m.subject.starts_with("You're going"))
        .unwrap();
    assert!(
        confirmation
            .body
            .contains("Docs (Table 4), notes: https://pad.example.org/p/docs")
    );
    assert!(
        confirmation
            .html
            .contains("<a href=\"https://pad.example.org/p/docs\">notes</a>"),
        "{}",
        confirmation.html
    );
    let ics = confirmation
        .calendar
        .as_ref()
        .expect("the confirmation carries the event");
    assert!(ics.contains("METHOD:PUBLISH") && ics.contains("STATUS:CONFIRMED"));
    assert!(
        ics.contains("ORGANIZER;CN=Convene:mailto:convene@localhost"),
        "{ics}"
    );
    assert_eq!(sequence_of(ics), 0);
    assert!(
        ann.iter()
            .any(|m| m.subject.starts_with("You're already registered") && m.calendar.is_none())
    );
    let bob = app.wait_for_mail("bob@example.org", 1).await;
    assert!(bob[0].subject.starts_with("Waitlist #1"));
    assert!(
        bob[0]
            .calendar
            .as_ref()
            .unwrap()
            .contains("STATUS:TENTATIVE")
    );

    // Ann cancels: Bob moves up and is told, with the event attached.
    app.post_json(
        &format!(
            "/api/v1/registrations/{}/cancel",
            confirmation.manage_token()
        ),
        &json!({}),
        false,
    )
    .await;
    let bob = app.wait_for_mail("bob@example.org", 2).await;
    let promoted = bob
        .iter()
        .find(|m| m.subject.starts_with("A seat is yours"))
        .unwrap();
    assert!(
        promoted
            .calendar
            .as_ref()
            .unwrap()
            .contains("STATUS:CONFIRMED")
    );
    assert!(
        app.wait_for_mail("ann@example.org", 3)
            .await
            .iter()
            .any(|m| m.subject.starts_with("Cancelled: your registration"))
    );

    // The event moves: Bob (going) hears what changed, old and new, with SEQUENCE raised.
    app.patch_json(
        "/api/v1/events/mailbox",
        &json!({"venue": "Room 2", "starts_at": "2031-06-01T10:00", "ends_at": "2031-06-01T16:00"}),
        true,
    )
    .await;
    let bob = app.wait_for_mail("bob@example.org", 3).await;
    let changed = bob
        .iter()
        .find(|m| m.subject.starts_with("Changed:"))
        .expect("a change notice");
    assert!(
        changed.body.contains("Time\n  was:") || changed.body.contains("Time\r\n  was:"),
        "{}",
        changed.body
    );
    assert!(
        changed
            .body
            .contains("now: Sun 1 Jun 2031, 10:00–16:00 (Europe/Berlin)"),
        "{}",
        changed.body
    );
    assert!(
        changed.body.contains("was: Hall B, Main Street 1")
            && changed.body.contains("now: Room 2, Main Street 1")
    );
    assert_eq!(sequence_of(changed.calendar.as_ref().unwrap()), 1);
    assert_eq!(
        app.mail_to("ann@example.org").len(),
        3,
        "the cancelled attendee is not told"
    );

    // The organizer writes; then calls it off.
    let sent = app
        .post_json(
            "/api/v1/events/mailbox/messages",
            &json!({"subject": "Bring a laptop", "body": "Power strips at every table."}),
            true,
        )
        .await;
    assert_eq!(sent.status(), 202);
    assert_eq!(sent.json::<Value>().await.unwrap()["recipients"], 1);
    let bob = app.wait_for_mail("bob@example.org", 4).await;
    let message = bob
        .iter()
        .find(|m| m.subject.starts_with("Bring a laptop"))
        .unwrap();
    assert!(message.body.contains("Power strips at every table."));
    assert!(
        message.raw.contains(&format!("<{}>", app.organizer_email))
            && message.raw.contains("Reply-To:"),
        "replies reach the organizer who wrote: {}",
        message.raw
    );
    assert!(message.body.contains("a reply to this message goes to"));
    assert!(message.html.contains("a reply to this message goes to"));
    assert!(
        message
            .raw
            .contains("List-Unsubscribe: <https://convene.example/unsubscribe/")
    );
    assert!(
        message
            .raw
            .contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    );
    app.post_json("/api/v1/events/mailbox/cancel", &json!({}), true)
        .await;
    let bob = app.wait_for_mail("bob@example.org", 5).await;
    let called_off = bob
        .iter()
        .find(|m| m.subject.starts_with("Called off"))
        .unwrap();
    let ics = called_off.calendar.as_ref().unwrap();
    assert!(ics.contains("STATUS:CANCELLED"));
    assert_eq!(sequence_of(ics), 2);

    // Every message carries its own stable Message-ID and nothing came twice.
    let all = app.mail();
    let mut ids: Vec<&str> = all.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len());
    assert!(
        all.iter()
            .all(|m| m.raw.contains("Auto-Submitted: auto-generated"))
    );
    assert!(
        all.iter()
            .all(|m| !m.body.contains("evil") && m.body.contains(BASE_URL))
    );
}

async fn reminders_go_to_people_going_once_each_and_follow_a_moved_event(app: TestApp) {
    let event = app.create_event(&event_json("remind", Some(2))).await;
    for who in ["ann", "bob", "cat", "dan"] {
        app.sign_up("remind", who, &format!("{who}@example.org"), &[])
            .await;
    }
    let dan = app.wait_for_mail("dan@example.org", 1).await;
    app.post_json(
        &format!("/api/v1/registrations/{}/cancel", dan[0].manage_token()),
        &json!({}),
        false,
    )
    .await;
    app.wait_for_outbox_drained().await;

    move_clock_to_before_start(&app, &event, chrono::Duration::hours(23));
    let ann = app.wait_for_mail("ann@example.org", 2).await;
    let reminder = ann
        .iter()
        .find(|m| m.subject.starts_with("Reminder"))
        .unwrap();
    assert_eq!(
        reminder.subject,
        "Reminder: Sprint remind starts in 24 hours"
    );
    assert!(
        reminder
            .raw
            .contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    );
    app.wait_for_mail("bob@example.org", 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.wait_for_outbox_drained().await;
    let reminders = |who: &str| {
        app.mail_to(&format!("{who}@example.org"))
            .iter()
            .filter(|m| m.subject.starts_with("Reminder"))
            .count()
    };
    assert_eq!(
        (
            reminders("ann"),
            reminders("bob"),
            reminders("cat"),
            reminders("dan")
        ),
        (1, 1, 0, 0),
        "only people going, once"
    );
    // The scan's SQL builds the same keys as the inserts: a scan with every reminder in place
    // reads no registration (if they differed it would find Ann and Bob every time).
    let offsets = convene::domain::ReminderOffsets::parse("24h,1h").unwrap();
    let scan = convene::service::reminders::queue_due(&app.state.service, offsets)
        .await
        .unwrap();
    assert_eq!(scan, convene::service::reminders::Scheduled::default());

    // Bob opts out with one click; the GET alone changes nothing.
    let bob_reminder = app
        .mail_to("bob@example.org")
        .into_iter()
        .find(|m| m.subject.starts_with("Reminder"))
        .unwrap();
    let link = bob_reminder
        .body
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{BASE_URL}/unsubscribe/")))
        .unwrap()
        .to_owned();
    let path = link.strip_prefix(BASE_URL).unwrap();
    assert_eq!(app.get(path).await.status(), 200);
    assert_eq!(app.get(&format!("{path}x")).await.status(), 404);
    let one_click = app
        .client
        .post(app.url(path))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), 200);

    // The event moves two days later: the reminders follow the new time.
    let moved = json!({"starts_at": (chrono::Utc::now() + chrono::Duration::days(32)).format("%Y-%m-%dT09:00").to_string(),
                       "ends_at": (chrono::Utc::now() + chrono::Duration::days(32)).format("%Y-%m-%dT17:00").to_string()});
    let moved: Value = app
        .patch_json("/api/v1/events/remind", &moved, true)
        .await
        .json()
        .await
        .unwrap();
    app.wait_for_outbox_drained().await;
    move_clock_to_before_start(&app, &moved, chrono::Duration::minutes(30));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.wait_for_outbox_drained().await;
    let subjects = |who: &str| {
        app.mail_to(&format!("{who}@example.org"))
            .iter()
            .filter(|m| m.subject.starts_with("Reminder"))
            .map(|m| m.subject.clone())
            .collect::<Vec<_>>()
    };
    let mut ann_subjects = subjects("ann");
    ann_subjects.sort();
    assert_eq!(
        ann_subjects,
        [
            "Reminder: Sprint remind starts in 1 hour",
            "Reminder: Sprint remind starts in 24 hours"
        ],
        "the moved event gets its own reminder, the nearest one only, once"
    );
    assert_eq!(subjects("bob").len(), 1, "Bob opted out after the first");
    assert!(subjects("cat").is_empty());
}

async fn two_instances_on_one_database_send_each_message_once(app: TestApp) {
    let second = spawn_app_with(
        crate::helpers::Backend::Sqlite,
        Setup {
            beside: Some(app.beside()),
            ..Setup::default()
        },
    )
    .await
    .unwrap();
    let second_lifecycle = second.lifecycle();
    let event = app.create_event(&event_json("twice", None)).await;
    let signups = (0..30).map(|i| {
        let target = if i % 2 == 0 { &app } else { &second };
        async move {
            target
                .sign_up("twice", &format!("P{i}"), &format!("p{i}@example.org"), &[])
                .await
                .status()
                .as_u16()
        }
    });
    assert!(
        futures::future::join_all(signups)
            .await
            .iter()
            .all(|c| *c == 202)
    );
    // Leases are measured on the shared clock: let the confirmations go out before it jumps
    // a month ahead, as no real clock does.
    app.wait_for_outbox_drained().await;
    // The day before, then the hour before: both instances schedule and send, once.
    move_clock_to_before_start(&app, &event, chrono::Duration::hours(23));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.mail().len() < 60 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.wait_for_outbox_drained().await;
    move_clock_to_before_start(&app, &event, chrono::Duration::minutes(30));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.mail().len() < 90 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mail = app.mail();
    assert_eq!(
        mail.len(),
        90,
        "30 confirmations and 2 reminders each, no more: {:#?}",
        mail.iter()
            .map(|m| format!("{} {} {}", m.to, m.subject, m.message_id))
            .collect::<Vec<_>>()
    );
    for i in 0..30 {
        let to = format!("p{i}@example.org");
        let subjects: Vec<&str> = mail
            .iter()
            .filter(|m| m.to == to)
            .map(|m| m.subject.as_str())
            .collect();
        assert_eq!(
            subjects
                .iter()
                .filter(|s| s.starts_with("You're going"))
                .count(),
            1,
            "{to}"
        );
        assert_eq!(
            subjects
                .iter()
                .filter(|s| s.starts_with("Reminder"))
                .count(),
            2,
            "{to}: {subjects:?}"
        );
    }
    second_lifecycle.shutdown().await;
}

async fn an_unavailable_smtp_server_delays_mail_but_loses_and_doubles_none(app: TestApp) {
    app.create_event(&event_json("flaky", None)).await;
    app.smtp.set(Behaviour::Refuse);
    for who in ["ann", "bob", "cat"] {
        app.sign_up("flaky", who, &format!("{who}@example.org"), &[])
            .await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let log: Vec<Value> = app
            .get_authed("/api/v1/events/flaky/outbox")
            .await
            .json()
            .await
            .unwrap();
        if log.len() == 3
            && log.iter().all(|m| {
                m["attempts"].as_i64() >= Some(1)
                    && m["last_error"].is_string()
                    && m["state"] == "pending"
            })
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the refusals were not recorded: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(app.mail().is_empty());
    app.smtp.set(Behaviour::Accept);
    app.clock.advance(chrono::Duration::minutes(2));
    for who in ["ann", "bob", "cat"] {
        app.wait_for_mail(&format!("{who}@example.org"), 1).await;
    }
    app.wait_for_outbox_drained().await;
    assert_eq!(app.mail().len(), 3, "each exactly once");
    let log: Vec<Value> = app
        .get_authed("/api/v1/events/flaky/outbox")
        .await
        .json()
        .await
        .unwrap();
    assert!(log.iter().all(|m| m["state"] == "sent"), "{log:#?}");
}

async fn a_hanging_smtp_server_times_out_and_the_message_goes_later(app: TestApp) {
    let app2 = spawn_app_with(
        crate::helpers::Backend::Sqlite,
        Setup {
            smtp_timeout_secs: Some(1),
            ..Setup::default()
        },
    )
    .await
    .unwrap();
    let lifecycle = app2.lifecycle();
    app2.create_event(&event_json("slow", None)).await;
    app2.smtp.set(Behaviour::Hang(Duration::from_secs(3)));
    app2.sign_up("slow", "Sam", "sam@example.org", &[]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let log: Vec<Value> = app2
            .get_authed("/api/v1/events/slow/outbox")
            .await
            .json()
            .await
            .unwrap();
        if log.first().is_some_and(|m| m["last_error"].is_string()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the time-out was not recorded: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app2.smtp.set(Behaviour::Accept);
    app2.clock.advance(chrono::Duration::minutes(2));
    app2.wait_for_mail("sam@example.org", 1).await;
    app2.wait_for_outbox_drained().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app2.mail().len(), 1);
    lifecycle.shutdown().await;
    drop(app);
}

/// An app beside `app` (same backend) that sends over one SMTP connection (so batches of
/// two), with three people going to event `held`, whose reminders are now due and held: the
/// SMTP server holds the first at MAIL FROM, and the second, claimed and read with it, waits.
struct HeldReminders {
    app: TestApp,
    event_id: convene::domain::EventId,
    /// Each person's manage token, by address.
    manage: std::collections::HashMap<String, String>,
    /// The reminder waiting behind the held one.
    waiting: convene::db::outbox::OutboxRow,
}

impl HeldReminders {
    async fn start(beside: &TestApp) -> Self {
        let app = spawn_app_with(
            beside.backend(),
            Setup {
                smtp_timeout_secs: Some(10),
                tweak: Some(|s| s.smtp_connections = 1),
                ..Setup::default()
            },
        )
        .await
        .unwrap();
        let event = app.create_event(&event_json("held", None)).await;
        let mut manage = std::collections::HashMap::new();
        for who in ["ann", "bob", "cat"] {
            let address = format!("{who}@example.org");
            app.sign_up("held", who, &address, &[]).await;
            let mail = app.wait_for_mail(&address, 1).await;
            manage.insert(address, mail[0].manage_token());
        }
        app.wait_for_outbox_drained().await;
        let event_id = app
            .state
            .db
            .read(|c| convene::db::events::find_by_slug(c, "held"))
            .await
            .unwrap()
            .id;
        app.smtp.set(Behaviour::Hold);
        let begun = app.smtp.mail_commands();
        move_clock_to_before_start(&app, &event, chrono::Duration::minutes(30));
        // The first reminder has reached the server: its batch, with the second, was read.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while app.smtp.mail_commands() == begun {
            assert!(
                std::time::Instant::now() < deadline,
                "no reminder reached the server"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut claimed: Vec<_> = reminder_rows(&app, event_id)
            .await
            .into_iter()
            .filter(|r| r.claimed_until.is_some())
            .collect();
        assert!(
            claimed.len() >= 2,
            "a batch of two was claimed: {claimed:?}"
        );
        Self {
            app,
            event_id,
            manage,
            waiting: claimed.swap_remove(1),
        }
    }

    async fn reminders(&self) -> Vec<convene::db::outbox::OutboxRow> {
        reminder_rows(&self.app, self.event_id).await
    }

    fn reminders_to(&self, who: &str) -> usize {
        self.app
            .mail_to(who)
            .iter()
            .filter(|m| m.subject.starts_with("Reminder"))
            .count()
    }
}

/// An event's reminder rows, oldest first.
async fn reminder_rows(
    app: &TestApp,
    event_id: convene::domain::EventId,
) -> Vec<convene::db::outbox::OutboxRow> {
    let mut rows = app
        .state
        .db
        .read(move |c| convene::db::outbox::for_event(c, event_id, 100))
        .await
        .unwrap();
    rows.retain(|r| r.kind == "reminder");
    rows.sort_by_key(|r| r.id);
    rows
}

/// What a message says is read when its batch is claimed; one that then waits behind slow
/// deliveries is read and checked again just before it goes: the recipient of the waiting
/// reminder cancels meanwhile, and that reminder is skipped, not sent.
async fn a_message_kept_waiting_is_checked_again_before_it_goes(app: TestApp) {
    let held = HeldReminders::start(&app).await;
    let lifecycle = held.app.lifecycle();
    let waiting = held.waiting.recipient.clone();
    let cancelled = held
        .app
        .post_json(
            &format!("/api/v1/registrations/{}/cancel", held.manage[&waiting]),
            &json!({}),
            false,
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    // Long enough for what was read with the batch to count as old.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    held.app.smtp.set(Behaviour::Accept);

    held.app.wait_for_outbox_drained().await;
    for who in held.manage.keys() {
        let expected = usize::from(*who != waiting);
        assert_eq!(held.reminders_to(who), expected, "reminders to {who}");
    }
    let skipped = held
        .reminders()
        .await
        .into_iter()
        .find(|r| r.recipient == waiting)
        .unwrap();
    assert_eq!(skipped.state(), "skipped", "{skipped:?}");
    assert!(
        skipped
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("not going"),
        "{skipped:?}"
    );
    lifecycle.shutdown().await;
    drop(app);
}

/// A claimed message whose lease has less than half a lease left (its renewals did not come
/// through) is not started (another instance could take it over mid-way) but given back at
/// once, without counting an attempt, and then sent once.
async fn a_message_whose_claim_ran_short_is_given_back_and_sent_once(app: TestApp) {
    let held = HeldReminders::start(&app).await;
    let lifecycle = held.app.lifecycle();
    let until = held.waiting.claimed_until.unwrap();
    // Time passes on the service's clock until less than half a lease of the waiting
    // message's claim is left.
    let left = until - held.app.clock.now();
    held.app.clock.advance(left - chrono::Duration::seconds(10));
    held.app.smtp.set(Behaviour::Accept);

    held.app.wait_for_outbox_drained().await;
    for who in held.manage.keys() {
        assert_eq!(held.reminders_to(who), 1, "reminders to {who}");
    }
    let sent = held
        .reminders()
        .await
        .into_iter()
        .find(|r| r.id == held.waiting.id)
        .unwrap();
    assert_eq!(sent.state(), "sent", "{sent:?}");
    assert_eq!(
        sent.attempts, 1,
        "the claim that was given back did not count: {sent:?}"
    );
    lifecycle.shutdown().await;
    drop(app);
}

/// A message claimed by a worker that then stopped answering (its lease ran out, nothing was
/// recorded) is taken over by another, and the outbox says that the first may have sent it:
/// here the reminder no longer applies when it is taken over, so it is skipped with both
/// reasons, and nothing is sent.
async fn a_message_taken_over_from_a_dead_worker_says_it_may_have_been_sent(app: TestApp) {
    use convene::db::schema::outbox;
    use diesel::prelude::*;
    app.create_event(&event_json("taken", None)).await;
    app.sign_up("taken", "Ann", "ann@example.org", &[]).await;
    app.wait_for_mail("ann@example.org", 1).await;
    app.wait_for_outbox_drained().await;
    let (event_id, registration_id) = app
        .state
        .db
        .read(|c| {
            let event = convene::db::events::find_by_slug(c, "taken")?;
            let registration: convene::domain::RegistrationId =
                convene::db::schema::registrations::table
                    .filter(convene::db::schema::registrations::event_id.eq(event.id))
                    .select(convene::db::schema::registrations::id)
                    .first(c)?;
            Ok((event.id, registration))
        })
        .await
        .unwrap();
    // A reminder for a start the event no longer has, held by a worker whose lease ran out.
    let now = app.clock.now();
    let id = app
        .state
        .db
        .write(move |c| {
            let id = convene::db::outbox::enqueue(
                c,
                convene::db::outbox::NewMessage {
                    notice: convene::domain::Notice::Reminder {
                        offset_minutes: 60,
                        starts_at: "2001-01-01T00:00:00".parse().unwrap(),
                    },
                    event_id,
                    registration_id,
                    recipient: "ann@example.org",
                },
                now,
            )?;
            diesel::update(outbox::table.find(id))
                .set((
                    outbox::claimed_by.eq("a-worker-that-died"),
                    outbox::claimed_until.eq(now - chrono::Duration::seconds(1)),
                    outbox::attempts.eq(1),
                ))
                .execute(c)?;
            Ok(id)
        })
        .await
        .unwrap();
    app.state.outbox_wake.notify_one();
    app.wait_for_outbox_drained().await;
    let row = app
        .state
        .db
        .read(move |c| convene::db::outbox::for_registration(c, registration_id))
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap();
    assert_eq!(row.state(), "skipped", "{row:?}");
    let reason = row.last_error.unwrap_or_default();
    assert!(
        reason.contains("the event moved") && reason.contains("may have been delivered"),
        "{reason}"
    );
    assert_ne!(row.claimed_by.as_deref(), Some("a-worker-that-died"));
    assert_eq!(
        app.mail_to("ann@example.org").len(),
        1,
        "only the confirmation"
    );
}

/// A message whose payload cannot be read (a row written by hand, or by a faulty release) is
/// not sent with blanks: it fails at once, and the outbox says why. The next message goes.
async fn a_message_whose_payload_cannot_be_read_fails_with_the_reason(app: TestApp) {
    use convene::db::schema::outbox;
    use diesel::prelude::*;
    app.create_event(&event_json("broken", None)).await;
    app.sign_up("broken", "Ann", "ann@example.org", &[]).await;
    app.wait_for_mail("ann@example.org", 1).await;
    app.wait_for_outbox_drained().await;
    let now = app.clock.now();
    app.state
        .db
        .write(move |c| {
            let event = convene::db::events::find_by_slug(c, "broken")?;
            let registration_id: convene::domain::RegistrationId =
                convene::db::schema::registrations::table
                    .filter(convene::db::schema::registrations::event_id.eq(event.id))
                    .select(convene::db::schema::registrations::id)
                    .first(c)?;
            let message = |notice| convene::db::outbox::NewMessage {
                notice,
                event_id: event.id,
                registration_id,
                recipient: "ann@example.org",
            };
            let broken = convene::db::outbox::enqueue(
                c,
                message(convene::domain::Notice::Reminder {
                    offset_minutes: 60,
                    starts_at: event.starts_at,
                }),
                now,
            )?;
            diesel::update(outbox::table.find(broken))
                .set(outbox::payload.eq(r#"{"minutes": 60}"#))
                .execute(c)?;
            convene::db::outbox::enqueue(
                c,
                message(convene::domain::Notice::OrganizerMessage {
                    subject: "Still here".into(),
                    body: "The next message goes.".into(),
                    project: None,
                    reply_to: None,
                }),
                now,
            )
        })
        .await
        .unwrap();
    app.state.outbox_wake.notify_one();
    app.wait_for_mail("ann@example.org", 2).await;
    app.wait_for_outbox_drained().await;
    let log: Vec<Value> = app
        .get_authed("/api/v1/events/broken/outbox")
        .await
        .json()
        .await
        .unwrap();
    let reminder = log.iter().find(|m| m["kind"] == "reminder").unwrap();
    assert_eq!(reminder["state"], "failed", "{reminder:#}");
    let reason = reminder["last_error"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the payload of a reminder message cannot be read")
            && reason.contains("missing field `offset_minutes`"),
        "{reason}"
    );
    let ann = app.mail_to("ann@example.org");
    assert_eq!(ann.len(), 2, "the confirmation and the next message only");
    assert!(ann.iter().any(|m| m.subject.starts_with("Still here")));
}

async fn organizer_messages_refuse_header_injection_and_keep_odd_bodies_intact(app: TestApp) {
    app.create_event(&event_json("words", None)).await;
    app.create_project("words", &json!({"slug": "docs", "name": "Docs"}))
        .await;
    app.sign_up("words", "Ann", "ann@example.org", &["docs"])
        .await;
    app.sign_up("words", "Bob", "bob@example.org", &[]).await;
    app.wait_for_mail("bob@example.org", 1).await;
    for bad in [
        json!({"subject": "Hi\r\nBcc: x@evil.test", "body": "x"}),
        json!({"subject": "Hi", "body": ""}),
        json!({"subject": "Hi", "body": "x", "project": "nope"}),
        json!({"subject": "Hi", "body": "x", "to": "x@evil.test"}),
    ] {
        let response = app
            .post_json("/api/v1/events/words/messages", &bad, true)
            .await;
        assert!(response.status().is_client_error(), "{bad}");
    }
    assert_eq!(
        app.post_json(
            "/api/v1/events/words/messages",
            &json!({"subject": "Hi", "body": "x"}),
            false
        )
        .await
        .status(),
        401
    );
    let body = "Line one\n.\nLine after a lone dot\r\n..two dots\nBcc: x@evil.test";
    let sent: Value = app
        .post_json(
            "/api/v1/events/words/messages",
            &json!({"subject": "Bcc: x@evil.test", "body": body, "project": "docs"}),
            true,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sent["recipients"], 1, "only the people at the project");
    let ann = app.wait_for_mail("ann@example.org", 2).await;
    let message = ann.iter().find(|m| m.subject.starts_with("Bcc:")).unwrap();
    assert!(
        message
            .body
            .contains("Line one\n.\nLine after a lone dot\n..two dots\nBcc: x@evil.test"),
        "{:?}",
        message.body
    );
    assert!(message.body.contains("to the people at Docs"));
    let headers = message.raw.split("\r\n\r\n").next().unwrap();
    assert!(
        !headers
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
        "{headers}"
    );
    assert!(!app.mail().iter().any(|m| m.to.contains("evil")));
    app.wait_for_outbox_drained().await;
    assert_eq!(
        app.mail_to("bob@example.org").len(),
        1,
        "Bob is not at the project"
    );
}

async fn without_smtp_mail_is_written_as_eml_files(app: TestApp) {
    let files = spawn_app_with(
        crate::helpers::Backend::Sqlite,
        Setup {
            eml_files: true,
            ..Setup::default()
        },
    )
    .await
    .unwrap();
    let lifecycle = files.lifecycle();
    files.create_event(&event_json("offline", None)).await;
    files
        .sign_up("offline", "Eve", "eve@example.org", &[])
        .await;
    let mail = files.wait_for_mail("eve@example.org", 1).await;
    assert!(mail[0].subject.starts_with("You're going"));
    assert!(
        files
            .data_dir
            .path()
            .join("mail")
            .read_dir()
            .unwrap()
            .count()
            == 1
    );
    assert!(app.mail().is_empty());
    lifecycle.shutdown().await;
}

crate::on_both_backends!(
    every_kind_of_message_arrives_over_smtp,
    reminders_go_to_people_going_once_each_and_follow_a_moved_event,
    two_instances_on_one_database_send_each_message_once,
    an_unavailable_smtp_server_delays_mail_but_loses_and_doubles_none,
    a_message_kept_waiting_is_checked_again_before_it_goes,
    a_message_whose_claim_ran_short_is_given_back_and_sent_once,
    a_message_taken_over_from_a_dead_worker_says_it_may_have_been_sent,
    a_message_whose_payload_cannot_be_read_fails_with_the_reason,
    organizer_messages_refuse_header_injection_and_keep_odd_bodies_intact,
);

mod sqlite_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hanging_smtp_server_times_out_and_the_message_goes_later() {
        let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite)
            .await
            .unwrap();
        super::a_hanging_smtp_server_times_out_and_the_message_goes_later(app).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_smtp_mail_is_written_as_eml_files() {
        let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite)
            .await
            .unwrap();
        super::without_smtp_mail_is_written_as_eml_files(app).await;
    }
}
