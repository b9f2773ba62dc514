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
