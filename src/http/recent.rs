//! Recently read results, kept for a moment so that a popular page or feed is not read from
//! the database for every request.
//!
//! An entry is used only while both hold:
//! - this process has finished no write transaction since the entry was read
//!   ([`Db::generation`](crate::db::Db::generation) is unchanged), so a change made here is
//!   seen by the very next request;
//! - it is younger than [`FRESH_FOR`], both by the service's clock (which tests move) and by
//!   the monotonic clock, which bounds how late a change made by another instance on the same
//!   PostgreSQL database shows up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Duration, NaiveDateTime};

/// How long a result read here may be reused when other instances may write.
pub const FRESH_FOR: Duration = Duration::seconds(1);
/// Entries kept; beyond this the cache starts afresh (keys come from URLs).
const CAPACITY: usize = 1024;

struct Entry<V> {
    generation: u64,
    read_at: NaiveDateTime,
    read: Instant,
    value: V,
}

pub struct Recent<V> {
    entries: Mutex<HashMap<String, Entry<V>>>,
    /// A turn per key for reading what is missing (see [`Recent::turn`]).
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl<V> Default for Recent<V> {
    fn default() -> Self {
        Recent {
            entries: Mutex::new(HashMap::new()),
            turns: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> Recent<V> {
    /// Waits for the turn to read `key` anew. When an entry runs out, every reader of a busy
    /// page misses it at once; with a turn, one of them reads (of a 50,000-person event that
    /// takes a while) and the others, after their wait, find its result kept. A holder
    /// checks [`Recent::get`] again first.
    pub async fn turn(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let turn = {
            let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
            if turns.len() >= CAPACITY && !turns.contains_key(key) {
                // Only the turns nobody holds or waits for go.
                turns.retain(|_, turn| Arc::strong_count(turn) > 1);
            }
            turns.entry(key.to_owned()).or_default().clone()
        };
        turn.lock_owned().await
    }

    /// The value kept under `key`, if it is still current.
    pub fn get(&self, key: &str, generation: u64, now: NaiveDateTime) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(key)?;
        let age = now - entry.read_at;
        let fresh = age >= Duration::zero()
            && age < FRESH_FOR
            && entry.read.elapsed() < FRESH_FOR.to_std().unwrap_or_default();
        (entry.generation == generation && fresh).then(|| entry.value.clone())
    }

    /// Keeps `value`, read after `generation` was taken and at `now`.
    pub fn put(&self, key: &str, generation: u64, now: NaiveDateTime, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(
            key.to_owned(),
            Entry {
                generation,
                read_at: now,
                read: Instant::now(),
                value,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn a_value_is_reused_only_while_nothing_was_written_and_it_is_fresh() {
        let recent = Recent::default();
        recent.put("k", 7, at(0), "v");
        assert_eq!(recent.get("k", 7, at(0)), Some("v"));
        assert_eq!(recent.get("other", 7, at(0)), None);
        // A write in this process.
        assert_eq!(recent.get("k", 8, at(0)), None);
        // Too old: another instance may have written.
        assert_eq!(recent.get("k", 7, at(1)), None);
        // A clock that went back does not make it fresh for longer.
        assert_eq!(recent.get("k", 7, at(-5)), None);
    }

    #[tokio::test]
    async fn one_reader_at_a_time_reads_a_key_anew_and_the_next_finds_its_result() {
        let recent = Arc::new(Recent::default());
        let first = recent.turn("page").await;
        // Another key has a turn of its own.
        drop(recent.turn("other page").await);
        let waiting = tokio::spawn({
            let recent = recent.clone();
            async move {
                let _turn = recent.turn("page").await;
                recent.get("page", 1, at(0))
            }
        });
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "the second reader waits for the first"
        );
        recent.put("page", 1, at(0), "rendered once");
        drop(first);
        assert_eq!(waiting.await.unwrap(), Some("rendered once"));
    }

    #[test]
    fn the_turns_stay_bounded() {
        let recent: Recent<()> = Recent::default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            for i in 0..(CAPACITY + 10) {
                drop(recent.turn(&i.to_string()).await);
            }
        });
        assert!(recent.turns.lock().unwrap().len() <= CAPACITY);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let recent = Recent::default();
        for i in 0..(CAPACITY + 10) {
            recent.put(&i.to_string(), 0, at(0), i);
        }
        assert!(recent.entries.lock().unwrap().len() <= CAPACITY);
        assert_eq!(
            recent.get(&(CAPACITY + 9).to_string(), 0, at(0)),
            Some(CAPACITY + 9)
        );
    }
}
