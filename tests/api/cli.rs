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

fn stdout_line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line `{prefix}` in {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizer_tokens_are_created_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = convene(dir.path(), args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let email = "tina@example.org";
    let (ok, added, err) = run(&["organizer", "add", "--email", email, "--name", "Tina"]);
    assert!(ok, "{err}");
    let first = stdout_line(&added, "API token: ").to_owned();
    let token = ["organizer", "token"];

    let (ok, created, err) = run(&[
        &token[..],
        &[
            "create",
            "--email",
            "TINA@example.org",
            "--label",
            "deploy",
            "--expires-in",
            "30d",
        ],
    ]
    .concat());
    assert!(ok, "{err}");
    let secret = stdout_line(&created, "API token: ").to_owned();
    assert!(secret.len() >= 43 && secret != first, "{created}");
    assert!(!stdout_line(&created, "Expires:   ").contains("never"));

    for (args, message) in [
        (
            vec!["--expires-in", "30"],
            "--expires-in `30` is not a lifetime",
        ),
        (
            vec!["--expires-at", "2001-02-03"],
            "--expires-at must be in the future",
        ),
        (
            vec!["--expires-in", "1d", "--expires-at", "2099-01-01"],
            "cannot be used with",
        ),
        (
            vec!["--label", &"x".repeat(81)],
            "--label must be at most 80 characters",
        ),
    ] {
        let (ok, _, err) = run(&[&token[..], &["create", "--email", email], &args[..]].concat());
        assert!(!ok && err.contains(message), "{args:?}: {err}");
    }
    let (ok, _, err) = run(&[&token[..], &["list", "--email", "nobody@example.org"]].concat());
    assert!(!ok && err.contains("no organizer has the address"), "{err}");

    let (ok, listed, err) = run(&[&token[..], &["list", "--email", email]].concat());
    assert!(ok, "{err}");
    assert!(listed.contains("created with the organizer") && listed.contains("deploy"));
    assert!(listed.contains("2 token(s)"), "{listed}");
    assert!(
        !listed.contains(&secret) && !listed.contains(&first),
        "no secret is listed: {listed}"
    );
    let deploy_id = listed
        .lines()
        .find(|l| l.ends_with("deploy"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();

    // Both tokens work against the same database; a revoked one gets 401 at once.
    let key = convene::tokens::SecretKey::generate().encode();
    let url = format!("sqlite://{}", dir.path().join("convene.db").display());
    let app = crate::helpers::spawn_app_with(
        crate::helpers::Backend::Sqlite,
        crate::helpers::Setup {
            existing: Some((url, key)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let status = |t: String| {
        let request = app
            .client
            .get(app.url("/api/v1/events/x/outbox"))
            .bearer_auth(t);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        status(secret.clone()).await,
        404,
        "known token, no such event"
    );
    assert_eq!(status(first.clone()).await, 404);
    let (ok, revoked, err) = run(&[&token[..], &["revoke", "--email", email, &deploy_id]].concat());
    assert!(ok && revoked.contains("revoked"), "{err}");
    assert_eq!(status(secret).await, 401);
    assert_eq!(status(first).await, 404, "the other token still works");
    let (ok, _, err) = run(&[&token[..], &["revoke", "--email", email, &deploy_id]].concat());
    assert!(!ok && err.contains("no such API token"), "{err}");
    let (_, listed, _) = run(&[&token[..], &["list", "--email", email]].concat());
    assert!(
        listed.contains("1 token(s)") && !listed.contains("deploy"),
        "{listed}"
    );
    app.lifecycle().shutdown().await;
}
