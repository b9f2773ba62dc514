//! schemathesis over the OpenAPI document: every check it has (server errors, status codes,
//! content types, response schemas, schema-valid input accepted and schema-invalid input
//! refused, authentication, stateful links), run against a real `convene serve` with an
//! organizer token. The promise: zero failures, which makes the document truthful.
//!
//! Uses `target/parsers-venv/bin/schemathesis` (the venv `.ci/run` fills from
//! tests/parsers/requirements.txt), or the one `CONVENE_SCHEMATHESIS` names.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{report, rounds};
use crate::instances::{Instance, organizer_token};

fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var_os("CONVENE_SCHEMATHESIS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/parsers-venv/bin/schemathesis"),
        PathBuf::from,
    );
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{} is missing: CI installs it from tests/parsers/requirements.txt",
        path.display()
    );
    eprintln!(
        "skipped: {} is missing (pip install -r tests/parsers/requirements.txt into target/parsers-venv)",
        path.display()
    );
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a fault test: cargo test --test api faults:: -- --ignored"]
async fn schemathesis_finds_nothing_wrong_with_the_api_or_its_description() {
    let Some(binary) = schemathesis() else {
        return;
    };
    let rounds = rounds(5);
    // One round (CI) runs in about a minute on two cores; five in about five.
    let max_examples = 20 * rounds;
    let deadline = Duration::from_secs(120 + 90 * rounds as u64);

    let mut instance = Instance::start(&[]);
    instance.wait_ready();
    let token = organizer_token(&[], instance.data.path());
    let reports = tempfile::tempdir().unwrap();
    let ndjson = reports.path().join("run.ndjson");
    let config =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/faults/schemathesis.toml");

    let started = Instant::now();
    let mut child = Command::new(&binary)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{}/api/v1/openapi.json", instance.base)])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "all", "--no-color", "--workers", "1"])
        .args(["--max-examples", &max_examples.to_string()])
        .args(["--seed", "20261201", "--generation-database", "none"])
        .args(["--report", "ndjson", "--report-ndjson-path"])
        .arg(&ndjson)
        .current_dir(reports.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("schemathesis starts");
    let stdout = child.stdout.take().unwrap();
    let output = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("schemathesis did not finish within {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let output = output.join().unwrap();

    let (mut cases, mut checks_run, mut failures) = (0usize, 0usize, Vec::new());
    let mut check_names = BTreeSet::new();
    for line in std::fs::read_to_string(&ndjson).unwrap_or_default().lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(finished) = event.get("ScenarioFinished") else {
            continue;
        };
        let label = finished["recorder"]["label"]
            .as_str()
            .unwrap_or("?")
            .to_owned();
        for results in finished["recorder"]["checks"]
            .as_object()
            .into_iter()
            .flat_map(|c| c.values())
        {
            cases += 1;
            for check in results.as_array().into_iter().flatten() {
                let name = check["name"].as_str().unwrap_or("?");
                match check["status"].as_str() {
                    Some("skip") => {}
                    Some("failure") => {
                        checks_run += 1;
                        failures.push(format!("{label}: {name}"));
                    }
                    _ => {
                        checks_run += 1;
                        check_names.insert(name.to_owned());
                    }
                }
            }
        }
    }
    report(
        "schemathesis",
        &[
            ("rounds", rounds.to_string()),
            ("max_examples", max_examples.to_string()),
            ("cases", cases.to_string()),
            ("checks_run", checks_run.to_string()),
            ("kinds_of_check", check_names.len().to_string()),
            ("failures", failures.len().to_string()),
            ("exit", status.code().unwrap_or(-1).to_string()),
            ("seconds", started.elapsed().as_secs().to_string()),
        ],
    );
    assert!(
        instance.child.try_wait().unwrap().is_none(),
        "the server died under the run: {}",
        instance.logs()
    );
    assert!(
        cases > 100 && checks_run > cases,
        "too little ran:\n{output}"
    );
    assert!(
        failures.is_empty() && status.success(),
        "schemathesis failures: {failures:#?}\n{output}"
    );
}
