//! The fault suite: what Convene promises under crashes, outages and hostile clients, each
//! checked by driving real processes on loopback and printing what was measured. These tests
//! are ignored by default (they take minutes at full length); run them with
//!
//! ```sh
//! cargo test --test api faults:: -- --ignored --nocapture --test-threads 1
//! ```
//!
//! `CONVENE_FAULT_ROUNDS` shortens each to that many rounds (CI runs 1 or 2). Each test prints
//! its figures as one line starting with `FAULT name:` followed by `key=value` pairs, and
//! fails when a promise is broken.

mod crash;
mod postgres_restart;
mod schemathesis;
mod smtp_outage;

/// How many rounds a fault test runs: `CONVENE_FAULT_ROUNDS`, else `full`.
pub fn rounds(full: usize) -> usize {
    std::env::var("CONVENE_FAULT_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .map_or(full, |n| n.min(full))
}

/// Prints one line of figures in the suite's format.
pub fn report(name: &str, figures: &[(&str, String)]) {
    let pairs: Vec<String> = figures.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("FAULT {name}: {}", pairs.join(" "));
}

mod hostile;
mod timing;
