//! Rate limits against abuse: signups per client address, and failed logins per account and
//! address and per address (see `client` for how the address is found behind a proxy).
//! Addresses are counted as they arrive, IPv6 ones by their /64 network (one household or
//! one server gets a whole /64), and every map here stays bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

/// The key of a client address: IPv4 as it is, IPv6 by its /64; an unknown address shares
/// one key with every other unknown one.
pub fn client_key(client: Option<IpAddr>) -> IpAddr {
    match client {
        None => IpAddr::from([0, 0, 0, 0]),
        Some(IpAddr::V4(v4)) => IpAddr::V4(v4),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(network.into())
            }
        },
    }
}

/// How many keys a limiter holds before it forgets those whose budget is whole again.
const KEYS_BEFORE_PRUNING: usize = 10_000;

/// Signups per client address, as a token bucket: a burst of `per_minute`, then one every
/// `60 / per_minute` seconds. An address's entry is dropped once its bucket is full again
/// (within a minute of its last signup), so the map holds only the addresses of the last
/// minute.
pub struct SignupLimit {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    prune_above: AtomicUsize,
}

impl SignupLimit {
    /// `per_minute` 0 turns the limit off (for load tests on loopback).
    pub fn new(per_minute: u32) -> Self {
        SignupLimit {
            limiter: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            prune_above: AtomicUsize::new(KEYS_BEFORE_PRUNING),
        }
    }

    /// Ok when one more signup from `client` may go ahead; else the 429 to answer.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), AppError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let verdict = limiter.check_key(&client_key(client));
        // Pruning walks the whole map: done when it has doubled since the last walk, not on
        // every request.
        if limiter.len() > self.prune_above.load(Ordering::Relaxed) {
            limiter.retain_recent();
            self.prune_above.store(
                (limiter.len() * 2).max(KEYS_BEFORE_PRUNING),
                Ordering::Relaxed,
            );
        }
        verdict.map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::TooManyRequests {
                retry_after_secs: whole_seconds(wait),
                detail: "too many signups from your network address; try again later".into(),
            }
        })
    }
}

/// Seconds to tell a client to wait: rounded up, at least one.
fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

/// Failed logins one account may have from one address before its attempts are slowed.
pub const LOGIN_FREE_FAILURES: f64 = 10.0;
/// One of those failures is forgiven this often; while slowed, one attempt per account and
/// address is checked this often.
pub const LOGIN_PAIR_INTERVAL: Duration = Duration::from_secs(6);
/// Failed logins (over all accounts) one address may have before its attempts are slowed.
pub const LOGIN_ADDRESS_FREE_FAILURES: f64 = 20.0;
pub const LOGIN_ADDRESS_INTERVAL: Duration = Duration::from_secs(3);
/// The longest a slowed attempt is held before its check; beyond it the answer is 429.
pub const LOGIN_MAX_WAIT: Duration = Duration::from_secs(10);
/// Entries per ledger before the least suspicious are forgotten.
const LEDGER_CAP: usize = 10_000;

/// Failed logins per key, forgiven one per interval (a leaky bucket). Under the free count an
/// attempt goes ahead at once; over it, attempts take turns one interval apart, so a guesser
/// gets no more than one try per interval however many it sends at once, and a person with
/// the right password still gets in after a short wait instead of a wall.
struct Ledger<K> {
    entries: Mutex<HashMap<K, Failures>>,
    free: f64,
    interval: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    level: f64,
    counted_at: Instant,
    next_turn: Instant,
}

impl Failures {
    fn level(&self, now: Instant, interval: Duration) -> f64 {
        let forgiven =
            now.saturating_duration_since(self.counted_at).as_secs_f64() / interval.as_secs_f64();
        (self.level - forgiven).max(0.0)
    }
}

impl<K: std::hash::Hash + Eq + Clone> Ledger<K> {
    fn new(free: f64, interval: Duration) -> Self {
        Ledger {
            entries: Mutex::new(HashMap::new()),
            free,
            interval,
        }
    }

    /// How long an attempt for `key` must wait before its check, or Err with how long until
    /// a turn within `LOGIN_MAX_WAIT` is free.
    fn take_turn(&self, key: &K, now: Instant) -> Result<Duration, Duration> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = entries.get_mut(key) else {
            return Ok(Duration::ZERO);
        };
        // Slowed once the free failures are (nearly) used up: ten failures in quick
        // succession have already had a little of their count forgiven.
        if entry.level(now, self.interval) <= self.free - 1.0 {
            return Ok(Duration::ZERO);
        }
        let turn = entry.next_turn.max(now);
        let wait = turn - now;
        if wait > LOGIN_MAX_WAIT {
            return Err(wait - LOGIN_MAX_WAIT);
        }
        entry.next_turn = turn + self.interval;
        Ok(wait)
    }

    fn fail(&self, key: &K, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= LEDGER_CAP && !entries.contains_key(key) {
            self.forget_least(&mut entries, now);
        }
        let entry = entries.entry(key.clone()).or_insert(Failures {
            level: 0.0,
            counted_at: now,
            next_turn: now,
        });
        entry.level = entry.level(now, self.interval) + 1.0;
        entry.counted_at = now;
    }

    fn clear(&self, key: &K) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(key);
    }

    /// Takes back one failure counted ahead of its outcome.
    fn forgive_one(&self, key: &K, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(key) {
            entry.level = (entry.level(now, self.interval) - 1.0).max(0.0);
            entry.counted_at = now;
        }
    }

    /// Makes room: forgets every entry whose failures are forgiven, then, if that is not
    /// enough, the half with the fewest failures (a guesser's own entries rank highest, so
    /// flooding the ledger with fresh keys does not wipe them).
    fn forget_least(&self, entries: &mut HashMap<K, Failures>, now: Instant) {
        entries.retain(|_, f| f.level(now, self.interval) > 0.0 || f.next_turn > now);
        if entries.len() < LEDGER_CAP {
            return;
        }
        let mut levels: Vec<f64> = entries
            .values()
            .map(|f| f.level(now, self.interval))
            .collect();
        levels.sort_by(f64::total_cmp);
        let median = levels[levels.len() / 2];
        entries.retain(|_, f| f.level(now, self.interval) > median);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

/// The login limit: failures per (account, address) and per address; and, for a browser that
/// has logged into the account before (it shows the account's device cookie), per account on
/// such browsers only, so that guessers sharing its address cannot keep the organizer out.
pub struct LoginLimit {
    pairs: Ledger<(String, IpAddr)>,
    addresses: Ledger<IpAddr>,
    known_devices: Ledger<String>,
}

impl Default for LoginLimit {
    fn default() -> Self {
        LoginLimit {
            pairs: Ledger::new(LOGIN_FREE_FAILURES, LOGIN_PAIR_INTERVAL),
            addresses: Ledger::new(LOGIN_ADDRESS_FREE_FAILURES, LOGIN_ADDRESS_INTERVAL),
            known_devices: Ledger::new(LOGIN_FREE_FAILURES, LOGIN_PAIR_INTERVAL),
        }
    }
}

/// The account a login names, as counted: the typed address in lower case, bounded.
fn account_key(email: &str) -> String {
    email.trim().to_lowercase().chars().take(254).collect()
}

impl LoginLimit {
    /// How long a login attempt must wait before its password is checked; Err with the
    /// seconds after which to try again when even a wait would be too long.
    /// `known_device`: the browser showed this account's device cookie.
    pub fn admit(
        &self,
        client: Option<IpAddr>,
        email: &str,
        known_device: bool,
    ) -> Result<Duration, u64> {
        if known_device {
            return self.admit_known_device_at(email, Instant::now());
        }
        self.admit_at(client, email, Instant::now())
    }

    fn admit_known_device_at(&self, email: &str, now: Instant) -> Result<Duration, u64> {
        let account = account_key(email);
        let wait = self
            .known_devices
            .take_turn(&account, now)
            .map_err(whole_seconds)?;
        self.known_devices.fail(&account, now);
        Ok(wait)
    }

    fn admit_at(&self, client: Option<IpAddr>, email: &str, now: Instant) -> Result<Duration, u64> {
        let address = client_key(client);
        let pair = self
            .pairs
            .take_turn(&(account_key(email), address), now)
            .map_err(whole_seconds)?;
        let own = self
            .addresses
            .take_turn(&address, now)
            .map_err(whole_seconds)?;
        // Counted as a failure now, before the slow password check: attempts sent all at once
        // each see the ones before them (a success takes its count back, see `record`).
        self.pairs.fail(&(account_key(email), address), now);
        self.addresses.fail(&address, now);
        Ok(pair.max(own))
    }

    /// Records the outcome of a checked password, which `admit` counted as a failure already:
    /// a success forgives the account's failures from this address and takes back the one
    /// counted for the address.
    pub fn record(&self, client: Option<IpAddr>, email: &str, succeeded: bool, known_device: bool) {
        if known_device {
            if succeeded {
                self.known_devices.clear(&account_key(email));
            }
            return;
        }
        self.record_at(client, email, succeeded, Instant::now());
    }

    /// A failed attempt as `admit` counts it, without taking a turn: the tests' way of setting
    /// up earlier failures.
    #[cfg(test)]
    fn count_failure_at(&self, client: Option<IpAddr>, email: &str, now: Instant) {
        let address = client_key(client);
        self.pairs.fail(&(account_key(email), address), now);
        self.addresses.fail(&address, now);
    }

    fn record_at(&self, client: Option<IpAddr>, email: &str, succeeded: bool, now: Instant) {
        let address = client_key(client);
        let pair = (account_key(email), address);
        if succeeded {
            self.pairs.clear(&pair);
            self.addresses.forgive_one(&address, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)));

    #[test]
    fn each_address_has_its_own_signup_budget() {
        let limit = SignupLimit::new(5);
        for _ in 0..5 {
            assert!(limit.check(A).is_ok());
        }
        let refused = limit.check(A).unwrap_err();
        assert!(
            matches!(refused, AppError::TooManyRequests { retry_after_secs, .. } if (1..=12).contains(&retry_after_secs)),
            "{refused:?}"
        );
        assert!(limit.check(B).is_ok());
        let off = SignupLimit::new(0);
        assert!((0..1000).all(|_| off.check(A).is_ok()));
    }

    #[test]
    fn ipv6_counts_by_network() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(Some(one)), client_key(Some(same)));
        assert_ne!(client_key(Some(one)), client_key(Some(other)));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_key(Some(mapped)), client_key(A));
    }

    #[test]
    fn a_known_browser_is_not_held_up_by_guessers_at_its_address() {
        let limit = LoginLimit::default();
        let t = Instant::now();
        for _ in 0..40 {
            let _ = limit.admit_at(A, "o@example.org", t);
        }
        assert!(
            limit.admit_at(A, "o@example.org", t).is_err(),
            "the queue is full"
        );
        assert_eq!(
            limit.admit_known_device_at("o@example.org", t),
            Ok(Duration::ZERO)
        );
    }

    #[test]
    fn the_right_password_gets_through_after_failures_with_a_short_wait() {
        let limit = LoginLimit::default();
        let t = Instant::now();
        for _ in 0..10 {
            assert_eq!(limit.admit_at(A, "o@example.org", t), Ok(Duration::ZERO));
            limit.record_at(A, "o@example.org", false, t);
        }
        // The eleventh attempt has its turn at once, the next ones one interval apart.
        assert_eq!(limit.admit_at(A, "o@example.org", t), Ok(Duration::ZERO));
        assert_eq!(
            limit.admit_at(A, "O@Example.org ", t),
            Ok(LOGIN_PAIR_INTERVAL)
        );
        limit.record_at(A, "o@example.org", true, t);
        assert_eq!(
            limit.admit_at(A, "o@example.org", t),
            Ok(Duration::ZERO),
            "a success forgives that account's failures"
        );
        assert_eq!(
            limit.admit_at(A, "other@example.org", t),
            Ok(Duration::ZERO)
        );
        assert_eq!(limit.admit_at(B, "o@example.org", t), Ok(Duration::ZERO));
    }

    #[test]
    fn a_guesser_gets_one_try_per_interval_however_many_it_sends() {
        let limit = LoginLimit::default();
        let t = Instant::now();
        for _ in 0..10 {
            limit.count_failure_at(A, "o@example.org", t);
        }
        // Twenty at once: the turns within the longest wait, then 429.
        let answers: Vec<_> = (0..20)
            .map(|_| limit.admit_at(A, "o@example.org", t))
            .collect();
        let admitted = answers.iter().filter(|a| a.is_ok()).count();
        let max_turns = (LOGIN_MAX_WAIT.as_secs() / LOGIN_PAIR_INTERVAL.as_secs()) as usize + 1;
        assert_eq!(admitted, max_turns, "{answers:?}");
        assert!(answers.iter().any(|a| a.is_err()));
        // A minute of sequential guessing with every wait honoured.
        let mut clock = t + Duration::from_secs(20);
        let end = clock + Duration::from_secs(60);
        let mut guesses = 0;
        while clock < end {
            match limit.admit_at(A, "o@example.org", clock) {
                Ok(wait) => {
                    clock += wait;
                    limit.record_at(A, "o@example.org", false, clock);
                    guesses += 1;
                    clock += Duration::from_millis(10);
                }
                Err(secs) => clock += Duration::from_secs(secs),
            }
        }
        // What was forgiven in the 20 s before, then one per interval: about 14, where an
        // unslowed guesser would have made thousands.
        let bound = 20 / LOGIN_PAIR_INTERVAL.as_secs() + 60 / LOGIN_PAIR_INTERVAL.as_secs() + 2;
        assert!(guesses <= bound, "{guesses} guesses in a minute");
    }

    #[test]
    fn an_address_spraying_many_accounts_is_slowed() {
        let limit = LoginLimit::default();
        let t = Instant::now();
        for i in 0..20 {
            limit.count_failure_at(A, &format!("user{i}@example.org"), t);
        }
        assert_eq!(
            limit.admit_at(A, "fresh@example.org", t),
            Ok(Duration::ZERO)
        );
        assert_eq!(
            limit.admit_at(A, "fresh2@example.org", t),
            Ok(LOGIN_ADDRESS_INTERVAL)
        );
        assert_eq!(
            limit.admit_at(B, "fresh@example.org", t),
            Ok(Duration::ZERO)
        );
    }

    #[test]
    fn ledgers_stay_bounded_and_keep_the_worst_guessers() {
        let limit = LoginLimit::default();
        let t = Instant::now();
        for _ in 0..30 {
            limit.count_failure_at(A, "target@example.org", t);
        }
        for i in 0..(LEDGER_CAP * 2) {
            limit.count_failure_at(B, &format!("spray{i}@example.org"), t);
        }
        assert!(limit.pairs.len() <= LEDGER_CAP);
        assert!(limit.admit_at(A, "target@example.org", t).is_ok());
        assert_eq!(
            limit.admit_at(A, "target@example.org", t),
            Ok(LOGIN_PAIR_INTERVAL),
            "the target's failures survived the flood"
        );
    }
}
