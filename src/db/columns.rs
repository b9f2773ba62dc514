//! How the domain's closed vocabularies are stored: as their text, on either backend. A value
//! that is not one of the vocabulary's words fails the read with the column and the value it
//! found, rather than turning quietly into some default.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::domain::{EventKind, EventStatus, RegistrationStatus};

/// `FromSql` and `ToSql` for `Text` of a domain vocabulary with `parse` and `as_str`, written
/// for every backend (SQLite, PostgreSQL and the connection over both); `column` names where
/// it is kept, for the error of a value it does not know.
macro_rules! stored_as_text {
    ($($name:ident in $column:literal),+ $(,)?) => {$(
        impl<DB> FromSql<Text, DB> for $name
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let raw = String::from_sql(bytes)?;
                $name::parse(&raw).map_err(|why| {
                    format!(
                        "{} holds the unknown value `{}`: it {why}",
                        $column,
                        raw.escape_default()
                    )
                    .into()
                })
            }
        }

        impl<DB> ToSql<Text, DB> for $name
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }
    )+};
}

stored_as_text!(
    EventKind in "events.kind",
    EventStatus in "events.status",
    RegistrationStatus in "registrations.status",
);

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sqlite::SqliteConnection;
    use diesel_migrations::MigrationHarness;

    use crate::db::{DbConn, SQLITE_MIGRATIONS, events, registrations};
    use crate::domain::{EventId, EventKind, EventStatus, RegistrationId, RegistrationStatus};
    use crate::error::AppError;

    /// A migrated in-memory database holding one event and one registration, whose columns
    /// are then set to `event_kind`, `event_status` and `registration_status` past the
    /// table's checks (as a hand edit or a newer version of Convene could leave them).
    fn database_with(event_kind: &str, event_status: &str, registration_status: &str) -> DbConn {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
        conn.batch_execute(
            "INSERT INTO events (id, slug, kind, title, timezone, starts_local, ends_local,
                starts_at, ends_at, created_at, updated_at, uid)
             VALUES (1, 'sprint', 'sprint', 'Sprint', 'UTC', '2030-01-01 09:00:00',
                '2030-01-01 17:00:00', '2030-01-01 09:00:00', '2030-01-01 17:00:00',
                '2029-12-01 00:00:00', '2029-12-01 00:00:00', 'u1');
             INSERT INTO registrations (id, event_id, name, email, email_normalized, status,
                manage_nonce, manage_token_hash, created_at, updated_at)
             VALUES (1, 1, 'Ada', 'ada@example.org', 'ada@example.org', 'going', 'n', 'h',
                '2029-12-01 00:00:00', '2029-12-01 00:00:00');
             PRAGMA ignore_check_constraints = ON;",
        )
        .unwrap();
        diesel::sql_query("UPDATE events SET kind = ?, status = ?")
            .bind::<diesel::sql_types::Text, _>(event_kind)
            .bind::<diesel::sql_types::Text, _>(event_status)
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query("UPDATE registrations SET status = ?")
            .bind::<diesel::sql_types::Text, _>(registration_status)
            .execute(&mut conn)
            .unwrap();
        DbConn::Sqlite(conn)
    }

    fn message(result: Result<impl std::fmt::Debug, AppError>) -> String {
        match result {
            // The whole chain, as the log shows it: diesel names the field, the cause the value.
            Err(AppError::Internal(cause)) => format!("{cause:#}"),
            other => panic!("expected a read error, got {other:?}"),
        }
    }

    #[test]
    fn known_values_read_back_as_the_domain_words() {
        let mut conn = database_with("hack-in", "cancelled", "waitlisted");
        let event = events::find(&mut conn, EventId::new(1)).unwrap();
        assert_eq!(
            (event.kind, event.status),
            (EventKind::HackIn, EventStatus::Cancelled)
        );
        let registration = registrations::find(&mut conn, RegistrationId::new(1)).unwrap();
        assert_eq!(registration.status, RegistrationStatus::Waitlisted);
    }

    #[test]
    fn an_unknown_registration_status_fails_the_read_by_name() {
        let mut conn = database_with("sprint", "scheduled", "maybe");
        let error = message(registrations::find(&mut conn, RegistrationId::new(1)));
        assert!(
            error.contains("registrations.status holds the unknown value `maybe`"),
            "{error}"
        );
        assert!(error.contains("going, waitlisted, cancelled"), "{error}");
    }

    #[test]
    fn an_unknown_event_status_or_kind_fails_the_read_by_name() {
        let mut conn = database_with("sprint", "postponed", "going");
        let error = message(events::find(&mut conn, EventId::new(1)));
        assert!(
            error.contains("events.status holds the unknown value `postponed`"),
            "{error}"
        );
        let mut conn = database_with("party", "scheduled", "going");
        let error = message(events::find_by_slug(&mut conn, "sprint"));
        assert!(
            error.contains("events.kind holds the unknown value `party`"),
            "{error}"
        );
        // A registration read with its event fails too: nothing is read past the bad value.
        let error =
            message(registrations::for_mail(&mut conn, &[RegistrationId::new(1)]).map(|m| m.len()));
        assert!(error.contains("events.kind"), "{error}");
    }
}
