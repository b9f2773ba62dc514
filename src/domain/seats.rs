//! The signup rules: who gets a seat, who waits, and who moves up. Pure functions over counts;
//! the database layer calls them while it holds the event's write lock.

use super::ids::RegistrationId;

/// Where a new registration lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seat {
    Going,
    Waitlisted,
}

/// A newcomer gets a seat only when one is free and nobody is already waiting for it: the
/// waitlist is first come, first served, so a newcomer never overtakes it.
pub fn seat_for_newcomer(capacity: Option<u32>, going: u32, waitlisted: u32) -> Seat {
    if waitlisted > 0 {
        return Seat::Waitlisted;
    }
    match capacity {
        Some(limit) if going >= limit => Seat::Waitlisted,
        _ => Seat::Going,
    }
}

/// How many people at the head of the waitlist move up now. Used after a cancellation and after
/// a capacity change; lowering the capacity below the number going removes nobody (the result
/// is then simply zero).
pub fn promotions_due(capacity: Option<u32>, going: u32, waitlisted: u32) -> u32 {
    match capacity {
        None => waitlisted,
        Some(limit) => limit.saturating_sub(going).min(waitlisted),
    }
}

/// Whether a project table still has room for one more person.
pub fn project_has_room(capacity: Option<u32>, joined: u32) -> bool {
    capacity.is_none_or(|limit| joined < limit)
}

/// What a signup did. The HTTP answer is the same for both; only the email differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupOutcome {
    Registered {
        registration_id: RegistrationId,
        seat: Seat,
    },
    AlreadyRegistered {
        registration_id: RegistrationId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seats_then_waitlist() {
        assert_eq!(seat_for_newcomer(Some(2), 0, 0), Seat::Going);
        assert_eq!(seat_for_newcomer(Some(2), 1, 0), Seat::Going);
        assert_eq!(seat_for_newcomer(Some(2), 2, 0), Seat::Waitlisted);
        assert_eq!(seat_for_newcomer(Some(0), 0, 0), Seat::Waitlisted);
        assert_eq!(seat_for_newcomer(None, 10_000, 0), Seat::Going);
        // A free seat with people waiting belongs to the waitlist, not to the newcomer.
        assert_eq!(seat_for_newcomer(Some(5), 4, 1), Seat::Waitlisted);
    }

    #[test]
    fn promotions() {
        assert_eq!(promotions_due(Some(10), 8, 5), 2);
        assert_eq!(
            promotions_due(Some(10), 12, 5),
            0,
            "lowering capacity removes nobody"
        );
        assert_eq!(promotions_due(None, 3, 4), 4);
        assert_eq!(promotions_due(Some(10), 2, 0), 0);
    }

    #[derive(Debug, Clone)]
    enum Step {
        SignUp,
        CancelGoing,
        CancelWaiting,
        SetCapacity(Option<u32>),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => Just(Step::SignUp),
            2 => Just(Step::CancelGoing),
            1 => Just(Step::CancelWaiting),
            1 => proptest::option::of(0u32..30).prop_map(Step::SetCapacity),
        ]
    }

    proptest! {
        /// Whatever happens, a free seat never sits beside a non-empty waitlist, and nobody is
        /// seated beyond the capacity unless they were seated before it was lowered.
        #[test]
        fn waitlist_invariants(initial in proptest::option::of(0u32..30), steps in proptest::collection::vec(step(), 0..200)) {
            let mut capacity = initial;
            let (mut going, mut waiting) = (0u32, 0u32);
            let mut high_water = 0u32;
            for step in steps {
                let before = going;
                match step {
                    Step::SignUp => match seat_for_newcomer(capacity, going, waiting) {
                        Seat::Going => going += 1,
                        Seat::Waitlisted => waiting += 1,
                    },
                    Step::CancelGoing if going > 0 => going -= 1,
                    Step::CancelWaiting if waiting > 0 => waiting -= 1,
                    Step::SetCapacity(c) => capacity = c,
                    _ => {}
                }
                let moving = promotions_due(capacity, going, waiting);
                going += moving;
                waiting -= moving;
                high_water = high_water.max(before);
                if let Some(limit) = capacity {
                    prop_assert!(going <= limit.max(before), "seated beyond capacity");
                    prop_assert!(waiting == 0 || going >= limit, "free seat beside a waitlist");
                } else {
                    prop_assert_eq!(waiting, 0);
                }
            }
        }
    }
}

/// How long before the start people can check in at a table: doors open a little early.
pub const CHECK_IN_OPENS_BEFORE_MINUTES: i64 = 60;

/// Why nobody can check in at `now` to an event running from `starts_at` to `ends_at`
/// (instants): check-in counts on the board only while the event runs, from an hour before.
pub fn check_in_closed_reason(
    starts_at: chrono::NaiveDateTime,
    ends_at: chrono::NaiveDateTime,
    now: chrono::NaiveDateTime,
) -> Option<&'static str> {
    let opens = starts_at - chrono::Duration::minutes(CHECK_IN_OPENS_BEFORE_MINUTES);
    if now < opens {
        Some("check-in opens an hour before the event starts")
    } else if now >= ends_at {
        Some("the event is over; check-in has closed")
    } else {
        None
    }
}

#[cfg(test)]
mod check_in_tests {
    use super::*;

    #[test]
    fn check_in_is_open_from_an_hour_before_the_start_until_the_end() {
        let at = |h: u32, m: u32| {
            chrono::NaiveDate::from_ymd_opt(2027, 3, 6)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
        };
        let (start, end) = (at(9, 0), at(17, 0));
        assert!(check_in_closed_reason(start, end, at(7, 59)).is_some());
        assert_eq!(check_in_closed_reason(start, end, at(8, 0)), None);
        assert_eq!(check_in_closed_reason(start, end, at(16, 59)), None);
        assert_eq!(
            check_in_closed_reason(start, end, at(17, 0)),
            Some("the event is over; check-in has closed")
        );
    }
}
