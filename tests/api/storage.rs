//! Storage settings that the signup rules depend on.

use convene::db::DbConn;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

/// Every pooled SQLite connection, not just the first, is durable, checks foreign keys and
/// waits for a busy database instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pooled_sqlite_connection_is_configured() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite)
        .await
        .unwrap();
    let lifecycle = app.lifecycle();
    let checks = (0..8).map(|_| {
        app.state.db.read(|conn| {
            let DbConn::Sqlite(c) = conn else {
                panic!("expected SQLite")
            };
            std::thread::sleep(std::time::Duration::from_millis(100));
            let number = |c: &mut diesel::SqliteConnection, column: &str, pragma: &str| {
                diesel::sql_query(format!("SELECT {column} AS value FROM pragma_{pragma}"))
                    .get_result::<Number>(c)
                    .unwrap()
                    .value
            };
            let mode = diesel::sql_query("SELECT journal_mode AS value FROM pragma_journal_mode")
                .get_result::<Setting>(c)
                .unwrap()
                .value;
            Ok((
                mode,
                number(c, "synchronous", "synchronous"),
                number(c, "foreign_keys", "foreign_keys"),
                number(c, "timeout", "busy_timeout"),
            ))
        })
    });
    let results = futures::future::join_all(checks).await;
    for result in results {
        let (mode, synchronous, foreign_keys, busy_timeout) = result.unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(synchronous, 2, "synchronous=FULL");
        assert_eq!(foreign_keys, 1);
        assert!(busy_timeout >= 5000, "busy timeout {busy_timeout}");
    }
    let (open, _) = app.state.db.pool_state();
    assert!(open >= 2, "the checks ran on several pooled connections");
    lifecycle.shutdown().await;
}

/// When PostgreSQL cuts the pool's connections (a restart, a failover), the pool checks and
/// replaces every connection it holds, and the one read that met a cut connection is made
/// again on a working one: every request is answered. (A write that meets one answers 503,
/// never 500, and is not repeated: the client may retry it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_by_postgres_are_replaced() {
    let Some(app) = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await else {
        return;
    };
    let lifecycle = app.lifecycle();
    for _ in 0..20 {
        assert_eq!(app.get_authed("/api/v1/events").await.status(), 200);
    }
    let database = app
        .database_url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let admin = crate::helpers::postgres_admin_url().unwrap();
    let cut = tokio::task::spawn_blocking(move || {
        let mut conn = diesel::PgConnection::establish(&admin).unwrap();
        diesel::sql_query(format!(
            "SELECT count(pg_terminate_backend(pid)) AS value FROM pg_stat_activity \
             WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        ))
        .get_result::<Number>(&mut conn)
        .unwrap()
        .value
    })
    .await
    .unwrap();
    assert!(cut >= 1, "the test cut the app's connections");
    let pool = app.state.db.pool_max() as usize;
    let mut statuses = Vec::new();
    for _ in 0..pool + 4 {
        statuses.push(app.get_authed("/api/v1/events").await.status().as_u16());
    }
    // Reads that meet a cut connection are made again on a working one.
    assert!(
        statuses.iter().all(|s| *s == 200),
        "every read answered after the cut: {statuses:?}"
    );
    lifecycle.shutdown().await;
}
