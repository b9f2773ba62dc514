//! `convene serve` and a separate `convene worker` on one data folder and one SMTP server, with
//! the same settings: a message sent by either carries the same links, with CONVENE_BASE_URL
//! and without it (both then build them from CONVENE_BIND, and say so in their logs). Also the
//! settings that `worker` refuses at start.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use convene::db::Db;
use serde_json::json;

use crate::helpers::Mail;
use crate::instances::{
    convene, free_port, let_backoff_pass, organizer_token, outbox_rows, terminate,
};
use crate::smtp::{Behaviour, SmtpSink};

/// A `convene` process on `data` whose output goes to `DATA/NAME.log`; killed when dropped.
struct Process {
    child: Child,
    log: std::path::PathBuf,
}

impl Process {
    fn start(name: &str, args: &[&str], data: &Path, env: &[(&str, String)]) -> Self {
        let log = data.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut command = convene();
        command
            .args(args)
            .env("CONVENE_DATA_DIR", data)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        Process {
            child: command.spawn().expect("convene starts"),
            log,
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("convene exited with {status}: {}", self.logs());
        }
    }

    /// SIGTERM, then waits for a clean exit (claimed mail is given back).
    async fn stop(&mut self) {
        let status = terminate(&mut self.child).await;
        assert!(status.success(), "exit status {status}: {}", self.logs());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every `http://` or `https://` address in the text part of `mail`.
fn links(mail: &Mail) -> Vec<String> {
    mail.body
        .split(|c: char| c.is_whitespace() || c == '<' || c == '>')
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(str::to_owned)
        .collect()
}

/// The message to `to`, once it has arrived; `sender` must keep running meanwhile.
async fn wait_for_mail(smtp: &SmtpSink, to: &str, sender: &mut Process) -> Mail {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(mail) = smtp.mail().into_iter().find(|m| m.to == to) {
            return mail;
        }
        sender.assert_running();
        assert!(Instant::now() < deadline, "no mail to {to} arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Serves on `port` with `env`, signs up one person whose confirmation `serve` sends and a
/// second whose confirmation the SMTP server refuses; stops `serve` and starts `worker`,
/// which sends the second. Returns both messages and both processes' logs.
async fn one_mail_from_each(
    port: u16,
    env: Vec<(&'static str, String)>,
) -> ((Mail, String), (Mail, String)) {
    let smtp = SmtpSink::start();
    let data = tempfile::tempdir().unwrap();
    let mut env = env;
    env.extend([
        ("CONVENE_BIND", format!("localhost:{port}")),
        ("CONVENE_SMTP_URL", smtp.url()),
        ("CONVENE_WORKER_POLL_MS", "100".to_owned()),
        ("CONVENE_SMTP_TIMEOUT_SECS", "5".to_owned()),
    ]);
    let token = organizer_token(&env, data.path());
    let mut serve = Process::start("serve", &["serve"], data.path(), &env);
    let client = reqwest::Client::new();
    let address = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("{address}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        serve.assert_running();
        assert!(
            Instant::now() < deadline,
            "serve not ready: {}",
            serve.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let created = client
        .post(format!("{address}/api/v1/events"))
        .bearer_auth(&token)
        .json(&crate::helpers::event_json("same-links", None))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let sign_up = |email: &'static str| {
        let request = client
            .post(format!("{address}/api/v1/events/same-links/registrations"))
            .json(&json!({ "name": "Ada", "email": email }));
        async move { request.send().await.unwrap().status().as_u16() }
    };

    assert_eq!(sign_up("by-serve@example.org").await, 202);
    let from_serve = wait_for_mail(&smtp, "by-serve@example.org", &mut serve).await;

    smtp.set(Behaviour::Refuse);
    assert_eq!(sign_up("by-worker@example.org").await, 202);
    let db = Db::connect(&data.path().join("convene.db").to_string_lossy(), 2).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !outbox_rows(&db).iter().any(|r| {
        r.recipient == "by-worker@example.org" && r.attempts > 0 && r.claimed_until.is_none()
    }) {
        serve.assert_running();
        assert!(
            Instant::now() < deadline,
            "serve never tried the second message"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serve.stop().await;

    smtp.set(Behaviour::Accept);
    assert_eq!(
        let_backoff_pass(&db),
        1,
        "the refused message waits for its retry"
    );
    let mut worker = Process::start("worker", &["worker"], data.path(), &env);
    let from_worker = wait_for_mail(&smtp, "by-worker@example.org", &mut worker).await;
    worker.stop().await;
    ((from_serve, serve.logs()), (from_worker, worker.logs()))
}

fn assert_same_links(serve: &Mail, worker: &Mail, base: &str) {
    for (who, mail) in [("serve", serve), ("worker", worker)] {
        let found = links(mail);
        assert!(
            found
                .iter()
                .any(|l| l.starts_with(&format!("{base}/manage/")))
                && found
                    .iter()
                    .any(|l| *l == format!("{base}/events/same-links")),
            "the message from {who} has no manage or event link under {base}: {}",
            mail.body
        );
        assert!(
            found.iter().all(|l| l.starts_with(&format!("{base}/"))),
            "a link in the message from {who} does not start with {base}: {found:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_worker_build_the_same_links_from_the_base_url() {
    let base = "https://sprints.example.org/convene";
    let ((serve, _), (worker, _)) =
        one_mail_from_each(free_port(), vec![("CONVENE_BASE_URL", format!("{base}/"))]).await;
    assert_same_links(&serve, &worker, base);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_base_url_serve_and_worker_build_links_from_the_bind_address() {
    let port = free_port();
    // A host name: the server binds what it resolves to, and still links say `localhost`.
    let base = format!("http://localhost:{port}");
    let ((serve, serve_log), (worker, worker_log)) = one_mail_from_each(port, Vec::new()).await;
    assert_same_links(&serve, &worker, &base);
    for (who, log) in [("serve", serve_log), ("worker", worker_log)] {
        assert!(
            log.lines()
                .any(|l| l.contains("CONVENE_BASE_URL is not set")
                    && l.contains(&format!("links in mail and feeds start with {base}"))),
            "{who} does not say where its links come from: {log}"
        );
    }
}

/// `convene worker` with `env` and no server: the message it exits with.
fn worker_refusal(env: &[(&str, &str)]) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut command = convene();
    command
        .arg("worker")
        .env("CONVENE_DATA_DIR", data.path())
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("convene worker started with {env:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "convene worker ran with {env:?}");
    let mut message = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut message).unwrap();
    message
}

#[test]
fn a_worker_refuses_settings_it_cannot_use_and_names_them() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("CONVENE_BIND", "127.0.0.1:0")],
            "CONVENE_BASE_URL is not set",
        ),
        (
            &[("CONVENE_BASE_URL", "ftp://x.example")],
            "CONVENE_BASE_URL",
        ),
        (
            &[("CONVENE_MAIL_FROM", "not a mailbox")],
            "CONVENE_MAIL_FROM",
        ),
        (
            &[("CONVENE_REMINDER_OFFSETS", "soon")],
            "CONVENE_REMINDER_OFFSETS",
        ),
        (
            &[("CONVENE_TRUSTED_PROXIES", "proxy.local")],
            "CONVENE_TRUSTED_PROXIES",
        ),
        (
            &[("CONVENE_SMTP_URL", "http://mail.example")],
            "CONVENE_SMTP_URL",
        ),
        (&[("CONVENE_SECRET_KEY", "short")], "CONVENE_SECRET_KEY"),
        (&[("CONVENE_BIND", "8080")], "CONVENE_BIND"),
        (&[("CONVENE_LOG_FORMAT", "xml")], "CONVENE_LOG_FORMAT"),
        (
            &[("CONVENE_OUTBOX_LEASE_SECS", "soon")],
            "CONVENE_OUTBOX_LEASE_SECS",
        ),
    ];
    for (env, named) in cases {
        let message = worker_refusal(env);
        assert!(
            message.contains(named),
            "{env:?}: the refusal does not name {named}: {message}"
        );
    }
    // The command that makes a new key works while the configured one is refused.
    let out = convene()
        .arg("secret")
        .env("CONVENE_SECRET_KEY", "short")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim().len(), 43);
}
