//! Settings, loaded once at start: built-in defaults, then `convene.toml` (if present), then
//! `CONVENE_*` environment variables, the later overriding the earlier. [`Settings`] holds them
//! as written; [`Config`] is the same parsed into typed values, refused at start with a message
//! that names the variable, and the only form the rest of the program reads, so that `serve`,
//! `worker` and the other commands read each setting the same way.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};

use crate::db::DatabaseTarget;
use crate::domain::ReminderOffsets;
use crate::error::AppError;
use crate::links::Links;
use crate::mail::SmtpServer;
use crate::tokens::SecretKey;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where the SQLite database, the secret key and `.eml` files live.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; unset means `DATA_DIR/convene.db`.
    pub database_url: Option<String>,
    pub bind: String,
    /// The public address links are built from. Unset: see [`Config::links`].
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
    /// Reads the defaults, `convene.toml` (or `CONVENE_CONFIG`) and the environment.
    pub fn load() -> Result<Self, AppError> {
        let config_file = std::env::var("CONVENE_CONFIG").unwrap_or_else(|_| "convene.toml".into());
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(config_file))
            .merge(Env::prefixed("CONVENE_").ignore(&["config"]))
            .extract()
            .map_err(|e| {
                let problems: Vec<String> = e.into_iter().map(describe_load_error).collect();
                AppError::config(format!("invalid settings: {}", problems.join("; ")))
            })
    }
}

/// A value of the wrong type, by its variable's name when it came from the environment.
fn describe_load_error(e: figment::Error) -> String {
    let from_environment = e
        .metadata
        .as_ref()
        .is_some_and(|m| m.name.contains("environment"));
    if from_environment && !e.path.is_empty() {
        format!(
            "CONVENE_{}: {}",
            e.path.join("_").to_ascii_uppercase(),
            e.kind
        )
    } else {
        e.to_string()
    }
}

/// The settings as typed values, each checked once. Only [`Config::parse`] makes one. No
/// `Debug`: it holds the secret key, the SMTP password and the metrics token.
#[derive(Clone)]
pub struct Config {
    data_dir: PathBuf,
    database_url: String,
    bind: Bind,
    base_url: Option<Links>,
    smtp: Option<SmtpServer>,
    mail_from: Mailbox,
    reminder_offsets: ReminderOffsets,
    secret_key: Option<SecretKey>,
    db_pool_size: u32,
    worker_poll: Duration,
    smtp_timeout: Duration,
    smtp_connections: usize,
    outbox_lease: chrono::Duration,
    json_logs: bool,
    trusted_proxies: Arc<Vec<IpNet>>,
    metrics_token: Option<String>,
    shutdown_timeout: Duration,
    signups_per_minute: u32,
    body_timeout: Duration,
    max_requests_per_client: usize,
}

impl Config {
    /// The settings from [`Settings::load`], parsed.
    pub fn load() -> Result<Self, AppError> {
        Self::parse(Settings::load()?)
    }

    /// Parses every setting; the first that is not usable is refused, by its variable's name.
    /// A number out of its range is brought to the nearest end of it, as before.
    pub fn parse(settings: Settings) -> Result<Self, AppError> {
        let database_url = match settings.database_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => url.to_owned(),
            _ => settings
                .data_dir
                .join("convene.db")
                .to_string_lossy()
                .into_owned(),
        };
        DatabaseTarget::parse(&database_url).map_err(named("DATABASE_URL"))?;
        let base_url = match settings.base_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => Some(Links::parse(url).map_err(AppError::config)?),
            _ => None,
        };
        let smtp =
            match settings.smtp_url.as_deref().map(str::trim) {
                Some(url) if !url.is_empty() => Some(SmtpServer::from_url(url).map_err(|e| {
                    AppError::config(format!("CONVENE_SMTP_URL is not usable: {e}"))
                })?),
                _ => None,
            };
        let mail_from = settings.mail_from.parse::<Mailbox>().map_err(|e| {
            AppError::config(format!(
                "CONVENE_MAIL_FROM `{}` is not a mailbox: {e}",
                settings.mail_from
            ))
        })?;
        let secret_key = match settings.secret_key.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => Some(SecretKey::decode(text).ok_or_else(|| {
                AppError::config(
                    "CONVENE_SECRET_KEY must be 32 bytes in base64url (43 characters); make one with `convene secret`",
                )
            })?),
            _ => None,
        };
        let json_logs = match settings.log_format.trim().to_ascii_lowercase().as_str() {
            "" | "text" => false,
            "json" => true,
            other => {
                return Err(AppError::config(format!(
                    "CONVENE_LOG_FORMAT must be `text` or `json`, not `{other}`"
                )));
            }
        };
        Ok(Self {
            bind: Bind::parse(&settings.bind).map_err(named("BIND"))?,
            database_url,
            base_url,
            smtp,
            mail_from,
            reminder_offsets: ReminderOffsets::parse(&settings.reminder_offsets)
                .map_err(named("REMINDER_OFFSETS"))?,
            secret_key,
            db_pool_size: settings.db_pool_size,
            worker_poll: Duration::from_millis(settings.worker_poll_ms.clamp(10, 60_000)),
            smtp_timeout: Duration::from_secs(settings.smtp_timeout_secs.clamp(1, 600)),
            smtp_connections: settings.smtp_connections.clamp(1, 64) as usize,
            outbox_lease: chrono::Duration::seconds(
                settings.outbox_lease_secs.clamp(4, 3_600) as i64
            ),
            json_logs,
            trusted_proxies: Arc::new(parse_proxies(&settings.trusted_proxies)?),
            metrics_token: settings
                .metrics_token
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
            shutdown_timeout: Duration::from_secs(settings.shutdown_timeout_secs.clamp(1, 3_600)),
            signups_per_minute: settings.signups_per_minute,
            body_timeout: Duration::from_secs(settings.body_timeout_secs.clamp(1, 600)),
            max_requests_per_client: settings.max_requests_per_client.clamp(1, 1_000_000) as usize,
            data_dir: settings.data_dir,
        })
    }

    /// The same settings listening on `bind` instead (`convene serve --bind`).
    pub fn with_bind(self, bind: Bind) -> Self {
        Self { bind, ..self }
    }

    /// The base of every link in mail and feeds, built the same way by `serve` and `worker`:
    /// `CONVENE_BASE_URL`, or else `http://` and `CONVENE_BIND`, with `localhost` for an
    /// unspecified address (`0.0.0.0`, `[::]`). A server bound to port 0 passes the port it
    /// got; a worker, which listens nowhere, cannot know it and is refused. The fallback is
    /// logged, since links to `localhost` are useless in mail sent to other people.
    pub fn links(&self, bound_port: Option<u16>) -> Result<Links, AppError> {
        if let Some(links) = &self.base_url {
            return Ok(links.clone());
        }
        let port = match bound_port.unwrap_or(self.bind.port) {
            0 => {
                return Err(AppError::config(format!(
                    "CONVENE_BASE_URL is not set, and CONVENE_BIND `{}` names no port to build links from: set CONVENE_BASE_URL to the address people open",
                    self.bind
                )));
            }
            port => port,
        };
        let links = self.bind_links(port)?;
        tracing::warn!(
            base_url = links.base(),
            "CONVENE_BASE_URL is not set: links in mail and feeds start with {}, made from CONVENE_BIND; set CONVENE_BASE_URL to the address people open",
            links.base()
        );
        Ok(links)
    }

    /// The links of a one-off command (`convene organizer ...`), which sends no mail and
    /// serves no feed: `CONVENE_BASE_URL`, or else `CONVENE_BIND` as it is, with nothing to warn
    /// of or refuse.
    pub fn command_links(&self) -> Result<Links, AppError> {
        match &self.base_url {
            Some(links) => Ok(links.clone()),
            None => self.bind_links(self.bind.port),
        }
    }

    fn bind_links(&self, port: u16) -> Result<Links, AppError> {
        Links::parse(&self.bind.url(port, "localhost", "localhost")).map_err(AppError::config)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `CONVENE_DATABASE_URL`, or the SQLite file `convene.db` in the data folder.
    pub fn database_url(&self) -> String {
        self.database_url.clone()
    }

    pub fn bind(&self) -> &Bind {
        &self.bind
    }

    /// Where mail goes; `None`: `.eml` files in the data folder.
    pub fn smtp(&self) -> Option<&SmtpServer> {
        self.smtp.as_ref()
    }

    pub fn mail_from(&self) -> &Mailbox {
        &self.mail_from
    }

    pub fn reminder_offsets(&self) -> &ReminderOffsets {
        &self.reminder_offsets
    }

    /// `CONVENE_SECRET_KEY`; `None`: the key in `DATA_DIR/secret.key`.
    pub fn secret_key(&self) -> Option<&SecretKey> {
        self.secret_key.as_ref()
    }

    pub fn db_pool_size(&self) -> u32 {
        self.db_pool_size
    }

    pub fn worker_poll(&self) -> Duration {
        self.worker_poll
    }

    pub fn smtp_timeout(&self) -> Duration {
        self.smtp_timeout
    }

    pub fn smtp_connections(&self) -> usize {
        self.smtp_connections
    }

    pub fn outbox_lease(&self) -> chrono::Duration {
        self.outbox_lease
    }

    pub fn json_logs(&self) -> bool {
        self.json_logs
    }

    /// The proxies named by `CONVENE_TRUSTED_PROXIES`.
    pub fn trusted_proxies(&self) -> &Arc<Vec<IpNet>> {
        &self.trusted_proxies
    }

    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token.as_deref()
    }

    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    pub fn signups_per_minute(&self) -> u32 {
        self.signups_per_minute
    }

    pub fn body_timeout(&self) -> Duration {
        self.body_timeout
    }

    pub fn max_requests_per_client(&self) -> usize {
        self.max_requests_per_client
    }
}

/// A problem with the value of `CONVENE_{variable}`.
fn named(variable: &'static str) -> impl Fn(String) -> AppError {
    move |e| AppError::config(format!("CONVENE_{variable}: {e}"))
}

fn parse_proxies(list: &str) -> Result<Vec<IpNet>, AppError> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    AppError::config(format!(
                        "CONVENE_TRUSTED_PROXIES: `{p}` is neither an IP address nor a CIDR range"
                    ))
                })
        })
        .collect()
}

/// `CONVENE_BIND`: a host (an IP address or a name) and a port, such as `127.0.0.1:8080`,
/// `0.0.0.0:8080`, `[::]:8080` or `localhost:8080`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Without the brackets of an IPv6 address.
    host: String,
    port: u16,
}

impl Bind {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Ok(Self {
                host: address.ip().to_string(),
                port: address.port(),
            });
        }
        let wrong = || format!("`{text}` is not HOST:PORT, such as 127.0.0.1:8080 or [::]:8080");
        let (host, port) = text.rsplit_once(':').ok_or_else(wrong)?;
        let port = port.parse::<u16>().map_err(|_| wrong())?;
        let is_name = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !is_name {
            return Err(wrong());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// As `TcpListener::bind` takes it.
    pub fn address(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    /// `http://HOST:PORT`, an unspecified host (`0.0.0.0`, `::`) named `v4` or `v6` instead.
    pub fn url(&self, port: u16, v4: &str, v6: &str) -> String {
        let host = match self.host.parse::<IpAddr>() {
            Ok(ip @ IpAddr::V4(_)) if ip.is_unspecified() => v4.to_owned(),
            Ok(ip @ IpAddr::V6(_)) if ip.is_unspecified() => v6.to_owned(),
            Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
            _ => self.host.clone(),
        };
        format!("http://{host}:{port}")
    }

    /// Where a probe on this machine reaches the server: loopback for an unspecified host.
    pub fn probe_url(&self) -> String {
        self.url(self.port, "127.0.0.1", "[::1]")
    }
}

impl fmt::Display for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(change: impl FnOnce(&mut Settings)) -> Result<Config, String> {
        let mut settings = Settings::default();
        change(&mut settings);
        Config::parse(settings).map_err(|e| e.to_string())
    }

    #[test]
    fn the_defaults_parse() {
        let config = parsed(|_| {}).unwrap();
        assert_eq!(config.bind().to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.mail_from().to_string(),
            "Convene <convene@localhost>"
        );
        assert_eq!(config.database_url(), "data/convene.db");
        assert!(config.smtp().is_none() && config.secret_key().is_none());
        assert!(!config.json_logs() && config.trusted_proxies().is_empty());
    }

    #[test]
    fn an_unusable_setting_is_refused_by_its_name() {
        type Change = fn(&mut Settings);
        let cases: [(&str, Change); 10] = [
            ("CONVENE_BIND", |s| s.bind = "8080".into()),
            ("CONVENE_BIND", |s| s.bind = "http://x:80".into()),
            ("CONVENE_BASE_URL", |s| {
                s.base_url = Some("ftp://x.org".into())
            }),
            ("CONVENE_MAIL_FROM", |s| s.mail_from = "nobody".into()),
            ("CONVENE_REMINDER_OFFSETS", |s| {
                s.reminder_offsets = "1y".into()
            }),
            ("CONVENE_TRUSTED_PROXIES", |s| {
                s.trusted_proxies = "192.0.2.0/24, x".into()
            }),
            ("CONVENE_SMTP_URL", |s| {
                s.smtp_url = Some("imap://mail.example".into())
            }),
            ("CONVENE_SECRET_KEY", |s| {
                s.secret_key = Some("short".into())
            }),
            ("CONVENE_LOG_FORMAT", |s| s.log_format = "xml".into()),
            ("CONVENE_DATABASE_URL", |s| {
                s.database_url = Some("mysql://x/y".into())
            }),
        ];
        for (variable, change) in cases {
            let message = parsed(change).err().unwrap_or_default();
            assert!(message.contains(variable), "{variable}: {message:?}");
        }
    }

    #[test]
    fn empty_optional_settings_mean_unset() {
        let config = parsed(|s| {
            s.base_url = Some(" ".into());
            s.smtp_url = Some(String::new());
            s.secret_key = Some(String::new());
            s.metrics_token = Some("  ".into());
            s.database_url = Some(String::new());
        })
        .unwrap();
        assert!(config.smtp().is_none() && config.secret_key().is_none());
        assert!(config.metrics_token().is_none());
        assert_eq!(config.database_url(), "data/convene.db");
        assert_eq!(config.links(None).unwrap().base(), "http://127.0.0.1:8080");
    }

    #[test]
    fn numbers_are_kept_in_range() {
        let config = parsed(|s| {
            s.smtp_connections = 0;
            s.outbox_lease_secs = 1;
            s.worker_poll_ms = 1_000_000;
        })
        .unwrap();
        assert_eq!(config.smtp_connections(), 1);
        assert_eq!(config.outbox_lease(), chrono::Duration::seconds(4));
        assert_eq!(config.worker_poll(), Duration::from_secs(60));
    }

    #[test]
    fn serve_and_worker_build_the_same_base() {
        let base = |bind: &str, base_url: Option<&str>, bound: Option<u16>| {
            let config = parsed(|s| {
                s.bind = bind.into();
                s.base_url = base_url.map(Into::into);
            })
            .unwrap();
            config.links(bound).map(|l| l.base().to_owned())
        };
        let configured = Some("https://sprints.example.org/c/");
        for bind in ["0.0.0.0:8080", "127.0.0.1:0"] {
            assert_eq!(
                base(bind, configured, Some(4000)).unwrap(),
                "https://sprints.example.org/c"
            );
            assert_eq!(
                base(bind, configured, None).unwrap(),
                "https://sprints.example.org/c"
            );
        }
        for (bind, expected) in [
            ("0.0.0.0:8080", "http://localhost:8080"),
            ("[::]:8080", "http://localhost:8080"),
            ("[::1]:8080", "http://[::1]:8080"),
            ("localhost:8080", "http://localhost:8080"),
            ("192.0.2.3:80", "http://192.0.2.3"),
        ] {
            assert_eq!(base(bind, None, None).unwrap(), expected, "{bind}");
            assert_eq!(base(bind, None, Some(bind_port(bind))).unwrap(), expected);
        }
        // Port 0: the server knows the port it got, a worker cannot.
        assert_eq!(
            base("127.0.0.1:0", None, Some(4000)).unwrap(),
            "http://127.0.0.1:4000"
        );
        let refused = base("127.0.0.1:0", None, None).unwrap_err().to_string();
        assert!(refused.contains("CONVENE_BASE_URL is not set"), "{refused}");
    }

    fn bind_port(bind: &str) -> u16 {
        Bind::parse(bind).unwrap().port()
    }

    #[test]
    fn a_probe_reaches_an_unspecified_bind_by_loopback() {
        let probe = |bind: &str| Bind::parse(bind).unwrap().probe_url();
        assert_eq!(probe("0.0.0.0:8080"), "http://127.0.0.1:8080");
        assert_eq!(probe("[::]:8080"), "http://[::1]:8080");
        assert_eq!(probe("127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(probe("localhost:9000"), "http://localhost:9000");
        assert_eq!(Bind::parse("[::]:8080").unwrap().to_string(), "[::]:8080");
    }
}
