//! The application: parsed settings in, a bound listener and wired state out. `build` binds (port 0
//! in tests) and migrates; `run_until_stopped` serves and runs the outbox worker until the
//! server stops, then stops the worker, which gives back what it had claimed.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, Service};
use actix_web::{App, HttpServer, middleware, web};
use lettre::message::Mailbox;
use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::domain::ReminderOffsets;
use crate::error::AppError;
use crate::http::{self, AppState};
use crate::jobs::OutboxWorker;
use crate::links::Links;
use crate::mail::Transport;
use crate::metrics::Metrics;
use crate::tokens::SecretKey;

/// Choices that tests and the command line make beyond the settings.
#[derive(Clone, Default)]
pub struct Options {
    /// Run the outbox worker in this process (as `serve` does).
    pub run_worker: bool,
    /// Deliver through this transport instead of the configured one.
    pub transport: Option<Transport>,
    pub clock: Clock,
}

/// Everything shared by the server and the worker, built from settings.
pub struct Services {
    pub db: Db,
    pub links: Links,
    pub key: SecretKey,
    pub clock: Clock,
    pub transport: Transport,
    pub from: Mailbox,
    pub outbox_wake: Arc<Notify>,
    pub reminder_offsets: ReminderOffsets,
    pub metrics: Arc<Metrics>,
    pub outbox_lease: chrono::Duration,
    pub mail_concurrency: usize,
}

impl Services {
    /// Opens (and migrates) the database and the mail transport; `links` from
    /// [`Config::links`], so that the server and a lone worker build the same links.
    pub fn open(settings: &Config, links: Links, options: &Options) -> Result<Self, AppError> {
        let db = Db::connect(&settings.database_url(), settings.db_pool_size())?;
        db.migrate()?;
        let transport = match &options.transport {
            Some(t) => t.clone(),
            None => Transport::from_settings(
                settings.smtp(),
                settings.data_dir(),
                settings.smtp_timeout(),
                settings.smtp_connections(),
            )?,
        };
        let key = server_key(settings)?;
        Ok(Self {
            db,
            links,
            key,
            clock: options.clock.clone(),
            transport,
            from: settings.mail_from().clone(),
            outbox_wake: Arc::new(Notify::new()),
            reminder_offsets: settings.reminder_offsets().clone(),
            metrics: Arc::new(Metrics::new()),
            outbox_lease: settings.outbox_lease(),
            mail_concurrency: settings.smtp_connections(),
        })
    }

    /// The use cases over these services; `board`: the live boards of this process, if any.
    pub fn service(&self, board: Option<crate::board::BoardHub>) -> crate::service::Service {
        crate::service::Service {
            db: self.db.clone(),
            clock: self.clock.clone(),
            key: self.key.clone(),
            links: self.links.clone(),
            metrics: self.metrics.clone(),
            outbox_wake: self.outbox_wake.clone(),
            board,
        }
    }

    pub fn worker(&self, poll: std::time::Duration) -> OutboxWorker {
        OutboxWorker {
            db: self.db.clone(),
            transport: self.transport.clone(),
            links: self.links.clone(),
            key: self.key.clone(),
            from: self.from.clone(),
            clock: self.clock.clone(),
            wake: self.outbox_wake.clone(),
            poll,
            id: format!("{}-{}", hostname(), uuid::Uuid::new_v4()),
            reminder_offsets: self.reminder_offsets.clone(),
            metrics: self.metrics.clone(),
            lease: self.outbox_lease,
            concurrency: self.mail_concurrency,
            service: self.service(None),
        }
    }
}

/// The use cases for a one-off command of the command line (`convene organizer ...`), over
/// the database of `settings`, migrated first, with two connections, and the server's key.
/// Such a command sends no mail and watches no board; its links are
/// [`Config::command_links`].
pub fn command_service(settings: &Config) -> Result<crate::service::Service, AppError> {
    let db = Db::connect(&settings.database_url(), 2)?;
    db.migrate()?;
    Ok(crate::service::Service {
        db,
        clock: Clock::system(),
        key: server_key(settings)?,
        links: settings.command_links()?,
        metrics: Arc::new(Metrics::new()),
        outbox_wake: Arc::new(Notify::new()),
        board: None,
    })
}

/// `CONVENE_SECRET_KEY`, or the key of the data folder (made there the first time).
fn server_key(settings: &Config) -> Result<SecretKey, AppError> {
    match settings.secret_key() {
        Some(key) => Ok(key.clone()),
        None => SecretKey::load(settings.data_dir()),
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "convene".into())
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    worker: Option<OutboxWorker>,
    gate: Arc<http::guard::ClientGate>,
}

impl Application {
    pub async fn build(settings: Config, options: Options) -> Result<Self, AppError> {
        let listener = TcpListener::bind(settings.bind().address())
            .map_err(|e| AppError::config(format!("cannot listen on {}: {e}", settings.bind())))?;
        let port = listener
            .local_addr()
            .map_err(|e| AppError::Internal(e.into()))?
            .port();
        let links = settings.links(Some(port))?;
        let services = {
            let (settings, options) = (settings.clone(), options.clone());
            tokio::task::spawn_blocking(move || Services::open(&settings, links, &options))
                .await
                .map_err(|e| AppError::Internal(e.into()))??
        };
        let trusted_proxies = settings.trusted_proxies().clone();
        let worker = options
            .run_worker
            .then(|| services.worker(settings.worker_poll()));
        let board = crate::board::BoardHub::start(
            services.db.clone(),
            services.clock.clone(),
            Some(settings.database_url()),
        );
        let state = web::Data::new(AppState {
            service: services.service(Some(board.clone())),
            db: services.db.clone(),
            links: services.links.clone(),
            key: services.key.clone(),
            clock: services.clock.clone(),
            settings: settings.clone(),
            outbox_wake: services.outbox_wake.clone(),
            feed_cache: Default::default(),
            recent_feeds: Default::default(),
            recent_pages: Default::default(),
            metrics: services.metrics.clone(),
            trusted_proxies: trusted_proxies.clone(),
            login_limit: Default::default(),
            signup_limit: crate::http::limits::SignupLimit::new(settings.signups_per_minute()),
            stopping: watch::channel(false).0,
            board,
        });
        let shared = state.clone();
        let shutdown_timeout = settings.shutdown_timeout().as_secs();
        let gate = http::guard::ClientGate::new(http::guard::Limits {
            body_timeout: settings.body_timeout(),
            max_requests_per_client: settings.max_requests_per_client(),
            trusted_proxies: state.trusted_proxies.clone(),
        });
        let https = state.links.is_https();
        let server_gate = gate.clone();
        let access_log =
            tracing::enabled!(target: "actix_web::middleware::logger", tracing::Level::INFO);
        let server = HttpServer::new(move || {
            let metrics = shared.metrics.clone();
            let proxies = trusted_proxies.clone();
            let gate = server_gate.clone();
            let headers = middleware::DefaultHeaders::new();
            // Browsers that once reached the site over HTTPS refuse plain HTTP to it for a
            // year: only sent when the configured address is HTTPS, or a site reached by
            // http://localhost would lock itself out.
            let headers = if https {
                headers.add(("Strict-Transport-Security", "max-age=31536000"))
            } else {
                headers
            };
            App::new()
                .app_data(shared.clone())
                .wrap_fn(move |req, service| http::guard::screen(&gate, req, service))
                .wrap_fn(|req, service| {
                    let private = http::private::is_private(&req);
                    let response = service.call(req);
                    async move {
                        let mut response = response.await?;
                        if private {
                            http::private::no_store(response.response_mut());
                        }
                        Ok(response)
                    }
                })
                .wrap(
                    headers
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("X-Frame-Options", "DENY"))
                        .add(("Referrer-Policy", "same-origin"))
                        // No script at all, no inline style, forms only to this site.
                        .add((
                            "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                        )),
                )
                // The access log costs each request its formatting: only when it is written.
                .wrap(middleware::Condition::new(
                    access_log,
                    middleware::Logger::new("%{client}xi \"%{method}xi %{path}xi\" %s %b %Dms")
                        .custom_request_replace("client", move |req| {
                            let peer = req.peer_addr().map(|a| a.ip());
                            http::client::client_info(peer, req.headers(), &proxies).to_string()
                        })
                        .custom_request_replace("method", |req| {
                            crate::metrics::method_label(req.method().as_str()).to_owned()
                        })
                        .custom_request_replace("path", |req| {
                            crate::logging::redact_secrets(req.path())
                        })
                        .exclude("/healthz")
                        .exclude("/metrics"),
                ))
                .wrap_fn(move |req, service| {
                    let (started, metrics) = (std::time::Instant::now(), metrics.clone());
                    let method = req.method().clone();
                    let response = service.call(req);
                    async move {
                        let response = response.await?;
                        let route = response
                            .request()
                            .match_pattern()
                            .unwrap_or_else(|| "unmatched".into());
                        metrics.request(
                            method.as_str(),
                            &route,
                            response.status().as_u16(),
                            started.elapsed().as_secs_f64(),
                        );
                        Ok(response)
                    }
                })
                .configure(http::routes)
        })
        // Headers must arrive within 5 s of connecting, an idle keep-alive connection is
        // closed after 5 s, and bodies are timed by `http::guard`.
        .client_request_timeout(std::time::Duration::from_secs(5))
        .keep_alive(std::time::Duration::from_secs(5))
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        .listen(listener)
        .map_err(|e| AppError::Internal(e.into()))?
        .shutdown_timeout(shutdown_timeout)
        // Signals are handled in `run_until_stopped`, which ends live streams first.
        .disable_signals()
        .run();
        Ok(Self {
            port,
            server,
            state,
            worker,
            gate,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> &str {
        self.state.links.base()
    }

    /// Stops the server (and so the worker) from elsewhere, as SIGTERM would.
    pub fn handle(&self) -> StopHandle {
        StopHandle {
            server: self.server.handle(),
            stopping: self.state.stopping.clone(),
        }
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until the server is stopped (SIGTERM or Ctrl-C finish the requests in flight),
    /// then stops the worker.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let stopper = self.handle();
        let signals = tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("stopping: finishing requests in flight");
            stopper.stop().await;
        });
        let worker = self.worker.map(|w| tokio::spawn(w.run(stopped)));
        let trimmer = tokio::spawn(self.gate.trim_memory_after_load());
        let result = self.server.await;
        signals.abort();
        trimmer.abort();
        let _ = stop.send(true);
        if let Some(handle) = worker {
            let _ = handle.await;
        }
        result
    }
}

/// Stops a running application: live streams end first, then the server stops accepting and
/// finishes the requests in flight.
#[derive(Clone)]
pub struct StopHandle {
    server: actix_web::dev::ServerHandle,
    stopping: watch::Sender<bool>,
}

impl StopHandle {
    pub async fn stop(&self) {
        let _ = self.stopping.send(true);
        self.server.stop(true).await;
    }
}

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
