//! The signup-mail budget of each mailbox (see `domain::mail_budget`). Every signup runs the
//! same three statements here, whether or not a mail is wanted, so that the time a signup
//! takes does not tell whether the address was registered.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::upsert::excluded;

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
    let kept: Option<(NaiveDateTime, i32, NaiveDateTime, i32)> = mail_budgets::table
        .find(mailbox)
        .select((
            mail_budgets::hour_started_at,
            mail_budgets::hour_count,
            mail_budgets::day_started_at,
            mail_budgets::day_count,
        ))
        .get_result(conn)
        .optional()?;
    let budget = kept.map_or_else(
        || MailBudget::fresh(now),
        |(hour_started_at, hour_count, day_started_at, day_count)| MailBudget {
            hour_started_at,
            hour_count,
            day_started_at,
            day_count,
        },
    );
    let (next, allowed) = budget.spend(now, wanted);
    let row = (
        mail_budgets::mailbox.eq(mailbox),
        mail_budgets::hour_started_at.eq(next.hour_started_at),
        mail_budgets::hour_count.eq(next.hour_count),
        mail_budgets::day_started_at.eq(next.day_started_at),
        mail_budgets::day_count.eq(next.day_count),
    );
    let update = (
        mail_budgets::hour_started_at.eq(excluded(mail_budgets::hour_started_at)),
        mail_budgets::hour_count.eq(excluded(mail_budgets::hour_count)),
        mail_budgets::day_started_at.eq(excluded(mail_budgets::day_started_at)),
        mail_budgets::day_count.eq(excluded(mail_budgets::day_count)),
    );
    // Upserts do not build on the multi-backend connection.
    match conn {
        DbConn::Postgres(pg) => diesel::insert_into(mail_budgets::table)
            .values(row)
            .on_conflict(mail_budgets::mailbox)
            .do_update()
            .set(update)
            .execute(pg)?,
        DbConn::Sqlite(lite) => diesel::insert_into(mail_budgets::table)
            .values(row)
            .on_conflict(mail_budgets::mailbox)
            .do_update()
            .set(update)
            .execute(lite)?,
    };
    Ok(allowed)
}
