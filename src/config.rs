//! Settings, loaded once at start: built-in defaults, then `convene.toml` (if present), then
//! `CONVENE_*` environment variables, the later overriding the earlier.

use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where the SQLite database, the secret key and `.eml` files live.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; unset means `DATA_DIR/convene.db`.
    pub database_url: Option<String>,
    pub bind: String,
    /// The public address links are built from. Unset: `http://` and the bound address.
    pub base_url: Option<String>,
    /// `smtp://`, `smtps://` or `smtp://...?tls=required`; unset writes mail as `.eml` files.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub reminder_offsets: String,
    /// 32 bytes, base64url. Unset: generated into `DATA_DIR/secret.key`. Every instance of one
    /// deployment must share it.
    pub secret_key: Option<String>,
    pub db_pool_size: u32,
    /// How often the outbox worker looks for due mail when nothing wakes it (milliseconds).
    pub worker_poll_ms: u64,
    /// How long to wait for an SMTP server before trying again later (seconds).
    pub smtp_timeout_secs: u64,
    /// How many messages one instance sends at once, each over its own SMTP connection.
    pub smtp_connections: u32,
    /// How long a claimed message stays reserved for its worker without a renewal (seconds);
    /// a live worker renews its claims every quarter of this, so after a crash another
    /// instance sends the message within this long.
    pub outbox_lease_secs: u64,
    /// `text` (default) or `json`: one JSON object per log line.
    pub log_format: String,
    /// Comma-separated addresses or CIDR ranges of reverse proxies whose `X-Forwarded-For`
    /// and `X-Forwarded-Proto` are believed. Empty: the peer address is the client.
    pub trusted_proxies: String,
    /// When set, `/metrics` answers only to `Authorization: Bearer <this>`.
    pub metrics_token: Option<String>,
    /// On SIGTERM, how long requests in flight may take to finish (seconds).
    pub shutdown_timeout_secs: u64,
    /// Signups one client address may make per minute (a burst of this many, then one every
    /// 60/N seconds), on the API and the form together. 0: no limit (for load tests).
    pub signups_per_minute: u32,
    /// How long a request body may take to arrive, from the end of its headers (seconds).
    pub body_timeout_secs: u64,
    /// How many requests one client address may have under way at once.
    pub max_requests_per_client: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database_url: None,
            bind: "127.0.0.1:8080".into(),
            base_url: None,
            smtp_url: None,
            mail_from: "Convene <convene@localhost>".into(),
            reminder_offsets: "24h,1h".into(),
            secret_key: None,
            db_pool_size: 8,
            worker_poll_ms: 1000,
            smtp_timeout_secs: 30,
            smtp_connections: 8,
            outbox_lease_secs: 30,
            log_format: "text".into(),
            trusted_proxies: String::new(),
            metrics_token: None,
            shutdown_timeout_secs: 30,
            signups_per_minute: 20,
            body_timeout_secs: 5,
            max_requests_per_client: 256,
        }
    }
}

impl Settings {
    pub fn load() -> Result<Self, AppError> {
        let config_file = std::env::var("CONVENE_CONFIG").unwrap_or_else(|_| "convene.toml".into());
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(config_file))
            .merge(Env::prefixed("CONVENE_").ignore(&["config"]))
            .extract()
            .map_err(|e| AppError::config(format!("invalid settings: {e}")))
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => self
                .data_dir
                .join("convene.db")
                .to_string_lossy()
                .into_owned(),
        }
    }

    pub fn smtp_timeout(&self) -> Duration {
        Duration::from_secs(self.smtp_timeout_secs.clamp(1, 600))
    }

    pub fn smtp_connections(&self) -> usize {
        self.smtp_connections.clamp(1, 64) as usize
    }

    pub fn worker_poll(&self) -> Duration {
        Duration::from_millis(self.worker_poll_ms.clamp(10, 60_000))
    }

    pub fn outbox_lease(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.outbox_lease_secs.clamp(4, 3_600) as i64)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs.clamp(1, 600))
    }

    pub fn max_requests_per_client(&self) -> usize {
        self.max_requests_per_client.clamp(1, 1_000_000) as usize
    }

    pub fn json_logs(&self) -> Result<bool, AppError> {
        match self.log_format.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(false),
            "json" => Ok(true),
            other => Err(AppError::config(format!(
                "CONVENE_LOG_FORMAT must be `text` or `json`, not `{other}`"
            ))),
        }
    }

    /// The proxies named by `CONVENE_TRUSTED_PROXIES`.
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, AppError> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        AppError::config(format!(
                            "CONVENE_TRUSTED_PROXIES: `{p}` is neither an IP address nor a CIDR range"
                        ))
                    })
            })
            .collect()
    }

    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }
}
