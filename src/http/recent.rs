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
/// The longest a reader waits for another to read what both missed.
pub const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// Entries kept; beyond this the cache starts afresh (keys come from URLs).
const CAPACITY: usize = 1024;

struct Entry<V> {
    generation: u64,
    read_at: NaiveDateTime,
    read: Instant,
    value: V,
}

/// What a reader's turn comes to: a value another reader kept since it asked, or the turn to
/// read it itself (held until dropped; none if the wait ran out).
pub enum Turned<V> {
    Kept(V),
    Yours(Option<tokio::sync::OwnedMutexGuard<()>>),
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
    /// Waits for the turn to read `key` anew, for a reader that missed it when the process
    /// had finished `generation` writes. When an entry runs out, every reader of a busy page
    /// misses it at once; with a turn, one of them reads (of a 50,000-person event that takes
    /// a while) and the others take its result: any value read after they asked is as good
    /// as one they would have read themselves. A reader that waits longer than [`TURN_WAIT`]
    /// (the database is slow or down, and reads fail one after another) reads without a turn,
    /// as every reader did before turns.
    pub async fn after_turn(&self, key: &str, generation: u64) -> Turned<V> {
        self.after_turn_within(key, generation, TURN_WAIT).await
    }

    async fn after_turn_within(
        &self,
        key: &str,
        generation: u64,
        wait: std::time::Duration,
    ) -> Turned<V> {
        let asked = Instant::now();
        let turn = {
            let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
            if turns.len() >= CAPACITY && !turns.contains_key(key) {
                // Only the turns nobody holds or waits for go.
                turns.retain(|_, turn| Arc::strong_count(turn) > 1);
            }
            turns.entry(key.to_owned()).or_default().clone()
        };
        let turn = tokio::time::timeout(wait, turn.lock_owned()).await.ok();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(key) {
            Some(entry) if entry.generation >= generation && entry.read >= asked => {
                Turned::Kept(entry.value.clone())
            }
            _ => Turned::Yours(turn),
        }
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
        let Turned::Yours(Some(first)) = recent.after_turn("page", 1).await else {
            panic!("the first reader gets the turn");
        };
        // Another key has a turn of its own.
        assert!(matches!(
            recent.after_turn("other page", 1).await,
            Turned::Yours(Some(_))
        ));
        let waiting = tokio::spawn({
            let recent = recent.clone();
            async move {
                match recent.after_turn("page", 1).await {
                    Turned::Kept(value) => Some(value),
                    Turned::Yours(_) => None,
                }
            }
        });
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "the second reader waits for the first"
        );
        // A write happened meanwhile, and the clock moved on: the value was still read after
        // the second reader asked, so it takes it.
        recent.put("page", 2, at(5), "rendered once");
        drop(first);
        assert_eq!(waiting.await.unwrap(), Some("rendered once"));
        // A value kept before a reader asked is not taken.
        let later = recent.after_turn("page", 3).await;
        assert!(matches!(later, Turned::Yours(Some(_))));
    }

    #[tokio::test]
    async fn a_reader_waits_for_its_turn_a_bounded_time() {
        let recent: Recent<&str> = Recent::default();
        let _held = recent.after_turn("page", 1).await;
        let wait = std::time::Duration::from_millis(20);
        let waited = recent.after_turn_within("page", 1, wait).await;
        assert!(
            matches!(waited, Turned::Yours(None)),
            "it reads without a turn"
        );
    }

    #[test]
    fn the_turns_stay_bounded() {
        let recent: Recent<()> = Recent::default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            for i in 0..(CAPACITY + 10) {
                drop(recent.after_turn(&i.to_string(), 0).await);
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
