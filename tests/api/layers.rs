//! The layers of `src/` import downwards only: `domain` (rules and types) knows no database
//! and no HTTP; `db` (tables and queries) knows no HTTP, no use cases and no worker; the use
//! cases of `service` know no HTTP; and HTTP reaches the database through the use cases only.
//! These tests read the sources and name every place that breaks the rule.

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

/// The code of a source file without comments, and without whitespace but the one space
/// that keeps two words apart, so that a call split over lines (`state\n.db\n.read(`) reads
/// as one (`state.db.read(`).
fn compact(text: &str) -> String {
    let mut code = String::new();
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or_default();
        for c in line.chars().chain([' ']) {
            if c.is_whitespace() {
                if code.ends_with(is_ident) {
                    code.push(' ');
                }
            } else {
                if code.ends_with(' ') && !is_ident(c) {
                    code.pop();
                }
                code.push(c);
            }
        }
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn starts_lowercase(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
}

/// The path that starts at `code[at..]`, such as `events::find_by_slug`, and whether a call
/// follows it.
fn path_at(code: &str, at: usize) -> (&str, bool) {
    let rest = &code[at..];
    let mut end = 0;
    loop {
        end += rest[end..]
            .find(|c: char| !is_ident(c))
            .unwrap_or(rest.len() - end);
        match rest[end..].strip_prefix("::") {
            Some(next) if next.starts_with(is_ident) => end += 2,
            _ => break,
        }
    }
    (&rest[..end], rest[end..].starts_with('('))
}

/// What a `use crate::db::TREE;` brings in: the modules of `db` it names (`events`,
/// `events::{self, ..}`), and the functions (`events::find_by_slug`) it imports.
fn imported(
    tree: &str,
    db_modules: &[String],
    modules: &mut Vec<String>,
    functions: &mut Vec<String>,
) {
    let tree = tree.trim_matches(|c| c == '{' || c == '}');
    let mut depth = 0;
    let mut start = 0;
    let mut items = Vec::new();
    for (i, c) in tree.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&tree[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&tree[start..]);
    for item in items.into_iter().filter(|i| !i.is_empty()) {
        let name = item.split("::").next().unwrap_or_default();
        match item.split_once("::") {
            None if db_modules.iter().any(|m| m == name) => modules.push(name.to_owned()),
            None if starts_lowercase(name) => functions.push(name.to_owned()),
            None => {}
            Some((module, inner)) => {
                if inner.starts_with('{') && inner.contains("self") {
                    modules.push(module.to_owned());
                }
                let (mut inner_modules, mut inner_functions) = (Vec::new(), Vec::new());
                imported(inner, &[], &mut inner_modules, &mut inner_functions);
                functions.extend(inner_functions.into_iter().filter(|f| f != "self"));
            }
        }
    }
}

/// Every place in `text` that reaches the database other than through a use case: the pool
/// asked directly (`state.db.read(`; only its write generation may be looked at, by the
/// caches of pages and feeds), a closure over a connection, or a call of a function of `db`,
/// by its path or through a `use`. Naming the row types of `db` is fine.
fn database_calls(text: &str, db_modules: &[String]) -> Vec<String> {
    let code = compact(text);
    let mut found = Vec::new();
    for (at, _) in code.match_indices(".db.") {
        let (method, _) = path_at(&code, at + 4);
        if method != "generation" {
            found.push(format!(".db.{method}"));
        }
    }
    for needle in ["|conn", "DbConn"] {
        if code.contains(needle) {
            found.push(needle.to_owned());
        }
    }
    let (mut modules, mut functions) = (Vec::new(), Vec::new());
    for (at, _) in code.match_indices("use crate::db::") {
        let tree = code[at + "use crate::db::".len()..]
            .split(';')
            .next()
            .unwrap_or_default();
        imported(tree, db_modules, &mut modules, &mut functions);
    }
    if code.contains("use crate::db;") || code.contains("use crate::db::{self") {
        modules.push("db".to_owned());
    }
    found.extend(
        functions
            .into_iter()
            .map(|f| format!("use of db function {f}")),
    );
    for (at, _) in code.match_indices("crate::db::") {
        let (path, call) = path_at(&code, at);
        if call && path.rsplit("::").next().is_some_and(starts_lowercase) {
            found.push(format!("{path}("));
        }
    }
    for module in &modules {
        for (at, _) in code.match_indices(&format!("{module}::")) {
            let after_path = code[..at].ends_with(|c: char| is_ident(c) || c == ':');
            let (path, call) = path_at(&code, at);
            if !after_path && call && path.rsplit("::").next().is_some_and(starts_lowercase) {
                found.push(format!("{path}("));
            }
        }
    }
    found
}

/// The modules of `src/db`, by file name.
fn db_modules() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join("db");
    sources(&root)
        .into_iter()
        .filter_map(|(path, _)| {
            Path::new(&path)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .filter(|m| m != "mod")
        .collect()
}

#[test]
fn the_database_check_sees_each_way_of_calling_it() {
    let modules = db_modules();
    for (code, why) in [
        (
            "let e = state\n    .db\n    .read(move |c| f(c)).await?;",
            "a read on the pool",
        ),
        ("state.db.write(f).await?;", "a write on the pool"),
        ("let db = state.db.clone();", "the pool taken away"),
        (
            "state.service.read(move |conn| f(conn))",
            "a closure over a connection",
        ),
        ("fn f(conn: &mut DbConn) {}", "a connection taken"),
        (
            "let s = crate::db::board::slots_for_event(c, id)?;",
            "a db function by its path",
        ),
        ("crate::db::lock_event(c, id)?;", "a function of db itself"),
        (
            "use crate::db::{events, projects};\nevents::find_by_slug(c, s)?;",
            "an imported module",
        ),
        (
            "use crate::db::organizers::{self, Row};\norganizers::count(c)?;",
            "a module as self",
        ),
        (
            "use crate::db::events::find_by_slug;",
            "an imported function",
        ),
        (
            "use crate::db;\ndb::events::find_by_slug(c, s)?;",
            "db itself imported",
        ),
        (
            "use crate::db::events;\nreturn events::find_by_slug(c, s);",
            "a call after a keyword",
        ),
    ] {
        assert!(
            !database_calls(code, &modules).is_empty(),
            "not seen: {why}"
        );
    }
    for (code, why) in [
        (
            "let generation = state.db.generation();",
            "the write generation",
        ),
        (
            "use crate::db::events::{EventRow, Period};\nfn f(e: EventRow, p: Period) {}",
            "row types",
        ),
        (
            "use crate::db::organizers::SESSION_DAYS;\nlet d = SESSION_DAYS;",
            "a constant",
        ),
        (
            "use crate::db::events;\nservice::events::find(&state.service, slug)",
            "a use case",
        ),
        ("let p = events::Period::All;", "a type by its path"),
    ] {
        assert!(
            database_calls(code, &modules).is_empty(),
            "taken for a call: {why}"
        );
    }
}

#[test]
fn http_reaches_the_database_through_use_cases_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join("http");
    let modules = db_modules();
    let mut wrong = Vec::new();
    for (path, text) in sources(&root) {
        // Health reports on the database itself: its pool and whether it answers.
        if path.ends_with("health.rs") {
            continue;
        }
        wrong.extend(
            database_calls(&text, &modules)
                .into_iter()
                .map(|call| format!("{path}: {call}")),
        );
    }
    assert!(
        wrong.is_empty(),
        "HTTP calls the database beside the use cases of service:\n{}",
        wrong.join("\n")
    );
}
