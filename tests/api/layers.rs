//! The layers of `src/` import downwards only: `domain` (rules and types) knows no database
//! and no HTTP; `db` (tables and queries) knows no HTTP, no use cases and no worker; the use
//! cases of `service` know no HTTP. This test reads the sources and names every import that
//! breaks the rule.

use std::path::Path;

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            found.push((path.display().to_string(), text));
        }
    }
    found
}

/// The places in the files of `layer` that name one of `above`.
fn upward_imports(layer: &str, above: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(layer);
    let mut wrong = Vec::new();
    for (path, text) in sources(&root) {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for module in above {
                if code.contains(&format!("crate::{module}::"))
                    || code.contains(&format!("crate::{module};"))
                    || code.contains(&format!("crate::{{{module}"))
                {
                    wrong.push(format!("{path}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    wrong
}

#[test]
fn domain_imports_neither_the_database_nor_http() {
    let wrong = upward_imports(
        "domain",
        &["db", "http", "service", "board", "jobs", "mail", "app"],
    );
    assert!(wrong.is_empty(), "domain reaches up:\n{}", wrong.join("\n"));
}

#[test]
fn db_imports_no_http_use_case_or_worker() {
    let wrong = upward_imports("db", &["http", "service", "board", "jobs", "app"]);
    assert!(wrong.is_empty(), "db reaches up:\n{}", wrong.join("\n"));
}

#[test]
fn use_cases_and_the_board_import_no_http() {
    let mut wrong = upward_imports("service", &["http", "app"]);
    wrong.extend(upward_imports("board", &["http", "app", "service"]));
    assert!(
        wrong.is_empty(),
        "reaches up into HTTP:\n{}",
        wrong.join("\n")
    );
}
