//! `convene export` / `convene import`: every table as JSON lines, to move a deployment from
//! SQLite to PostgreSQL (or back, or to a new server). The first line names the format and
//! the migrations the data was written under; each further line is one row:
//! `{"table":"events","row":{...}}`. Ids are kept, so every emailed manage link, feed link
//! and unsubscribe link keeps working when the same secret key comes along.

use std::io::{BufRead, Write};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::DbConn;
use super::schema;
use crate::error::AppError;

/// The format of the file; a reader refuses any other.
pub const FORMAT: &str = "convene-export/1";

/// Row types with every column of each table, in the order rows must be inserted so that
/// every foreign key finds its target.
macro_rules! tables {
    ($($table:ident => $Row:ident { $($(#[$meta:meta])* $column:ident : $ty:ty),* $(,)? })*) => {
        $(
            #[derive(Debug, Serialize, Deserialize, Queryable, Selectable, Insertable)]
            #[diesel(table_name = schema::$table)]
            struct $Row { $($(#[$meta])* $column: $ty),* }
        )*

        /// Tables in insertion order.
        pub const TABLES: &[&str] = &[$(stringify!($table)),*];

        fn export_all(conn: &mut DbConn, out: &mut dyn Write) -> Result<Counts, AppError> {
            let mut counts = Counts::default();
            $(
                let rows: Vec<$Row> = schema::$table::table
                    .select($Row::as_select())
                    .load(conn)?;
                for row in rows {
                    let line = serde_json::json!({ "table": stringify!($table), "row": row });
                    writeln!(out, "{line}").map_err(write_error)?;
                    counts.add(stringify!($table));
                }
            )*
            Ok(counts)
        }

        fn insert_line(conn: &mut DbConn, table: &str, row: serde_json::Value) -> Result<(), String> {
            match table {
                $(
                    stringify!($table) => {
                        let row: $Row = serde_json::from_value(row).map_err(|e| e.to_string())?;
                        diesel::insert_into(schema::$table::table)
                            .values(&row)
                            .execute(conn)
                            .map_err(|e| e.to_string())?;
                        Ok(())
                    }
                )*
                other => Err(format!("unknown table `{other}`")),
            }
        }

        /// Whether any table holds a row.
        fn any_rows(conn: &mut DbConn) -> Result<bool, AppError> {
            $(
                let n: i64 = schema::$table::table.count().get_result(conn)?;
                if n > 0 {
                    return Ok(true);
                }
            )*
            Ok(false)
        }
    };
}

tables! {
    organizers => Organizer {
        id: i64, email: String, email_normalized: String, name: String, password_hash: String,
        created_at: NaiveDateTime,
    }
    api_tokens => ApiToken {
        id: i64, organizer_id: i64, token_hash: String, label: String, created_at: NaiveDateTime,
        expires_at: Option<NaiveDateTime>, last_used_at: Option<NaiveDateTime>,
    }
    sessions => Session {
        id: i64, token_hash: String, organizer_id: i64, created_at: NaiveDateTime,
        expires_at: NaiveDateTime,
    }
    events => Event {
        id: i64, slug: String, kind: String, title: String, summary: String, description: String,
        timezone: String, all_day: bool, starts_local: NaiveDateTime, ends_local: NaiveDateTime,
        starts_at: NaiveDateTime, ends_at: NaiveDateTime, venue: String, address: String,
        online_url: Option<String>, capacity: Option<i32>, going_count: i32, waitlist_seq: i64,
        signup_opens_at: Option<NaiveDateTime>, signup_closes_at: Option<NaiveDateTime>,
        status: String, revision: i32, created_at: NaiveDateTime, updated_at: NaiveDateTime,
        uid: String, reminder_offsets: Option<String>,
        // Columns added after the first release: a file of an older release has none (a
        // missing Option is None).
        #[serde(default)] contact_name: String,
        contact_email: Option<String>, latitude: Option<f64>, longitude: Option<f64>,
        published_at: Option<NaiveDateTime>,
    }
    projects => Project {
        id: i64, event_id: i64, slug: String, name: String, description: String,
        repository_url: Option<String>, notes_url: Option<String>, location: String,
        capacity: Option<i32>, created_at: NaiveDateTime, updated_at: NaiveDateTime,
        uid: String, revision: i32, now_line: String, next_line: String,
        board_updated_at: Option<NaiveDateTime>,
    }
    project_leads => ProjectLead {
        id: i64, project_id: i64, position: i32, name: String, email: Option<String>,
    }
    attendees => Attendee {
        id: i64, email_normalized: String, feed_nonce: String, feed_token_hash: String,
        created_at: NaiveDateTime, updated_at: NaiveDateTime, feed_alarm_minutes: Option<i32>,
    }
    registrations => Registration {
        id: i64, event_id: i64, name: String, email: String, email_normalized: String,
        status: String, waitlist_seq: Option<i64>, manage_nonce: String,
        manage_token_hash: String, created_at: NaiveDateTime, updated_at: NaiveDateTime,
        muted: bool,
        #[serde(default)] show_name: bool,
    }
    registration_projects => RegistrationProject {
        registration_id: i64, project_id: i64,
    }
    lead_links => LeadLink {
        id: i64, project_id: i64, email: String, email_normalized: String, name: String,
        nonce: String, token_hash: String, created_at: NaiveDateTime,
    }
    slots => Slot {
        id: i64, event_id: i64, project_id: i64, uid: String, title: String, room: String,
        starts_at: NaiveDateTime, ends_at: NaiveDateTime, revision: i32,
        created_at: NaiveDateTime, updated_at: NaiveDateTime,
    }
    checkins => Checkin {
        id: i64, registration_id: i64, project_id: i64, checked_in_at: NaiveDateTime,
        expires_at: NaiveDateTime, checked_out_at: Option<NaiveDateTime>,
    }
    outbox => OutboxMessage {
        id: i64, message_id: String, kind: String, event_id: Option<i64>,
        registration_id: Option<i64>, recipient: String, payload: String,
        dedupe_key: Option<String>, created_at: NaiveDateTime, available_at: NaiveDateTime,
        attempts: i32, last_error: Option<String>, claimed_by: Option<String>,
        claimed_until: Option<NaiveDateTime>, sent_at: Option<NaiveDateTime>,
        failed_at: Option<NaiveDateTime>, skipped_at: Option<NaiveDateTime>,
    }
}

/// Rows per table, in insertion order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts(pub Vec<(String, usize)>);

impl Counts {
    fn add(&mut self, table: &str) {
        match self.0.iter_mut().find(|(t, _)| t == table) {
            Some((_, n)) => *n += 1,
            None => self.0.push((table.to_owned(), 1)),
        }
    }

    pub fn total(&self) -> usize {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(t, n)| format!("{t}: {n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

fn write_error(e: std::io::Error) -> AppError {
    AppError::config(format!("cannot write the export: {e}"))
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: String,
    migrations: Vec<String>,
}

fn applied_migrations(conn: &mut DbConn) -> Result<Vec<String>, AppError> {
    fn versions<C, B>(c: &mut C) -> Result<Vec<String>, AppError>
    where
        B: diesel::backend::Backend,
        C: diesel_migrations::MigrationHarness<B> + diesel::migration::MigrationConnection,
    {
        c.setup()?;
        let mut versions: Vec<String> = c
            .applied_migrations()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?
            .into_iter()
            .map(|v| v.to_string())
            .collect();
        versions.sort();
        Ok(versions)
    }
    match conn {
        DbConn::Sqlite(c) => versions(c),
        DbConn::Postgres(c) => versions(c),
    }
}

/// Writes the whole database to `out`, inside one read transaction so the copy is
/// consistent even while the service runs.
pub fn export(conn: &mut DbConn, out: &mut dyn Write) -> Result<Counts, AppError> {
    conn.transaction(|conn| {
        let header = Header {
            format: FORMAT.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            migrations: applied_migrations(conn)?,
        };
        let header = serde_json::to_string(&header).map_err(|e| AppError::Internal(e.into()))?;
        writeln!(out, "{header}").map_err(write_error)?;
        let counts = export_all(conn, out)?;
        out.flush().map_err(write_error)?;
        Ok(counts)
    })
}

/// The migration that brought drafts: an export written before it has only published events.
const DRAFTS_MIGRATION: &str = "20261208000110";

#[derive(Deserialize)]
struct Line {
    table: String,
    row: serde_json::Value,
}

/// Reads an export into this (migrated, empty) database in one transaction: all of it or,
/// on any problem, nothing. Errors name the line.
pub fn import(conn: &mut DbConn, input: &mut dyn BufRead) -> Result<Counts, AppError> {
    let mut lines = input.lines().enumerate();
    let header: Header = match lines.next() {
        Some((_, Ok(line))) => serde_json::from_str(&line).map_err(|_| {
            AppError::config("this is not a Convene export (its first line is not the header)")
        })?,
        Some((_, Err(e))) => return Err(AppError::config(format!("cannot read the export: {e}"))),
        None => return Err(AppError::config("the export is empty")),
    };
    if header.format != FORMAT {
        return Err(AppError::config(format!(
            "the export is in format `{}`; this version of Convene reads `{FORMAT}`",
            header.format
        )));
    }
    let ours = applied_migrations(conn)?;
    if let Some(newer) = header.migrations.iter().find(|m| !ours.contains(m)) {
        return Err(AppError::config(format!(
            "the export was written by a newer Convene (migration {newer} is unknown here); upgrade this one first"
        )));
    }
    super::write_transaction(conn, |conn| {
        if any_rows(conn)? {
            return Err(AppError::config(
                "the target database already holds data; import only into an empty database",
            ));
        }
        let mut counts = Counts::default();
        for (index, line) in lines {
            let number = index + 1;
            let line = line.map_err(|e| AppError::config(format!("line {number}: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            let Line { table, row } = serde_json::from_str(&line)
                .map_err(|e| AppError::config(format!("line {number}: {e}")))?;
            insert_line(conn, &table, row)
                .map_err(|e| AppError::config(format!("line {number} ({table}): {e}")))?;
            counts.add(&table);
        }
        if !header
            .migrations
            .iter()
            .any(|m| m.as_str() == DRAFTS_MIGRATION)
        {
            // A release before drafts published every event it had.
            diesel::update(super::schema::events::table)
                .set(
                    super::schema::events::published_at
                        .eq(super::schema::events::created_at.nullable()),
                )
                .execute(conn)?;
        }
        if let DbConn::Postgres(pg) = conn {
            // Ids were copied; the sequences must continue after them.
            for table in TABLES.iter().filter(|t| **t != "registration_projects") {
                diesel::sql_query(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ))
                .execute(pg)?;
            }
        }
        Ok(counts)
    })
}

#[cfg(test)]
mod older_files {
    #[test]
    fn an_event_row_of_an_older_release_reads_with_the_new_columns_empty() {
        let row = serde_json::json!({
            "id": 1, "slug": "s", "kind": "sprint", "title": "S", "summary": "", "description": "",
            "timezone": "UTC", "all_day": false, "starts_local": "2030-01-01T09:00:00",
            "ends_local": "2030-01-01T17:00:00", "starts_at": "2030-01-01T09:00:00",
            "ends_at": "2030-01-01T17:00:00", "venue": "", "address": "", "online_url": null,
            "capacity": null, "going_count": 0, "waitlist_seq": 0, "signup_opens_at": null,
            "signup_closes_at": null, "status": "scheduled", "revision": 0,
            "created_at": "2029-12-01T00:00:00", "updated_at": "2029-12-01T00:00:00",
            "uid": "u", "reminder_offsets": null,
        });
        let event: super::Event = serde_json::from_value(row).unwrap();
        assert_eq!((event.contact_name.as_str(), event.latitude), ("", None));
        let attendee: super::Attendee = serde_json::from_value(serde_json::json!({
            "id": 1, "email_normalized": "a@example.org", "feed_nonce": "n", "feed_token_hash": "h",
            "created_at": "2029-12-01T00:00:00", "updated_at": "2029-12-01T00:00:00",
        }))
        .unwrap();
        assert_eq!(attendee.feed_alarm_minutes, None);
    }
}
