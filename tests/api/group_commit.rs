//! Group commit: signups and the other short writes that wait at the same moment share one
//! transaction, each deciding its seat in arrival order and each failing alone.

use futures::future::join_all;
use serde_json::Value;

use crate::helpers::{TestApp, event_json};

/// Holds the committer inside one write until `release` is sent; `held` tells when.
fn hold_the_committer(
    app: &TestApp,
) -> (
    tokio::task::JoinHandle<Result<(), convene::error::AppError>>,
    tokio::sync::oneshot::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    let (held, held_rx) = tokio::sync::oneshot::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let mut held = Some(held);
    let db = app.state.db.clone();
    let holder = tokio::spawn(async move {
        db.write_grouped(move |_conn| {
            if let Some(held) = held.take() {
                let _ = held.send(());
            }
            let _ = release_rx.recv();
            Ok(())
        })
        .await
    });
    (holder, held_rx, release)
}

async fn signups_waiting_together_commit_as_one_group_in_arrival_order(app: TestApp) {
    app.create_event(&event_json("crowd", Some(5))).await;
    let mut over = event_json("over", Some(5));
    over["starts_at"] = "2024-01-01T10:00".into();
    over["ends_at"] = "2024-01-01T12:00".into();
    app.create_event(&over).await;

    let (holder, held, release) = hold_the_committer(&app);
    held.await.unwrap();
    let before = app.state.db.group_figures();

    // Eight signups, one for an event that is over, and one write that panics, all waiting
    // behind the held write.
    let signups = join_all((0..8).map(|i| {
        let app = &app;
        async move {
            let email = format!("crowd{i}@example.org");
            app.sign_up("crowd", &format!("Crowd {i}"), &email, &[])
                .await
                .status()
                .as_u16()
        }
    }));
    let late = async {
        app.sign_up("over", "Late", "late@example.org", &[])
            .await
            .status()
            .as_u16()
    };
    let db = app.state.db.clone();
    let panicking = db.write_grouped(|_conn| -> Result<(), convene::error::AppError> {
        panic!("a write that breaks")
    });
    let let_go = async {
        let all_waiting = async {
            while app.state.db.group_figures().waiting < 10 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), all_waiting)
            .await
            .expect("the ten writes wait behind the held one");
        release.send(()).unwrap();
    };
    let (codes, late, panicked, ()) = tokio::join!(signups, late, panicking, let_go);
    holder.await.unwrap().unwrap();

    assert_eq!(codes, vec![202; 8], "every signup of the group is accepted");
    assert_eq!(
        late, 409,
        "the signup for an event that is over fails on its own"
    );
    assert!(
        panicked.is_err(),
        "the write that panicked answers an error"
    );
    let after = app.state.db.group_figures();
    assert_eq!(
        (after.groups - before.groups, after.writes - before.writes),
        (2, 11),
        "the held write's group, then one transaction for the ten that waited behind it"
    );

    // Seats went in the order the group ran them (the list is in order of arrival): the
    // first five going, the rest waiting in the same order.
    let list = app.registrations("crowd").await;
    let states: Vec<(String, Option<i64>)> = list
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_owned(),
                r["waitlist_position"].as_i64(),
            )
        })
        .collect();
    let going = |_| ("going".to_owned(), None);
    let expected: Vec<(String, Option<i64>)> = (0..5)
        .map(going)
        .chain((1..=3).map(|p| ("waitlisted".to_owned(), Some(p))))
        .collect();
    assert_eq!(states, expected);
    let event: Value = app.event("crowd").await;
    assert_eq!(
        (
            event["going_count"].as_i64(),
            event["waitlist_count"].as_i64()
        ),
        (Some(5), Some(3))
    );
    assert!(app.registrations("over").await.is_empty());
    for i in 0..8 {
        let mails = app.wait_for_mail(&format!("crowd{i}@example.org"), 1).await;
        assert_eq!(mails.len(), 1, "one confirmation each");
    }
}

async fn a_lone_write_is_committed_at_once(app: TestApp) {
    app.create_event(&event_json("quiet", Some(5))).await;
    let before = app.state.db.group_figures();
    let response = app
        .sign_up("quiet", "Quiet", "quiet@example.org", &[])
        .await;
    assert_eq!(response.status(), 202);
    let after = app.state.db.group_figures();
    assert_eq!(
        (after.groups - before.groups, after.writes - before.writes),
        (1, 1)
    );
    assert_eq!(app.event("quiet").await["going_count"], 1);
}

crate::on_both_backends!(
    signups_waiting_together_commit_as_one_group_in_arrival_order,
    a_lone_write_is_committed_at_once,
);
