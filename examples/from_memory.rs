//! The ceiling of `benches/all.sh`: actix-web handing out the same bytes from memory.
//!
//!     cargo build --release --example from_memory
//!     target/release/examples/from_memory --bind 127.0.0.1:8081 \
//!         --file '/=/tmp/home.html=text/html; charset=utf-8' \
//!         --file '/calendar.ics=/tmp/calendar.ics=text/calendar; charset=utf-8'
//!
//! Each `--file ROUTE=PATH[=CONTENT_TYPE]` is read into memory once, at start, and every
//! `GET ROUTE` is answered `200` with exactly those bytes and that Content-Type (default
//! `application/octet-stream`). When `PATH.gz` exists too, requests whose `Accept-Encoding`
//! mentions gzip get those bytes instead, with `Content-Encoding: gzip`, and both forms carry
//! `Vary: Accept-Encoding`. Any other path answers `404`, any other method `405`.
//!
//! No database, no templates, no middleware, the workers actix-web starts by default (one per
//! core): what Convene's pages and feeds cost beyond this is what Convene itself does per request,
//! on the same HTTP server. `benches/all.sh` saves Convene's answers with curl, serves them from
//! here at the same paths and runs the same wrk against both.

use std::collections::HashMap;
use std::io;

use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use clap::Parser;

#[derive(Parser)]
#[command(about = "Serves files from memory: the ceiling of benches/all.sh")]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    bind: String,
    /// A route and the file it answers with (read once, at start).
    #[arg(
        long = "file",
        required = true,
        value_name = "ROUTE=PATH[=CONTENT_TYPE]"
    )]
    files: Vec<String>,
}

/// One route's answer, in memory.
struct File {
    content_type: HeaderValue,
    body: Bytes,
    /// The bytes of `PATH.gz`, when it exists.
    gzip: Option<Bytes>,
}

/// Reads one `ROUTE=PATH[=CONTENT_TYPE]` (the content type may hold `=`, as in `charset=utf-8`).
fn load(spec: &str) -> io::Result<(String, File)> {
    let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
    let mut parts = spec.splitn(3, '=');
    let (Some(route), Some(path)) = (parts.next(), parts.next()) else {
        return Err(invalid(format!(
            "--file {spec}: expected ROUTE=PATH[=CONTENT_TYPE]"
        )));
    };
    let content_type = parts.next().unwrap_or("application/octet-stream");
    let content_type = HeaderValue::from_str(content_type)
        .map_err(|e| invalid(format!("--file {spec}: content type: {e}")))?;
    let read = |path: &str| {
        std::fs::read(path)
            .map(Bytes::from)
            .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))
    };
    let body = read(path)?;
    let gz = format!("{path}.gz");
    let gzip = if std::path::Path::new(&gz).exists() {
        Some(read(&gz)?)
    } else {
        None
    };
    Ok((
        route.to_owned(),
        File {
            content_type,
            body,
            gzip,
        },
    ))
}

/// Every request: the file of its path, as it was read (cloning `Bytes` copies no bytes).
async fn answer(req: HttpRequest, files: web::Data<HashMap<String, File>>) -> HttpResponse {
    if req.method() != Method::GET {
        return HttpResponse::MethodNotAllowed().finish();
    }
    let Some(file) = files.get(req.path()) else {
        return HttpResponse::NotFound().finish();
    };
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CONTENT_TYPE, file.content_type.clone()));
    let Some(gzip) = &file.gzip else {
        return response.body(file.body.clone());
    };
    response.insert_header((header::VARY, HeaderValue::from_static("Accept-Encoding")));
    let takes_gzip = req
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .any(|v| v.to_str().is_ok_and(|v| v.contains("gzip")));
    if takes_gzip {
        response
            .insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")))
            .body(gzip.clone())
    } else {
        response.body(file.body.clone())
    }
}

#[actix_web::main]
async fn main() -> io::Result<()> {
    let args = Args::parse();
    let mut files = HashMap::new();
    for spec in &args.files {
        let (route, file) = load(spec)?;
        eprintln!(
            "{route}: {} bytes{}",
            file.body.len(),
            file.gzip
                .as_ref()
                .map_or(String::new(), |g| format!(", {} bytes gzip", g.len()))
        );
        files.insert(route, file);
    }
    let files = web::Data::new(files);
    HttpServer::new(move || {
        App::new()
            .app_data(files.clone())
            .default_service(web::to(answer))
    })
    .bind(&args.bind)?
    .shutdown_timeout(1)
    .run()
    .await
}
