//! The service's notion of "now", injectable so that tests can move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{NaiveDateTime, Utc};

/// The wall clock plus an offset that tests may advance.
#[derive(Clone, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// The current UTC time, truncated to microseconds as both databases store it.
    pub fn now(&self) -> NaiveDateTime {
        let now =
            Utc::now() + chrono::Duration::seconds(self.offset_seconds.load(Ordering::Relaxed));
        let naive = now.naive_utc();
        chrono::DateTime::from_timestamp_micros(naive.and_utc().timestamp_micros())
            .map_or(naive, |d| d.naive_utc())
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_seconds
            .fetch_add(by.num_seconds(), Ordering::Relaxed);
    }
}
