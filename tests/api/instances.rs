//! Real `convene` processes for the tests that need one: started with their own data folder
//! and environment, waited for until ready, killed (SIGKILL) when dropped. Shared by the
//! multi-process tests and the fault suite.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convene::db::Db;
use convene::db::outbox::OutboxRow;
use convene::db::schema::outbox;
use diesel::prelude::*;

pub fn convene() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_convene"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CONVENE_LOG", "info")
        // Load from one loopback address is the point of these tests, not abuse.
        .env("CONVENE_SIGNUPS_PER_MINUTE", "0");
    command
}

/// A new secret key (`convene secret`), for instances that must share one.
pub fn secret_key() -> String {
    let out = convene().arg("secret").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `convene serve` process, killed when dropped.
pub struct Instance {
    pub child: Child,
    pub base: String,
    pub log: std::path::PathBuf,
    pub data: tempfile::TempDir,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    pub fn start(env: &[(&str, String)]) -> Instance {
        Self::start_in(tempfile::tempdir().unwrap(), &[], env)
    }

    /// `convene serve` with `args` added, on the data folder `data` (its output, in
    /// `convene.log` there, starts afresh).
    pub fn start_in(data: tempfile::TempDir, args: &[&str], env: &[(&str, String)]) -> Instance {
        let port = free_port();
        let log = data.path().join("convene.log");
        let mut command = convene();
        command
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("CONVENE_DATA_DIR", data.path())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        Instance {
            child: command.spawn().expect("convene serve starts"),
            base: format!("http://127.0.0.1:{port}"),
            log,
            data,
        }
    }

    /// Waits until `convene healthcheck` says the server is ready.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let probe = convene()
                .args(["healthcheck", "--url", &format!("{}/readyz", self.base)])
                .output()
                .unwrap();
            if probe.status.success() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "convene serve exited with {status}: {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "not ready in time: {}",
                String::from_utf8_lossy(&probe.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Sends SIGTERM to `child` and waits for it to exit, at most 20 seconds.
pub async fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still running 20 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn organizer_token(env: &[(&str, String)], data: &Path) -> String {
    let mut command = convene();
    command
        .args([
            "organizer",
            "add",
            "--email",
            "ops@example.org",
            "--name",
            "Ops",
        ])
        .env("CONVENE_DATA_DIR", data);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("API token: "))
        .expect("an API token")
        .to_owned()
}

pub fn outbox_rows(db: &Db) -> Vec<OutboxRow> {
    db.read_blocking(|conn| {
        Ok(outbox::table
            .order(outbox::id.asc())
            .select(OutboxRow::as_select())
            .load(conn)?)
    })
    .unwrap()
}

/// Makes every message that waits for its retry due now, as if its backoff had passed: a
/// `convene` process's clock cannot be moved from the test, so the test moves the moment the
/// message waits for instead. Returns how many moved.
pub fn let_backoff_pass(db: &Db) -> usize {
    let now = chrono::Utc::now().naive_utc();
    move_waiting(db, now, |_| now)
}

/// Brings the moment each waiting message is due `by` nearer (never before now), as if `by`
/// more time had passed for the waiting messages: an outage's retry schedule plays faster.
pub fn hasten_backoff(db: &Db, by: chrono::Duration) -> usize {
    let now = chrono::Utc::now().naive_utc();
    move_waiting(db, now, |due| (due - by).max(now))
}

/// Gives each message that waits for a retry (pending, due after `now`, held by no worker)
/// the due time `to(its due time)`.
fn move_waiting(
    db: &Db,
    now: chrono::NaiveDateTime,
    to: impl Fn(chrono::NaiveDateTime) -> chrono::NaiveDateTime,
) -> usize {
    db.write_blocking(|conn| {
        let waiting: Vec<(i64, chrono::NaiveDateTime)> = outbox::table
            .filter(outbox::sent_at.is_null())
            .filter(outbox::failed_at.is_null())
            .filter(outbox::skipped_at.is_null())
            .filter(outbox::available_at.gt(now))
            .filter(
                outbox::claimed_until
                    .is_null()
                    .or(outbox::claimed_until.lt(now)),
            )
            .select((outbox::id, outbox::available_at))
            .load(conn)?;
        for (id, due) in &waiting {
            diesel::update(outbox::table.find(id))
                .set(outbox::available_at.eq(to(*due)))
                .execute(conn)?;
        }
        Ok(waiting.len())
    })
    .unwrap()
}

/// A PostgreSQL server of the test's own (initdb into a temporary folder, a free loopback
/// port, trust authentication), which the test may restart at will: never the machine's
/// shared server. Stopped (immediately) and removed when dropped.
pub struct PgCluster {
    pub port: u16,
    bin: std::path::PathBuf,
    folder: tempfile::TempDir,
    /// PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user.
    as_postgres: bool,
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }
}

impl PgCluster {
    /// The newest `/usr/lib/postgresql/<version>/bin` that has initdb and pg_ctl.
    fn binaries() -> Option<std::path::PathBuf> {
        std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
                    .then_some((version, bin))
            })
            .max()
            .map(|(_, bin)| bin)
    }

    /// A new cluster, started; None (with a message) when PostgreSQL is not installed, unless
    /// CI=true, where that is a failure.
    pub fn start() -> Option<PgCluster> {
        let Some(bin) = Self::binaries() else {
            assert!(
                !std::env::var("CI").is_ok_and(|v| v == "true"),
                "no PostgreSQL binaries under /usr/lib/postgresql/*/bin (initdb, pg_ctl); CI needs them"
            );
            eprintln!("skipped: no PostgreSQL binaries under /usr/lib/postgresql/*/bin");
            return None;
        };
        let uid = Command::new("id").arg("-u").output().unwrap();
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let folder = tempfile::Builder::new()
            .prefix("convene-pg-")
            .tempdir()
            .unwrap();
        if as_postgres {
            let chown = Command::new("chown")
                .arg("postgres:")
                .arg(folder.path())
                .status()
                .unwrap();
            assert!(chown.success(), "chown of the cluster's folder to postgres");
        }
        let cluster = PgCluster {
            port: free_port(),
            bin,
            folder,
            as_postgres,
        };
        let data = cluster.data();
        let init = cluster
            .command("initdb")
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        // fsync off: a restart of the server, not of the machine, is what is tested, and the
        // disk is shared with other people's builds.
        let settings = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\nmax_connections = 50\n",
            cluster.port,
            cluster.folder.path().display()
        );
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(&settings);
        std::fs::write(&conf, text).unwrap();
        let started = cluster.pg_ctl(&["start", "-w", "-t", "60"]);
        assert!(
            started.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&started.stderr),
            cluster.log()
        );
        Some(cluster)
    }

    fn data(&self) -> std::path::PathBuf {
        self.folder.path().join("data")
    }

    /// The server's own log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.folder.path().join("postgres.log")).unwrap_or_default()
    }

    /// A URL for `database` on this server as user postgres.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// `pg_ctl restart -m <mode>` (`fast` or `immediate`), waiting until it accepts
    /// connections again.
    pub fn restart(&self, mode: &str) {
        let restarted = self.pg_ctl(&["restart", "-m", mode, "-w", "-t", "60"]);
        assert!(
            restarted.status.success(),
            "pg_ctl restart -m {mode} failed: {}{}",
            String::from_utf8_lossy(&restarted.stderr),
            self.log()
        );
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let log = self.folder.path().join("postgres.log");
        self.command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(log)
            .args(args)
            .output()
            .unwrap()
    }

    /// One of the server's programs, as the user that may run it, in a folder it may read.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        command.current_dir(self.folder.path());
        command
    }
}

/// One signup's answer: the address, the status (or the client's error) and when it came.
#[derive(Debug, Clone)]
pub struct Answer {
    pub index: usize,
    pub email: String,
    pub status: Result<u16, String>,
    pub at: Instant,
}

/// People signing up to one event of an instance, a few clients at once with a pause between
/// two signups, each with a new address (`address(i)` for the i-th signup), until stopped or
/// a bound is reached. Every answer is kept.
pub struct SignupLoad {
    stop: Arc<AtomicBool>,
    next: Arc<AtomicUsize>,
    answers: Arc<Mutex<Vec<Answer>>>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

/// The most signups one client of a `SignupLoad` makes.
const MOST_SIGNUPS_PER_CLIENT: usize = 20_000;

impl SignupLoad {
    pub fn start(
        base: &str,
        slug: &str,
        clients: usize,
        pause: Duration,
        address: impl Fn(usize) -> String + Send + Sync + 'static,
    ) -> SignupLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicUsize::new(0));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let address = Arc::new(address);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap();
        let url = format!("{base}/api/v1/events/{slug}/registrations");
        let clients = (0..clients)
            .map(|_| {
                let (stop, next, answers) = (stop.clone(), next.clone(), answers.clone());
                let (address, http, url) = (address.clone(), http.clone(), url.clone());
                tokio::spawn(async move {
                    for _ in 0..MOST_SIGNUPS_PER_CLIENT {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        // The index is taken before the address is chosen: see `started`.
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        let email = address(index);
                        let status = http
                            .post(&url)
                            .json(
                                &serde_json::json!({ "name": format!("P{index}"), "email": email }),
                            )
                            .send()
                            .await
                            .map(|r| r.status().as_u16())
                            .map_err(|e| e.to_string());
                        answers.lock().unwrap().push(Answer {
                            index,
                            email,
                            status,
                            at: Instant::now(),
                        });
                        tokio::time::sleep(pause).await;
                    }
                })
            })
            .collect();
        SignupLoad {
            stop,
            next,
            answers,
            clients,
        }
    }

    /// How many signups have begun. A signup begun after this call chooses its address after
    /// it too, so it sees whatever the caller changed before calling.
    pub fn started(&self) -> usize {
        self.next.load(Ordering::SeqCst)
    }

    /// Waits until every signup with an index below `below` has its answer.
    pub async fn wait_answered(&self, below: usize, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let answered = self
                .answers
                .lock()
                .unwrap()
                .iter()
                .filter(|a| a.index < below)
                .count();
            if answered >= below {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "signups unanswered after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The answers so far.
    pub fn answers(&self) -> Vec<Answer> {
        self.answers.lock().unwrap().clone()
    }

    /// Stops the clients and returns every answer.
    pub async fn stop(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::SeqCst);
        for client in self.clients {
            client.await.unwrap();
        }
        std::mem::take(&mut *self.answers.lock().unwrap())
    }
}
