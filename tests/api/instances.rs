//! Real `convene` processes for the tests that need one: started with their own data folder
//! and environment, waited for until ready, killed (SIGKILL) when dropped. Shared by the
//! multi-process tests and the fault suite.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
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
        .env("CONVENE_LOG", "info");
    command
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
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = data.path().join("convene.log");
        let mut command = convene();
        command
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
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
