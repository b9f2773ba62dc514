//! The test harness: `spawn_app` starts the real application on a fresh database (a SQLite
//! file in a temporary folder, or a new PostgreSQL database), with the outbox worker writing
//! mail as `.eml` files, and gives typed helpers for the API.

use std::path::PathBuf;
use std::time::Duration;

use convene::app::{Application, Options};
use convene::clock::Clock;
use convene::config::{Config, Settings};
use convene::db::organizers;
use convene::domain::{EmailAddress, SingleLine};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use mail_parser::MimeHeaders;
use serde_json::{Value, json};

pub use crate::smtp::{Behaviour, SmtpSink};

/// Links in mail and feeds must start with this, whatever address the server listens on.
pub const BASE_URL: &str = "https://convene.example";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub token: String,
    /// The organizer's login for the web pages.
    pub organizer_email: String,
    pub organizer_password: String,
    pub data_dir: tempfile::TempDir,
    pub state: actix_web::web::Data<convene::http::AppState>,
    pub clock: Clock,
    /// The SMTP server this app delivers to.
    pub smtp: SmtpSink,
    eml_files: bool,
    pub database_url: String,
    lifecycle: Lifecycle,
}

/// What it takes to stop a test's application and remove its database.
pub struct Lifecycle {
    server: convene::app::StopHandle,
    running:
        std::sync::Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>>,
    pg_database: Option<String>,
}

impl Lifecycle {
    /// Stops the server and its worker, then drops the PostgreSQL database. A test that
    /// panics skips this; `.ci/run` removes leftover `convene_test_*` databases.
    pub async fn shutdown(self) {
        self.server.stop().await;
        if let Some(task) = self.running.lock().await.take() {
            let _ = task.await;
        }
        if let Some(name) = self.pg_database {
            drop_pg_database(name).await;
        }
    }
}

pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("CONVENE_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CONVENE_TEST_POSTGRES_URL must be set when CI=true: the PostgreSQL tests are required in CI"
            )
        }
        _ => None,
    }
}

/// Removes a database made by `create_pg_database`.
pub async fn drop_pg_database(name: String) {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    tokio::task::spawn_blocking(move || {
        if let Ok(mut admin) = PgConnection::establish(&admin_url) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    })
    .await
    .unwrap();
}

/// A URL for a new, empty PostgreSQL database beside the admin database.
pub fn create_pg_database(admin_url: &str) -> (String, String) {
    let name = format!("convene_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin =
        PgConnection::establish(admin_url).expect("cannot connect to CONVENE_TEST_POSTGRES_URL");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("cannot create a test database");
    let mut url = url::Url::parse(admin_url).expect("CONVENE_TEST_POSTGRES_URL is not a URL");
    url.set_path(&name);
    (url.to_string(), name)
}

/// Starts the application, or returns None for PostgreSQL when no server is configured (and
/// CI is not set: in CI a missing server fails the test).
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, Setup::default()).await
}

/// Choices beyond the defaults of `spawn_app`.
#[derive(Default, Clone)]
pub struct Setup {
    /// Deliver as `.eml` files (the default without SMTP) instead of to the SMTP sink.
    pub eml_files: bool,
    /// Share another app's database, SMTP sink and secret key (a second instance).
    pub beside: Option<Beside>,
    pub smtp_timeout_secs: Option<u64>,
    /// Build links from the address the app listens on (for a real browser) instead of
    /// BASE_URL.
    pub own_base_url: bool,
    /// Run on this existing database with this secret key (as after `convene import`).
    pub existing: Option<(String, String)>,
    /// Changes to the settings, made last.
    pub tweak: Option<fn(&mut Settings)>,
}

#[derive(Clone)]
pub struct Beside {
    database_url: String,
    smtp: SmtpSink,
    secret_key: String,
    clock: Clock,
}

impl TestApp {
    /// The database this app runs on.
    pub fn backend(&self) -> Backend {
        if self.database_url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// What a second instance needs to run beside this one.
    pub fn beside(&self) -> Beside {
        Beside {
            database_url: self.database_url.clone(),
            smtp: self.smtp.clone(),
            secret_key: self.state.key.encode(),
            clock: self.clock.clone(),
        }
    }
}

pub async fn spawn_app_with(backend: Backend, setup: Setup) -> Option<TestApp> {
    // Server-side errors show in a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn,actix_server=error")
        .try_init();
    let data_dir = tempfile::tempdir().expect("temporary folder");
    let (database_url, pg_database) = match (&setup.beside, backend) {
        (Some(other), _) => (other.database_url.clone(), None),
        (None, _) if setup.existing.is_some() => (setup.existing.clone().unwrap().0, None),
        (None, backend) => match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", data_dir.path().join("convene.db").display()),
                None,
            ),
            Backend::Postgres => {
                let admin = postgres_admin_url()?;
                let (url, name) = tokio::task::spawn_blocking(move || create_pg_database(&admin))
                    .await
                    .unwrap();
                (url, Some(name))
            }
        },
    };
    let smtp = setup
        .beside
        .as_ref()
        .map_or_else(SmtpSink::start, |b| b.smtp.clone());
    let mut settings = Settings {
        data_dir: data_dir.path().to_path_buf(),
        database_url: Some(database_url.clone()),
        bind: "127.0.0.1:0".into(),
        base_url: (!setup.own_base_url).then(|| BASE_URL.into()),
        worker_poll_ms: 50,
        // Every test signs up from 127.0.0.1; the tests of the limit turn it on again.
        signups_per_minute: 0,
        smtp_url: (!setup.eml_files).then(|| smtp.url()),
        smtp_timeout_secs: setup.smtp_timeout_secs.unwrap_or(30),
        secret_key: setup
            .beside
            .as_ref()
            .map(|b| b.secret_key.clone())
            .or_else(|| setup.existing.as_ref().map(|e| e.1.clone())),
        ..Settings::default()
    };
    if let Some(tweak) = setup.tweak {
        tweak(&mut settings);
    }
    let clock = setup
        .beside
        .as_ref()
        .map_or_else(Clock::system, |b| b.clock.clone());
    let app = Application::build(
        Config::parse(settings).expect("the test's settings are valid"),
        Options {
            run_worker: true,
            transport: None,
            clock: clock.clone(),
        },
    )
    .await
    .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let server = app.handle();
    let running = std::sync::Arc::new(tokio::sync::Mutex::new(Some(tokio::spawn(
        app.run_until_stopped(),
    ))));

    let db = state.db.clone();
    let now = clock.now();
    let (token, organizer_email, organizer_password) = tokio::task::spawn_blocking(move || {
        let email = EmailAddress::parse(&format!(
            "organizer-{}@example.org",
            uuid::Uuid::new_v4().simple()
        ))
        .unwrap();
        let name = SingleLine::parse("Olga Organizer", 100).unwrap();
        let created = db
            .write_blocking(|conn| organizers::create(conn, &email, &name, now))
            .unwrap();
        (created.api_token, created.organizer.email, created.password)
    })
    .await
    .unwrap();
    Some(TestApp {
        organizer_email,
        organizer_password,
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        token,
        data_dir,
        state,
        clock,
        smtp,
        eml_files: setup.eml_files,
        database_url,
        lifecycle: Lifecycle {
            server,
            running,
            pg_database,
        },
    })
}

/// A timed event in Europe/Berlin a month from now, with the given capacity.
pub fn event_json(slug: &str, capacity: Option<i64>) -> Value {
    let day = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%d");
    json!({
        "slug": slug,
        "kind": "sprint",
        "title": format!("Sprint {slug}"),
        "summary": "A day of contributing",
        "description": "Bring a laptop.",
        "timezone": "Europe/Berlin",
        "starts_at": format!("{day}T09:00"),
        "ends_at": format!("{day}T17:00"),
        "venue": "Hall B",
        "address": "Main Street 1",
        "capacity": capacity,
    })
}

impl TestApp {
    /// A client that keeps cookies, as a browser does.
    pub fn browser_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            server: self.lifecycle.server.clone(),
            running: self.lifecycle.running.clone(),
            pg_database: self.lifecycle.pg_database.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value, auth: bool) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if auth {
            request = request.bearer_auth(&self.token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn patch_json(&self, path: &str, body: &Value, auth: bool) -> reqwest::Response {
        let mut request = self.client.patch(self.url(path)).json(body);
        if auth {
            request = request.bearer_auth(&self.token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// GETs `path` and reads the JSON answer, whatever its status.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.get(path).await.json().await.expect("a JSON answer")
    }

    pub async fn get_authed(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates an event through the API and returns its JSON.
    pub async fn create_event(&self, body: &Value) -> Value {
        let response = self.post_json("/api/v1/events", body, true).await;
        assert_eq!(response.status(), 201, "creating an event");
        response.json().await.unwrap()
    }

    pub async fn create_project(&self, event: &str, body: &Value) -> Value {
        let response = self
            .post_json(&format!("/api/v1/events/{event}/projects"), body, true)
            .await;
        assert_eq!(response.status(), 201, "creating a project");
        response.json().await.unwrap()
    }

    pub async fn sign_up(
        &self,
        event: &str,
        name: &str,
        email: &str,
        projects: &[&str],
    ) -> reqwest::Response {
        self.post_json(
            &format!("/api/v1/events/{event}/registrations"),
            &json!({ "name": name, "email": email, "projects": projects }),
            false,
        )
        .await
    }

    pub async fn event(&self, slug: &str) -> Value {
        let response = self.get(&format!("/api/v1/events/{slug}")).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn registrations(&self, slug: &str) -> Vec<Value> {
        let response = self
            .get_authed(&format!("/api/v1/events/{slug}/registrations"))
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    fn mail_dir(&self) -> PathBuf {
        self.data_dir.path().join("mail")
    }

    /// Every message delivered so far, parsed: what the SMTP server accepted (or, for an app
    /// without SMTP, the `.eml` files it wrote).
    pub fn mail(&self) -> Vec<Mail> {
        if !self.eml_files {
            return self
                .smtp
                .messages()
                .iter()
                .map(|raw| Mail::parse(raw))
                .collect();
        }
        let Ok(entries) = std::fs::read_dir(self.mail_dir()) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| Mail::parse(&std::fs::read(e.path()).unwrap()))
            .collect()
    }

    /// Waits until at least `count` messages were delivered to `to`, and returns them all.
    pub async fn wait_for_mail(&self, to: &str, count: usize) -> Vec<Mail> {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mail: Vec<Mail> = self
                .mail()
                .into_iter()
                .filter(|m| m.to.eq_ignore_ascii_case(to))
                .collect();
            if mail.len() >= count {
                return mail;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {count} message(s) to {to}, got {}: {mail:#?}",
                mail.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The messages that reached `to` so far.
    pub fn mail_to(&self, to: &str) -> Vec<Mail> {
        self.mail()
            .into_iter()
            .filter(|m| m.to.eq_ignore_ascii_case(to))
            .collect()
    }

    /// Waits until the outbox holds nothing undelivered.
    pub async fn wait_for_outbox_drained(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let pending = self
                .state
                .db
                .read(convene::db::outbox::pending_count)
                .await
                .unwrap();
            if pending == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{pending} message(s) still undelivered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The fields a problem document names, in order.
pub fn problem_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A delivered message as a mail client would show it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub html: String,
    pub message_id: String,
    /// The attached `.ics`, if any.
    pub calendar: Option<String>,
    pub raw: String,
}

impl Mail {
    pub fn parse(bytes: &[u8]) -> Self {
        let message = mail_parser::MessageParser::default()
            .parse(bytes)
            .expect("a parseable message");
        let to = message
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned();
        Self {
            to,
            subject: message.subject().unwrap_or_default().to_owned(),
            body: message
                .body_text(0)
                .map(|b| b.replace("\r\n", "\n"))
                .unwrap_or_default(),
            html: message
                .body_html(0)
                .map(|b| b.into_owned())
                .unwrap_or_default(),
            calendar: message
                .attachments()
                .find(|a| a.is_content_type("text", "calendar"))
                .map(|a| String::from_utf8_lossy(a.contents()).into_owned()),
            message_id: message.message_id().unwrap_or_default().to_owned(),
            raw: String::from_utf8_lossy(bytes).into_owned(),
        }
    }

    /// The manage link in the body.
    pub fn manage_link(&self) -> String {
        let start = self
            .body
            .find(&format!("{BASE_URL}/manage/"))
            .or_else(|| {
                self.body
                    .find("/manage/")
                    .map(|i| self.body[..i].rfind("http").unwrap_or(i))
            })
            .unwrap_or_else(|| panic!("no manage link in {}", self.body));
        self.body[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }

    pub fn manage_token(&self) -> String {
        self.manage_link().rsplit('/').next().unwrap().to_owned()
    }
}

/// Declares each listed test once per backend: `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await.unwrap();
                    let lifecycle = app.lifecycle();
                    super::$name(app).await;
                    lifecycle.shutdown().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await else {
                        eprintln!("skipped: set CONVENE_TEST_POSTGRES_URL to run the PostgreSQL tests");
                        return;
                    };
                    let lifecycle = app.lifecycle();
                    super::$name(app).await;
                    lifecycle.shutdown().await;
                }
            )+
        }
    };
}
