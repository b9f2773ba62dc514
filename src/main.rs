//! The `convene` command: parse arguments, set up logging, run one subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use convene::app::{Application, Options, Services};
use convene::config::{Bind, Config};
use convene::domain::{EmailAddress, SingleLine};
use convene::error::AppError;
use convene::service::organizers;
use tokio::sync::watch;

#[derive(Parser)]
#[command(
    name = "convene",
    version,
    about = "Events, signups, projects, email and calendar feeds for code sprints, hack-ins, summits and meetups"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web pages, JSON API and feeds, and deliver email, in one process.
    Serve {
        /// Address to listen on (overrides CONVENE_BIND).
        #[arg(long)]
        bind: Option<String>,
        /// Fill an empty database with sample events, projects and signups.
        #[arg(long)]
        demo: bool,
    },
    /// Deliver email from the outbox without serving HTTP.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage organizers.
    Organizer {
        #[command(subcommand)]
        command: OrganizerCommand,
    },
    /// Print a new random secret key for CONVENE_SECRET_KEY.
    Secret,
    /// Send one message through the configured mail settings, to check them.
    SendTestEmail {
        #[arg(long)]
        to: String,
    },
    /// Write every table of the database as JSON lines (to move to another database).
    Export {
        /// The file to write (standard output when omitted).
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Read an export into an empty database (migrated first); all of it or nothing.
    Import {
        /// The file `convene export` wrote (`-` for standard input).
        file: std::path::PathBuf,
    },
    /// Exit 0 if the server on CONVENE_BIND (or --url) answers /readyz: for container health
    /// checks, where no curl is at hand.
    Healthcheck {
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum OrganizerCommand {
    /// Create an organizer; prints a generated password and an API token, once.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
    /// List, create or revoke an organizer's API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Show the organizer's tokens (never their secrets, which are not stored).
    List {
        #[arg(long)]
        email: String,
    },
    /// Issue a new token; prints it once.
    Create {
        #[arg(long)]
        email: String,
        /// What the token is for, to recognize it in the list.
        #[arg(long, default_value = "")]
        label: String,
        /// Lifetime, such as 30d, 12h or 90m (default: until revoked).
        #[arg(long, conflicts_with = "expires_at")]
        expires_in: Option<String>,
        /// A date (the token stops working at 00:00 UTC that day) or an RFC 3339 date-time.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// Revoke one token by its id (from `list`); it stops working at once.
    Revoke {
        #[arg(long)]
        email: String,
        id: i64,
    },
}

/// jemalloc gives memory freed after a burst back to the system, by its own thread within
/// about a second: with glibc's allocator 10,000 stalled connections left the server 70–120 MB
/// larger after they had closed (tuned as below and trimmed), with jemalloc 12 MB.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static JEMALLOC_CONF: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// SQLite and libpq still allocate with the C library's malloc. glibc gives every thread that allocates its own memory arena, up to 8 per core, and returns
/// little of it: under a burst of mail the server grew from 31 to 117 MB and stayed there. Two
/// arenas keep it near its working set at no measurable cost in speed.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    // Needs no settings: it makes the key that a refused CONVENE_SECRET_KEY is replaced with.
    if let Command::Secret = cli.command {
        println!("{}", convene::tokens::SecretKey::generate().encode());
        return ExitCode::SUCCESS;
    }
    let settings = match Config::load() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("convene: {e}");
            return ExitCode::FAILURE;
        }
    };
    convene::logging::init(settings.json_logs());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("convene: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convene: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Config) -> Result<(), AppError> {
    match command {
        Command::Serve { bind, demo } => {
            // Without SMTP the worker writes mail as files: the demo says where to look.
            let mail_dir = settings
                .smtp()
                .is_none()
                .then(|| settings.data_dir().join("mail"));
            let settings = match bind {
                Some(bind) => settings.with_bind(
                    Bind::parse(&bind).map_err(|e| AppError::config(format!("--bind: {e}")))?,
                ),
                None => settings,
            };
            let app = Application::build(
                settings,
                Options {
                    run_worker: true,
                    ..Options::default()
                },
            )
            .await?;
            if demo && let Some(seeded) = convene::demo::seed(&app.state().service).await? {
                print_demo(&seeded, app.base_url(), mail_dir.as_deref());
            }
            println!("Convene is running at {}/ (Ctrl-C to stop)", app.base_url());
            app.run_until_stopped()
                .await
                .map_err(|e| AppError::Internal(e.into()))
        }
        Command::Worker => {
            let links = settings.links(None)?;
            let services = Services::open(&settings, links, &Options::default())?;
            tracing::info!(
                base_url = services.links.base(),
                "delivering mail from the outbox; links start with {}",
                services.links.base()
            );
            let worker = services.worker(settings.worker_poll());
            let (stop, stopped) = watch::channel(false);
            let handle = tokio::spawn(worker.run(stopped));
            convene::app::shutdown_signal().await;
            let _ = stop.send(true);
            handle.await.map_err(|e| AppError::Internal(e.into()))
        }
        Command::Migrate => {
            let db = convene::db::Db::connect(&settings.database_url(), 2)?;
            let applied = db.migrate()?;
            println!(
                "{applied} migration(s) applied to the {} database.",
                db.backend().name()
            );
            Ok(())
        }
        Command::Organizer {
            command: OrganizerCommand::Add { email, name },
        } => {
            let email = EmailAddress::parse(&email)
                .map_err(|m| AppError::config(format!("--email {m}")))?;
            let name = SingleLine::parse(&name, 120)
                .map_err(|m| AppError::config(format!("--name {m}")))?;
            let service = convene::app::command_service(&settings)?;
            let created = organizers::add(&service, email, name).await?;
            println!(
                "Organizer {} <{}> created.",
                created.organizer.name, created.organizer.email
            );
            println!("Password:  {}", created.password);
            println!("API token: {}", created.api_token);
            println!("Both are shown only now; only their hashes are stored.");
            Ok(())
        }
        Command::Organizer {
            command: OrganizerCommand::Token { command },
        } => run_token_command(command, &settings).await,
        Command::SendTestEmail { to } => {
            let to = EmailAddress::parse(&to).map_err(|m| AppError::config(format!("--to {m}")))?;
            let transport = convene::mail::Transport::from_settings(
                settings.smtp(),
                settings.data_dir(),
                settings.smtp_timeout(),
                1,
            )?;
            let message = convene::mail::compose::test_message(settings.mail_from(), to.as_str())?;
            transport.send(message).await.map_err(|e| {
                AppError::config(format!("the test message was not accepted: {}", e.reason))
            })?;
            println!(
                "Sent a test message to {} through {}.",
                to.as_str(),
                transport.describe()
            );
            Ok(())
        }
        Command::Export { output } => {
            let db = convene::db::Db::connect(&settings.database_url(), 2)?;
            db.migrate()?;
            let counts = match &output {
                Some(path) => {
                    // Written beside the target and renamed, so a failed export leaves no
                    // half file under the expected name.
                    let partial = path.with_extension("partial");
                    let file = std::fs::File::create(&partial).map_err(|e| {
                        AppError::config(format!("cannot create {}: {e}", partial.display()))
                    })?;
                    let mut out = std::io::BufWriter::new(file);
                    let counts =
                        db.read_blocking_once(|conn| convene::db::export::export(conn, &mut out))?;
                    out.into_inner()
                        .map_err(|e| AppError::config(format!("cannot write the export: {e}")))?
                        .sync_all()
                        .map_err(|e| AppError::config(format!("cannot write the export: {e}")))?;
                    std::fs::rename(&partial, path).map_err(|e| {
                        AppError::config(format!("cannot create {}: {e}", path.display()))
                    })?;
                    counts
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                    db.read_blocking_once(|conn| convene::db::export::export(conn, &mut out))?
                }
            };
            eprintln!(
                "Exported {} rows from the {} database ({counts}).",
                counts.total(),
                db.backend().name()
            );
            Ok(())
        }
        Command::Import { file } => {
            let db = convene::db::Db::connect(&settings.database_url(), 2)?;
            db.migrate()?;
            let mut input: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
                Box::new(std::io::BufReader::new(std::io::stdin()))
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&file).map_err(|e| {
                        AppError::config(format!("cannot open {}: {e}", file.display()))
                    })?,
                ))
            };
            let counts =
                db.read_blocking_once(|conn| convene::db::export::import(conn, &mut input))?;
            println!(
                "Imported {} rows into the {} database ({counts}).",
                counts.total(),
                db.backend().name()
            );
            Ok(())
        }
        Command::Healthcheck { url } => {
            let url = url.unwrap_or_else(|| format!("{}/readyz", settings.bind().probe_url()));
            convene::health_probe::check(&url).map_err(AppError::config)?;
            Ok(())
        }
        Command::Secret => unreachable!("answered before the settings are read"),
    }
}

/// What `serve --demo` made, and the organizer login it shows this once.
fn print_demo(seeded: &convene::demo::Seeded, base_url: &str, mail_dir: Option<&std::path::Path>) {
    println!(
        "Demo data added: a sprint in progress with its board at {base_url}/events/{}/board, \
         a full event with a waitlist, a moved and a cancelled event, and their mail.",
        convene::demo::SPRINT
    );
    if let Some(dir) = mail_dir {
        println!("Mail is written to {} as .eml files.", dir.display());
    }
    if let Some(login) = &seeded.organizer {
        println!(
            "Demo organizer for {base_url}/login: {}",
            login.organizer.email
        );
        println!("Password:  {}", login.password);
        println!("API token: {}", login.api_token);
        println!("Both are shown only now; only their hashes are stored.");
    }
}

/// `convene organizer token ...`: the same rules as the admin page's token list.
async fn run_token_command(command: TokenCommand, settings: &Config) -> Result<(), AppError> {
    let email = match &command {
        TokenCommand::List { email }
        | TokenCommand::Create { email, .. }
        | TokenCommand::Revoke { email, .. } => email,
    };
    let email = EmailAddress::parse(email).map_err(|m| AppError::config(format!("--email {m}")))?;
    let service = convene::app::command_service(settings)?;
    let now = service.clock.now();
    let organizer = organizers::by_email(&service, email.clone())
        .await?
        .ok_or_else(|| {
            AppError::config(format!("no organizer has the address {}", email.as_str()))
        })?;
    let (when, expiry) = (
        convene::domain::api_token::time_text,
        convene::domain::api_token::expiry_text,
    );
    match command {
        TokenCommand::List { .. } => {
            let tokens = organizers::tokens(&service, organizer.id).await?;
            println!(
                "{:>6}  {:<20}  {:<20}  {:<28}  label",
                "id", "created", "last used", "expires"
            );
            for t in &tokens {
                println!(
                    "{:>6}  {:<20}  {:<20}  {:<28}  {}",
                    t.id,
                    when(t.created_at),
                    t.last_used_at.map_or_else(|| "never".to_owned(), when),
                    expiry(t.expires_at, now),
                    t.label
                );
            }
            println!("{} token(s); last use is noted to the hour.", tokens.len());
        }
        TokenCommand::Create {
            label,
            expires_in,
            expires_at,
            ..
        } => {
            let request = convene::domain::TokenRequest::parse(
                &label,
                expires_in.as_deref(),
                expires_at.as_deref(),
                now,
            )
            .map_err(|problems| {
                let parts: Vec<String> = problems
                    .list()
                    .iter()
                    .map(|p| format!("--{} {}", p.field.replace('_', "-"), p.message))
                    .collect();
                AppError::config(parts.join("; "))
            })?;
            let (row, secret) = organizers::create_token(&service, organizer.id, request).await?;
            println!("API token {} created for {}.", row.id, organizer.email);
            println!("Expires:   {}", expiry(row.expires_at, now));
            println!("API token: {secret}");
            println!("It is shown only now; only its hash is stored.");
        }
        TokenCommand::Revoke { id, .. } => {
            organizers::revoke_token(&service, organizer.id, id).await?;
            println!("API token {id} revoked.");
        }
    }
    Ok(())
}
