//! The signup-mail budget of each mailbox (see `domain::mail_budget`). Every signup runs the
//! same four statements here, whether or not a mail is wanted, so that the time a signup
//! takes does not tell whether the address was registered.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::DbConn;
use super::schema::mail_budgets;
use crate::domain::mail_budget::MailBudget;
use crate::error::AppError;

/// Spends one signup mail of `mailbox` when one is `wanted`; returns whether it may go. Rows
/// of mailboxes whose day has ended are removed on the way, so the table holds only the
/// mailboxes mailed in the last day. Runs inside the signup's write transaction.
pub fn spend(
    conn: &mut DbConn,
    mailbox: &str,
    wanted: bool,
    now: NaiveDateTime,
) -> Result<bool, AppError> {
    diesel::delete(
        mail_budgets::table.filter(mail_budgets::day_started_at.lt(now - Duration::days(1))),
    )
    .execute(conn)?;
    // The row exists before it is read, so that on PostgreSQL the read can lock it: two
    // signups of one mailbox at two events (not serialised by an event's lock) then count
    // one after the other instead of both reading the same count.
    let fresh = MailBudget::fresh(now);
    let row = (
        mail_budgets::mailbox.eq(mailbox),
        mail_budgets::hour_started_at.eq(fresh.hour_started_at),
        mail_budgets::hour_count.eq(fresh.hour_count),
        mail_budgets::day_started_at.eq(fresh.day_started_at),
        mail_budgets::day_count.eq(fresh.day_count),
    );
    let columns = (
        mail_budgets::hour_started_at,
        mail_budgets::hour_count,
        mail_budgets::day_started_at,
        mail_budgets::day_count,
    );
    // Upserts and row locks do not build on the multi-backend connection.
    let (hour_started_at, hour_count, day_started_at, day_count): (
        NaiveDateTime,
        i32,
        NaiveDateTime,
        i32,
    ) = match conn {
        DbConn::Postgres(pg) => {
            diesel::insert_into(mail_budgets::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(pg)?;
            mail_budgets::table
                .find(mailbox)
                .select(columns)
                .for_update()
                .get_result(pg)?
        }
        DbConn::Sqlite(lite) => {
            diesel::insert_into(mail_budgets::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(lite)?;
            // The transaction holds SQLite's write lock already.
            mail_budgets::table
                .find(mailbox)
                .select(columns)
                .get_result(lite)?
        }
    };
    let budget = MailBudget {
        hour_started_at,
        hour_count,
        day_started_at,
        day_count,
    };
    let (next, allowed) = budget.spend(now, wanted);
    diesel::update(mail_budgets::table.find(mailbox))
        .set((
            mail_budgets::hour_started_at.eq(next.hour_started_at),
            mail_budgets::hour_count.eq(next.hour_count),
            mail_budgets::day_started_at.eq(next.day_started_at),
            mail_budgets::day_count.eq(next.day_count),
        ))
        .execute(conn)?;
    Ok(allowed)
}
