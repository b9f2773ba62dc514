//! A local SMTP sink for `benches/reminders.sh`: a real SMTP server (the mailin-embedded crate)
//! that accepts every message, parses its header (mail-parser), counts and forgets it.
//!
//!     cargo run --release --example smtp_sink -- --port 2525 --stats /tmp/stats.json
//!
//! It writes a stats file every half second and once more when told to stop (SIGTERM or
//! SIGINT):
//!
//!     {"total": N, "duplicates": N, "by_kind": {"reminder": {"count": N, "first": T, "last": T}},
//!      "per_second": {"reminder": {"<unix second>": N}}, "subjects": {"<subject>": N}}
//!
//! Why in Rust: at 600 messages a second the Python sink used before it took most of a core,
//! on a machine with two, so it measured itself as much as Convene. This one uses a small part
//! of that. Listens on 127.0.0.1 only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mail_parser::MessageParser;
use mailin_embedded::response::{self, Response};
use mailin_embedded::{Handler, Server};
use serde_json::json;

/// Subject prefixes and the kind of message they mark.
const KINDS: [(&str, &str); 5] = [
    ("Reminder:", "reminder"),
    ("Changed:", "changed"),
    ("You're going:", "confirmation"),
    ("Waitlist #", "confirmation"),
    ("Called off:", "cancelled"),
];

/// The distinct subjects counted one by one; the rest are only counted by kind.
const SUBJECTS_KEPT: usize = 100;

#[derive(Default)]
struct Kind {
    count: u64,
    first: f64,
    last: f64,
}

#[derive(Default)]
struct Stats {
    total: u64,
    duplicates: u64,
    by_kind: BTreeMap<&'static str, Kind>,
    per_second: BTreeMap<&'static str, BTreeMap<u64, u64>>,
    seen: HashSet<String>,
    subjects: HashMap<String, u64>,
}

impl Stats {
    fn record(&mut self, subject: &str, message_id: &str, recipients: u64) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let kind = KINDS
            .iter()
            .find(|(prefix, _)| subject.starts_with(prefix))
            .map_or("other", |(_, kind)| kind);
        if self.subjects.contains_key(subject) || self.subjects.len() < SUBJECTS_KEPT {
            *self.subjects.entry(subject.to_owned()).or_default() += 1;
        }
        if !self.seen.insert(message_id.to_owned()) {
            self.duplicates += 1;
        }
        self.total += 1;
        let entry = self.by_kind.entry(kind).or_insert_with(|| Kind {
            first: now,
            ..Kind::default()
        });
        entry.count += recipients;
        entry.last = now;
        *self
            .per_second
            .entry(kind)
            .or_default()
            .entry(now as u64)
            .or_default() += 1;
    }

    fn to_json(&self) -> serde_json::Value {
        let by_kind: serde_json::Map<_, _> = self
            .by_kind
            .iter()
            .map(|(kind, k)| {
                let value = json!({"count": k.count, "first": k.first, "last": k.last});
                (kind.to_string(), value)
            })
            .collect();
        let per_second: serde_json::Map<_, _> = self
            .per_second
            .iter()
            .map(|(kind, seconds)| {
                let counts: serde_json::Map<_, _> = seconds
                    .iter()
                    .map(|(second, n)| (second.to_string(), json!(n)))
                    .collect();
                (kind.to_string(), serde_json::Value::Object(counts))
            })
            .collect();
        json!({
            "total": self.total,
            "duplicates": self.duplicates,
            "by_kind": by_kind,
            "per_second": per_second,
            "subjects": self.subjects,
            "written_at": SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64(),
        })
    }
}

/// One SMTP session's state (mailin clones the handler for each connection).
#[derive(Clone)]
struct Counter {
    stats: Arc<Mutex<Stats>>,
    current: Vec<u8>,
    recipients: u64,
}

impl Handler for Counter {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current.clear();
        self.recipients = to.len() as u64;
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let Some(headers) = MessageParser::new().parse_headers(&self.current[..]) else {
            return response::OK;
        };
        let subject = headers.subject().unwrap_or_default().to_owned();
        let message_id = headers.message_id().unwrap_or_default().to_owned();
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.record(&subject, &message_id, self.recipients);
        response::OK
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        response::OK
    }
}

fn dump(stats: &Mutex<Stats>, path: &str) -> std::io::Result<()> {
    let text = stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .to_json()
        .to_string();
    let tmp = format!("{path}.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

fn argument(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = argument(&args, "--port")
        .unwrap_or_else(|| "2525".into())
        .parse()?;
    let Some(path) = argument(&args, "--stats") else {
        anyhow::bail!("usage: smtp_sink [--port N] --stats FILE");
    };
    let stats = Arc::new(Mutex::new(Stats::default()));
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let handler = Counter {
        stats: stats.clone(),
        current: Vec::new(),
        recipients: 0,
    };
    std::thread::spawn(move || {
        let mut server = Server::new(handler);
        server
            .with_name("sink.localhost")
            .with_num_threads(32)
            .with_tcp_listener(listener);
        if let Err(e) = server.serve() {
            eprintln!("smtp sink stopped: {e}");
        }
    });
    dump(&stats, &path)?;
    println!("smtp sink listening on 127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = tokio::time::sleep(Duration::from_millis(500)) => dump(&stats, &path)?,
            }
        }
        dump(&stats, &path)
    })?;
    Ok(())
}
