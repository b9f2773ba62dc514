//! Prometheus metrics at `/metrics`: requests per route, signups, mail delivery, the outbox
//! backlog and the database pool. Counters are kept per process (each instance is scraped on
//! its own); the outbox figures are read from the database at scrape time, so every instance
//! reports the same shared backlog.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::db::outbox::OutboxStats;

/// The methods that become a label of their own; any other is counted as `other`. A client
/// may send any token as a method (30 KB ones were tried): each would otherwise be a new
/// series, kept and printed at every scrape for as long as the process runs.
pub const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

/// The label for a request's method (see [`METHODS`]); also what the access log shows.
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|known| **known == method)
        .copied()
        .unwrap_or("other")
}

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    signups: IntCounterVec,
    deliveries: IntCounterVec,
    delivery_record: prometheus::Histogram,
    outbox_pending: IntGauge,
    outbox_oldest_age: prometheus::Gauge,
    outbox_failed: IntGauge,
    pool_connections: IntGaugeVec,
    pool_max: IntGauge,
    write_groups: prometheus::IntCounter,
    grouped_writes: prometheus::IntCounter,
    writes_waiting: IntGauge,
}

/// How a signup ended, for `convene_signups_total`.
#[derive(Debug, Clone, Copy)]
pub enum SignupOutcome {
    Going,
    Waitlisted,
    AlreadyRegistered,
}

/// How a delivery attempt ended, for `convene_mail_deliveries_total`.
#[derive(Debug, Clone, Copy)]
pub enum DeliveryOutcome {
    Sent,
    Retry,
    Failed,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("convene_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "convene_http_request_duration_seconds",
                "Time from receiving a request to its response",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        let signups = IntCounterVec::new(
            Opts::new("convene_signups_total", "Signups accepted, by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let deliveries = IntCounterVec::new(
            Opts::new(
                "convene_mail_deliveries_total",
                "Mail delivery attempts, by result",
            ),
            &["result"],
        )
        .expect("valid metric");
        // The window in which a crash makes a delivered message go out again.
        let delivery_record = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "convene_mail_record_seconds",
                "Time from the SMTP server accepting a message to the commit that records it",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
        )
        .expect("valid metric");
        let outbox_pending = IntGauge::new(
            "convene_outbox_pending",
            "Messages not yet sent nor given up on, due or not",
        )
        .expect("valid metric");
        let outbox_oldest_age = prometheus::Gauge::new(
            "convene_outbox_oldest_pending_age_seconds",
            "Age of the oldest message not yet sent (0 when none waits)",
        )
        .expect("valid metric");
        let outbox_failed = IntGauge::new(
            "convene_outbox_failed",
            "Messages that failed for good and are shown to organizers",
        )
        .expect("valid metric");
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "convene_db_pool_connections",
                "Database connections of this instance, by state",
            ),
            &["state"],
        )
        .expect("valid metric");
        let pool_max = IntGauge::new(
            "convene_db_pool_max_connections",
            "The most database connections this instance opens",
        )
        .expect("valid metric");
        let write_groups = prometheus::IntCounter::new(
            "convene_db_write_groups_total",
            "Transactions of the group committer (each one flush to the disk)",
        )
        .expect("valid metric");
        let grouped_writes = prometheus::IntCounter::new(
            "convene_db_grouped_writes_total",
            "Short writes (signups, cancellations, board lines) carried by those transactions",
        )
        .expect("valid metric");
        let writes_waiting = IntGauge::new(
            "convene_db_writes_waiting",
            "Short writes handed to the group committer and not yet in a group",
        )
        .expect("valid metric");
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(write_groups.clone()),
            Box::new(grouped_writes.clone()),
            Box::new(writes_waiting.clone()),
            Box::new(http_duration.clone()),
            Box::new(signups.clone()),
            Box::new(deliveries.clone()),
            Box::new(delivery_record.clone()),
            Box::new(outbox_pending.clone()),
            Box::new(outbox_oldest_age.clone()),
            Box::new(outbox_failed.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_max.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        // Every outcome shows from the start, at zero, so rates work before the first event.
        for outcome in ["going", "waitlisted", "already_registered"] {
            signups.with_label_values(&[outcome]);
        }
        for result in ["sent", "retry", "failed"] {
            deliveries.with_label_values(&[result]);
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            signups,
            deliveries,
            delivery_record,
            outbox_pending,
            outbox_oldest_age,
            outbox_failed,
            pool_connections,
            pool_max,
            write_groups,
            grouped_writes,
            writes_waiting,
        }
    }

    /// One answered request. `route` is the route's pattern (`/events/{slug}`), never the
    /// path itself, so the number of series stays bounded and no token reaches the metrics;
    /// the method is one of [`METHODS`] or `other`.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        let status = status.to_string();
        self.http_requests
            .with_label_values(&[method, route, &status])
            .inc();
        self.http_duration
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// Counts what a signup came to.
    pub fn signed_up(&self, outcome: &crate::domain::seats::SignupOutcome) {
        use crate::domain::seats::Seat;
        use crate::domain::seats::SignupOutcome as Db;
        self.signup(match outcome {
            Db::Registered {
                seat: Seat::Going, ..
            } => SignupOutcome::Going,
            Db::Registered { .. } => SignupOutcome::Waitlisted,
            Db::AlreadyRegistered { .. } => SignupOutcome::AlreadyRegistered,
        });
    }

    pub fn signup(&self, outcome: SignupOutcome) {
        let label = match outcome {
            SignupOutcome::Going => "going",
            SignupOutcome::Waitlisted => "waitlisted",
            SignupOutcome::AlreadyRegistered => "already_registered",
        };
        self.signups.with_label_values(&[label]).inc();
    }

    pub fn delivery(&self, outcome: DeliveryOutcome) {
        let label = match outcome {
            DeliveryOutcome::Sent => "sent",
            DeliveryOutcome::Retry => "retry",
            DeliveryOutcome::Failed => "failed",
        };
        self.deliveries.with_label_values(&[label]).inc();
    }

    /// How long a delivery the SMTP server accepted waited for its record.
    pub fn delivery_recorded(&self, seconds: f64) {
        self.delivery_record.observe(seconds);
    }

    /// The text exposition, with the figures read at scrape time filled in first.
    pub fn render(
        &self,
        outbox: &OutboxStats,
        now: chrono::NaiveDateTime,
        pool: (u32, u32),
        pool_max: u32,
        groups: crate::db::GroupFigures,
    ) -> String {
        // The committer counts in atomics of its own; the counters catch up at each scrape.
        let catch_up = |counter: &prometheus::IntCounter, total: u64| {
            counter.inc_by(total.saturating_sub(counter.get()));
        };
        catch_up(&self.write_groups, groups.groups);
        catch_up(&self.grouped_writes, groups.writes);
        self.writes_waiting
            .set(i64::try_from(groups.waiting).unwrap_or(i64::MAX));
        self.outbox_pending.set(outbox.pending);
        self.outbox_failed.set(outbox.failed);
        let age = outbox
            .oldest_pending
            .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        self.outbox_oldest_age.set(age);
        let (open, idle) = pool;
        self.pool_connections
            .with_label_values(&["idle"])
            .set(i64::from(idle));
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(i64::from(open.saturating_sub(idle)));
        self.pool_max.set(i64::from(pool_max));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into memory cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_routes_not_paths() {
        let metrics = Metrics::new();
        metrics.request("GET", "/events/{slug}", 200, 0.003);
        metrics.signup(SignupOutcome::Waitlisted);
        let now = chrono::DateTime::from_timestamp(1_800_000_100, 0)
            .unwrap()
            .naive_utc();
        let stats = OutboxStats {
            pending: 3,
            oldest_pending: Some(now - chrono::Duration::seconds(100)),
            failed: 1,
        };
        let groups = crate::db::GroupFigures {
            groups: 4,
            writes: 9,
            waiting: 2,
        };
        let text = metrics.render(&stats, now, (5, 2), 16, groups);
        assert!(text.contains(
            r#"convene_http_requests_total{method="GET",route="/events/{slug}",status="200"} 1"#
        ));
        assert!(text.contains(r#"convene_signups_total{outcome="waitlisted"} 1"#));
        assert!(text.contains(r#"convene_signups_total{outcome="going"} 0"#));
        assert!(text.contains("convene_outbox_pending 3"));
        assert!(text.contains("convene_outbox_oldest_pending_age_seconds 100"));
        assert!(text.contains("convene_outbox_failed 1"));
        assert!(text.contains(r#"convene_db_pool_connections{state="in_use"} 3"#));
        assert!(text.contains("convene_db_pool_max_connections 16"));
        assert!(text.contains("convene_db_write_groups_total 4"));
        assert!(text.contains("convene_db_grouped_writes_total 9"));
        assert!(text.contains("convene_db_writes_waiting 2"));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let metrics = Metrics::new();
        let long = "X".repeat(30_000);
        for method in ["BREW", long.as_str(), "get", "PROPFIND"] {
            metrics.request(method, "/events/{slug}", 404, 0.001);
        }
        metrics.request("DELETE", "/events/{slug}", 405, 0.001);
        let text = metrics.render(
            &OutboxStats {
                pending: 0,
                oldest_pending: None,
                failed: 0,
            },
            chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc(),
            (0, 0),
            2,
            crate::db::GroupFigures {
                groups: 0,
                writes: 0,
                waiting: 0,
            },
        );
        assert!(text.contains(
            r#"convene_http_requests_total{method="other",route="/events/{slug}",status="404"} 4"#
        ));
        assert!(text.contains(r#"method="DELETE""#));
        assert!(
            !text.contains("BREW") && !text.contains("XXXX") && !text.contains(r#"method="get""#)
        );
        assert!(text.len() < 10_000, "{} bytes", text.len());
    }
}
