//! How many signup mails one mailbox may receive. Anyone can type any address into a signup
//! form, and `+tag` variants of one address reach one inbox, so these mails are counted per
//! mailbox (`EmailAddress::mailbox_key`) in two fixed windows: an hour and a day.

use chrono::{Duration, NaiveDateTime};

/// Signup mails (confirmations and "already registered" notes) per mailbox in one hour: a
/// person signing up for a few events of a sprint day gets every confirmation.
pub const PER_HOUR: i32 = 5;
/// And in one day, so that a patient sender cannot reach 24 × `PER_HOUR`.
pub const PER_DAY: i32 = 20;

/// The reason recorded in the outbox for a mail the budget held back.
pub fn held_back_reason() -> String {
    format!(
        "not sent: this mailbox had its share of signup mail (at most {PER_HOUR} an hour, {PER_DAY} a day)"
    )
}

/// One mailbox's count in the current windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailBudget {
    pub hour_started_at: NaiveDateTime,
    pub hour_count: i32,
    pub day_started_at: NaiveDateTime,
    pub day_count: i32,
}

impl MailBudget {
    /// A mailbox that has had no signup mail.
    pub fn fresh(now: NaiveDateTime) -> Self {
        Self {
            hour_started_at: now,
            hour_count: 0,
            day_started_at: now,
            day_count: 0,
        }
    }

    /// Spends one mail when one is `wanted` and both windows have room. Returns the budget to
    /// keep and whether the mail may go. Windows that have ended start again at `now`.
    pub fn spend(self, now: NaiveDateTime, wanted: bool) -> (Self, bool) {
        let mut next = self;
        if now >= self.hour_started_at + Duration::hours(1) || now < self.hour_started_at {
            next.hour_started_at = now;
            next.hour_count = 0;
        }
        if now >= self.day_started_at + Duration::days(1) || now < self.day_started_at {
            next.day_started_at = now;
            next.day_count = 0;
        }
        let allowed = wanted && next.hour_count < PER_HOUR && next.day_count < PER_DAY;
        if allowed {
            next.hour_count += 1;
            next.day_count += 1;
        }
        (next, allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .unwrap()
            .naive_utc()
            + Duration::minutes(minutes)
    }

    fn send(budget: &mut MailBudget, now: NaiveDateTime) -> bool {
        let (next, allowed) = budget.spend(now, true);
        *budget = next;
        allowed
    }

    #[test]
    fn an_hour_holds_five_and_the_next_hour_five_more() {
        let mut budget = MailBudget::fresh(at(0));
        let first: Vec<bool> = (0..8).map(|i| send(&mut budget, at(i))).collect();
        assert_eq!(first, [true, true, true, true, true, false, false, false]);
        assert!(send(&mut budget, at(60)), "a new hour has room again");
    }

    #[test]
    fn a_day_holds_twenty() {
        let mut budget = MailBudget::fresh(at(0));
        let sent = (0..24 * 12)
            .filter(|i| send(&mut budget, at(i * 5)))
            .count();
        assert_eq!(sent, PER_DAY as usize);
        assert!(send(&mut budget, at(24 * 60)), "the next day starts afresh");
    }

    #[test]
    fn a_mail_not_wanted_spends_nothing() {
        let budget = MailBudget::fresh(at(0));
        let (next, allowed) = budget.spend(at(1), false);
        assert!(!allowed);
        assert_eq!((next.hour_count, next.day_count), (0, 0));
    }

    #[test]
    fn a_clock_set_back_starts_new_windows() {
        let mut budget = MailBudget::fresh(at(100));
        for i in 0..5 {
            send(&mut budget, at(100 + i));
        }
        assert!(send(&mut budget, at(10)));
    }
}
