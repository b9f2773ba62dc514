//! `serve --demo`: believable sample data for a newcomer to look at. Only an empty database is
//! filled; dates are relative to today so the demo always has upcoming and past events.

use chrono::{Duration, NaiveDateTime};

use crate::clock::Clock;
use crate::db::{Db, events, projects};
use crate::domain::drafts::SignupRequest;
use crate::domain::{
    Capacity, EmailAddress, EventDraft, EventKind, EventWindow, Lead, LongText, ProjectDraft,
    SingleLine, Slug, WebUrl,
};
use crate::error::AppError;
use crate::service::registrations::sign_up_in;
use crate::tokens::SecretKey;

/// slug, name, description, room or table, leads, capacity.
type DemoProject = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<i64>,
);

struct DemoEvent {
    slug: &'static str,
    kind: EventKind,
    title: &'static str,
    summary: &'static str,
    description: &'static str,
    timezone: &'static str,
    /// Days from today, hour of day, for start and end.
    start: (i64, u32),
    end: (i64, u32),
    venue: &'static str,
    address: &'static str,
    online_url: Option<&'static str>,
    capacity: Option<i64>,
    projects: &'static [DemoProject],
    signups: usize,
}

const PEOPLE: &[&str] = &[
    "Ada Byron",
    "Grace Brewster",
    "Alan Church",
    "Barbara Liskov-Reed",
    "Linus Park",
    "Margaret Hamil",
    "Ken Ritchie",
    "Radia Perl",
    "Guido Rossum",
    "Frances Allen",
    "Donald Knuth-Berg",
    "Sophie Wilson",
    "Edsger Dijk",
    "Hedy Lamar",
    "John Backus",
    "Karen Spärck",
    "Yukihiro Matz",
    "Anita Borg",
    "Tim Berners",
    "Jean Sammet",
    "Niklaus Wirt",
    "Mary Keller",
    "Dennis Thompson",
    "Annie Easley",
];

const EVENTS: &[DemoEvent] = &[
    DemoEvent {
        slug: "open-source-sprint-days",
        kind: EventKind::Sprint,
        title: "Open Source Sprint Days",
        summary: "Four days of contributing to Python projects, newcomers welcome.",
        description: "Pick a table, meet the maintainers, and land your first pull request.\n\n* Bring a laptop with git installed\n* Mentors at every table\n* Lunch and coffee provided",
        timezone: "Europe/Berlin",
        start: (12, 9),
        end: (15, 18),
        venue: "Haus der Technik, Hall B",
        address: "Hollestraße 1, 45127 Essen",
        online_url: None,
        capacity: Some(40),
        projects: &[
            (
                "cpython-docs",
                "CPython documentation",
                "Improve tutorials and reference pages.",
                "Table 1",
                &["Ada Byron", "Linus Park"],
                Some(12),
            ),
            (
                "django",
                "Django",
                "Triage tickets and fix easy-pickings bugs.",
                "Table 2",
                &["Grace Brewster"],
                None,
            ),
            (
                "twisted",
                "Twisted",
                "Port the remaining modules to type hints.",
                "Table 3",
                &["Alan Church"],
                Some(6),
            ),
            (
                "home-assistant",
                "Home Assistant",
                "Write integrations and their tests.",
                "Room 2.04",
                &["Sophie Wilson", "Ken Ritchie"],
                None,
            ),
        ],
        signups: 18,
    },
    DemoEvent {
        slug: "infrastructure-design-summit",
        kind: EventKind::Summit,
        title: "Infrastructure Design Summit",
        summary: "Two days of design sessions on the next release's storage and networking.",
        description: "Each session starts from a written proposal on the etherpad. Decisions are posted to the mailing list afterwards.",
        timezone: "America/New_York",
        start: (26, 9),
        end: (27, 17),
        venue: "Convention Center, Rooms 301–304",
        address: "100 Main Street, Boston, MA",
        online_url: Some("https://meet.example.org/design-summit"),
        capacity: Some(8),
        projects: &[
            (
                "storage",
                "Storage track",
                "Block storage replication and quotas.",
                "Room 301",
                &["Radia Perl"],
                None,
            ),
            (
                "networking",
                "Networking track",
                "IPv6-only deployments.",
                "Room 302",
                &["Frances Allen"],
                None,
            ),
        ],
        signups: 11,
    },
    DemoEvent {
        slug: "monthly-hack-in",
        kind: EventKind::HackIn,
        title: "Monthly Hack-in",
        summary: "Bring your own project and work alongside others. Pizza at 19:00.",
        description: "An open evening for any project: hardware, software, writing. No talks, just hacking.",
        timezone: "Europe/London",
        start: (33, 18),
        end: (33, 22),
        venue: "The Hackspace",
        address: "12 Canal Street, Manchester",
        online_url: None,
        capacity: Some(25),
        projects: &[],
        signups: 7,
    },
    DemoEvent {
        slug: "rust-meetup",
        kind: EventKind::Meetup,
        title: "Rust Meetup: async in practice",
        summary: "Two talks and open discussion, in person and online.",
        description: "Talks:\n\n1. Cancelling futures safely\n2. What we learned running actix-web in production",
        timezone: "Europe/Amsterdam",
        start: (5, 19),
        end: (5, 21),
        venue: "Library Auditorium",
        address: "Oosterdokskade 143, Amsterdam",
        online_url: Some("https://meet.example.org/rust-meetup"),
        capacity: None,
        projects: &[],
        signups: 9,
    },
    DemoEvent {
        slug: "autumn-hack-in",
        kind: EventKind::HackIn,
        title: "Autumn Hack-in",
        summary: "Last month's hack-in.",
        description: "Thanks to everyone who came!",
        timezone: "Europe/London",
        start: (-28, 18),
        end: (-28, 22),
        venue: "The Hackspace",
        address: "12 Canal Street, Manchester",
        online_url: None,
        capacity: Some(25),
        projects: &[],
        signups: 0,
    },
    DemoEvent {
        slug: "documentation-sprint",
        kind: EventKind::Sprint,
        title: "Documentation Sprint",
        summary: "A weekend of docs.",
        description: "We rewrote the getting-started guide.",
        timezone: "Asia/Tokyo",
        start: (-60, 10),
        end: (-59, 17),
        venue: "Community Hall",
        address: "Shibuya, Tokyo",
        online_url: None,
        capacity: Some(30),
        projects: &[],
        signups: 0,
    },
];

fn local(now: NaiveDateTime, (days, hour): (i64, u32)) -> String {
    let date = (now + Duration::days(days)).date();
    format!("{}T{:02}:00", date.format("%Y-%m-%d"), hour)
}

fn text(s: &str) -> Result<SingleLine, AppError> {
    SingleLine::parse_optional(s, 10_000).map_err(AppError::config)
}

fn draft(e: &DemoEvent, now: NaiveDateTime) -> Result<EventDraft, AppError> {
    Ok(EventDraft {
        slug: Slug::parse(e.slug).map_err(AppError::config)?,
        kind: e.kind,
        title: text(e.title)?,
        summary: text(e.summary)?,
        description: LongText::parse(e.description, 10_000).map_err(AppError::config)?,
        window: EventWindow::parse(e.timezone, false, &local(now, e.start), &local(now, e.end))
            .map_err(|p| AppError::config(format!("demo window: {p:?}")))?,
        venue: text(e.venue)?,
        address: text(e.address)?,
        online_url: e
            .online_url
            .map(WebUrl::parse)
            .transpose()
            .map_err(AppError::config)?,
        capacity: Capacity::parse(e.capacity).map_err(AppError::config)?,
        signup_opens_at: None,
        signup_closes_at: None,
        reminder_offsets: None,
    })
}

/// Fills an empty database; returns whether it did.
pub fn seed(db: &Db, key: &SecretKey, clock: &Clock) -> Result<bool, AppError> {
    let now = clock.now();
    let empty = db.read_blocking(|conn| {
        Ok(events::list(conn, events::Period::All, None, now, 1)?.is_empty())
    })?;
    if !empty {
        return Ok(false);
    }
    for (n, e) in EVENTS.iter().enumerate() {
        let event_draft = draft(e, now)?;
        let event = db.write_blocking(|conn| events::insert(conn, &event_draft, now))?;
        let mut slugs = Vec::new();
        for (slug, name, description, location, leads, capacity) in e.projects {
            let project = ProjectDraft {
                slug: Slug::parse(slug).map_err(AppError::config)?,
                name: text(name)?,
                description: LongText::parse(description, 10_000).map_err(AppError::config)?,
                repository_url: Some(
                    WebUrl::parse(&format!("https://github.com/example/{slug}"))
                        .map_err(AppError::config)?,
                ),
                notes_url: Some(
                    WebUrl::parse(&format!("https://pad.example.org/p/{}-{slug}", e.slug))
                        .map_err(AppError::config)?,
                ),
                location: text(location)?,
                capacity: Capacity::parse(*capacity).map_err(AppError::config)?,
                leads: leads
                    .iter()
                    .map(|l| {
                        Ok(Lead {
                            name: text(l)?,
                            email: None,
                        })
                    })
                    .collect::<Result<_, AppError>>()?,
            };
            db.write_blocking(|conn| projects::insert(conn, event.id, &project, now))?;
            slugs.push(project.slug);
        }
        for i in 0..e.signups {
            let person = PEOPLE[(i + n * 5) % PEOPLE.len()];
            let address = format!(
                "{}@example.org",
                person
                    .to_lowercase()
                    .replace([' ', 'ä'], ".")
                    .replace("..", ".")
            );
            let request = SignupRequest {
                name: text(person)?,
                email: EmailAddress::parse(&address).map_err(AppError::config)?,
                projects: slugs
                    .iter()
                    .skip(i % slugs.len().max(1))
                    .take(1)
                    .cloned()
                    .collect(),
            };
            db.write_blocking(|conn| {
                let mut effects = crate::service::Effects::default();
                sign_up_in(conn, &mut effects, &event.slug, &request, key, now)
            })?;
        }
    }
    Ok(true)
}
