//! The `convene` command line, run as a user would.

use std::process::Command;

fn convene(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_convene"))
        .args(args)
        .env("CONVENE_DATA_DIR", data_dir)
        .env_remove("CONVENE_DATABASE_URL")
        .env("CONVENE_LOG", "warn")
        .output()
        .expect("convene runs")
}

#[test]
fn migrate_then_organizer_add_prints_credentials_once() {
    let dir = tempfile::tempdir().unwrap();
    let migrated = convene(dir.path(), &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    assert!(
        String::from_utf8_lossy(&migrated.stdout)
            .contains("migration(s) applied to the sqlite database")
    );
    assert!(
        dir.path().join("convene.db").exists(),
        "the default database lives in the data folder"
    );

    let added = convene(
        dir.path(),
        &[
            "organizer",
            "add",
            "--email",
            "olga@example.org",
            "--name",
            "Olga",
        ],
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let out = String::from_utf8_lossy(&added.stdout);
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("API token: "))
        .expect("an API token is printed");
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("Password:  "))
        .expect("a password is printed");
    assert!(token.len() >= 43 && password.len() >= 20, "{out}");

    // Only hashes are stored.
    let db = std::fs::read(dir.path().join("convene.db")).unwrap();
    let wal = std::fs::read(dir.path().join("convene.db-wal")).unwrap_or_default();
    for secret in [token, password] {
        let needle = secret.as_bytes();
        assert!(
            !db.windows(needle.len()).any(|w| w == needle)
                && !wal.windows(needle.len()).any(|w| w == needle),
            "a secret is stored in clear"
        );
    }

    let again = convene(
        dir.path(),
        &[
            "organizer",
            "add",
            "--email",
            "OLGA@example.org",
            "--name",
            "Olga",
        ],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let bad = convene(
        dir.path(),
        &[
            "organizer",
            "add",
            "--email",
            "not-an-address",
            "--name",
            "X",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--email"));
}

#[test]
fn an_unsupported_database_url_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_convene"))
        .arg("migrate")
        .env("CONVENE_DATA_DIR", dir.path())
        .env("CONVENE_DATABASE_URL", "mysql://localhost/x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL scheme"));
}
