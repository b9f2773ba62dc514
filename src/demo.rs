//! `serve --demo`: a living service for a newcomer to look at, made through the same use cases
//! people use, so it carries what they would cause: a sprint in progress whose board has
//! now/next lines, booked sessions (one moved) and people checked in; a full event with a
//! waitlist; an event moved and one called off; an organizer's message; and the mail of all of
//! it in the outbox for the worker. Only an empty database is filled; dates are relative to
//! today.

use chrono::{Duration, NaiveDateTime};

use crate::db::events::{Filter, Period};
use crate::db::organizers::{self, NewCredentials};
use crate::domain::time::local_naive;
use crate::domain::{
    Capacity, EmailAddress, EventDraft, EventKind, EventWindow, Geo, Lead, LongText, ProjectDraft,
    RegistrationId, SignupRequest, SingleLine, Slug, WebUrl,
};
use crate::error::AppError;
use crate::service::events::Publish;
use crate::service::messages::Message;
use crate::service::registrations::SignupOutcome;
use crate::service::{Service, board, events, messages, projects, registrations};

/// The sprint in progress, with the board.
pub const SPRINT: &str = "open-source-sprint-days";
/// Full, with people on its waitlist.
pub const SUMMIT: &str = "infrastructure-design-summit";
/// Moved an hour earlier after people had signed up.
pub const MOVED: &str = "rust-meetup";
/// Called off after people had signed up.
pub const CALLED_OFF: &str = "lightning-talks";
/// The organizer the demo makes, whose password and API token are shown once.
pub const ORGANIZER: &str = "demo@example.org";

/// slug, name, description, room or table, leads, capacity.
type DemoProject = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<i64>,
);

/// Days from today (in the event's zone) and the hour of day there.
type Local = (i64, u32);

struct DemoEvent {
    slug: &'static str,
    kind: EventKind,
    title: &'static str,
    summary: &'static str,
    description: &'static str,
    timezone: &'static str,
    start: Local,
    end: Local,
    venue: &'static str,
    address: &'static str,
    online_url: Option<&'static str>,
    capacity: Option<i64>,
    /// Latitude and longitude, shown to calendars as GEO.
    geo: Option<(f64, f64)>,
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
        slug: SPRINT,
        kind: EventKind::Sprint,
        title: "Open Source Sprint Days",
        summary: "Four days of contributing to Python projects, newcomers welcome.",
        description: "Pick a table, meet the maintainers, and land your first pull request.\n\n* Bring a laptop with git installed\n* Mentors at every table\n* Lunch and coffee provided",
        timezone: "Europe/Berlin",
        // In progress: its board is where the demo is most alive.
        start: (-1, 9),
        end: (2, 18),
        venue: "Haus der Technik, Hall B",
        address: "Hollestraße 1, 45127 Essen",
        online_url: None,
        capacity: Some(40),
        geo: Some((51.4470, 7.0130)),
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
        slug: SUMMIT,
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
        geo: Some((42.3601, -71.0589)),
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
        geo: Some((53.4794, -2.2453)),
        projects: &[],
        signups: 7,
    },
    DemoEvent {
        slug: MOVED,
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
        geo: Some((52.3767, 4.9087)),
        projects: &[],
        signups: 9,
    },
    DemoEvent {
        slug: CALLED_OFF,
        kind: EventKind::Meetup,
        title: "Lightning Talks Night",
        summary: "Five-minute talks on whatever you are building.",
        description: "Sign up for a talk slot at the door. Slides optional, enthusiasm required.",
        timezone: "Europe/Berlin",
        start: (19, 19),
        end: (19, 21),
        venue: "Café Kontor",
        address: "Rüttenscheider Straße 2, 45128 Essen",
        online_url: None,
        capacity: Some(30),
        geo: Some((51.4400, 7.0047)),
        projects: &[],
        signups: 6,
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
        geo: Some((53.4794, -2.2453)),
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
        geo: Some((35.6618, 139.7041)),
        projects: &[],
        signups: 0,
    },
];

/// An event still in the making: a draft, seen by organizers only until they publish it.
const DRAFT_EVENT: DemoEvent = DemoEvent {
    slug: "spring-design-summit",
    kind: EventKind::Summit,
    title: "Spring Design Summit",
    summary: "Planning the next release, room by room (a draft: not public yet).",
    description: "The program is still being put together; publish it from the organizer pages.",
    timezone: "America/New_York",
    start: (75, 9),
    end: (76, 17),
    venue: "Convention Center, Hall B",
    address: "201 E Main St, Durham",
    online_url: None,
    capacity: Some(120),
    geo: Some((35.9940, -78.8986)),
    projects: &[],
    signups: 0,
};

/// The sprint board as the leads keep it: project, "now" line, "next" line.
const BOARD_LINES: &[(&str, &str, &str)] = &[
    (
        "cpython-docs",
        "Rewriting the asyncio tutorial, one section per pair",
        "Review party at 16:00",
    ),
    (
        "django",
        "Triaging the easy-pickings tickets",
        "Pairing on the admin's dark mode",
    ),
    ("twisted", "Type hints for twisted.web", ""),
    (
        "home-assistant",
        "Setting up dev containers for newcomers",
        "Writing a first integration together",
    ),
];

/// Sessions booked at the sprint: project, title, room, start, hours.
const SESSIONS: &[(&str, &str, &str, Local, i64)] = &[
    (
        "cpython-docs",
        "Welcome and table tour",
        "Hall B stage",
        (-1, 9),
        1,
    ),
    (
        "cpython-docs",
        "How the docs are built",
        "Room 2.01",
        (1, 10),
        1,
    ),
    (
        "home-assistant",
        "Testing integrations",
        "Room 2.04",
        (2, 11),
        1,
    ),
];

/// The session that moved after people had joined its project: project, title, room, first
/// start, later start, hours.
const MOVED_SESSION: (&str, &str, &str, Local, Local, i64) = (
    "django",
    "Your first Django pull request",
    "Room 2.02",
    (1, 11),
    (1, 14),
    2,
);

/// How many of the sprint's first signups are checked in at the table of their project.
const CHECKED_IN: usize = 9;

/// The meetup's new time: an hour earlier.
const MOVED_TO: (Local, Local) = ((5, 18), (5, 20));

/// What the demo made: the organizer login, shown once (None if that organizer existed).
pub struct Seeded {
    pub organizer: Option<NewCredentials>,
}

/// Fills an empty database through the use cases; returns what it made, or None when the
/// database had events already.
pub async fn seed(service: &Service) -> Result<Option<Seeded>, AppError> {
    if !events::list(service, Period::All, Filter::organizers(), 1)
        .await?
        .is_empty()
    {
        return Ok(None);
    }
    let now = service.clock.now();
    events::create(service, draft(&DRAFT_EVENT, now)?, Publish::Later).await?;
    let mut signups = Vec::new();
    for (n, e) in EVENTS.iter().enumerate() {
        events::create(service, draft(e, now)?, Publish::Now).await?;
        let mut slugs = Vec::new();
        for p in e.projects {
            let project = project_draft(e, p)?;
            slugs.push(project.slug.clone());
            projects::create(service, e.slug.to_owned(), project).await?;
        }
        for i in 0..e.signups {
            let request = SignupRequest {
                name: text(PEOPLE[(i + n * 5) % PEOPLE.len()])?,
                email: address(PEOPLE[(i + n * 5) % PEOPLE.len()])?,
                projects: slugs
                    .iter()
                    .skip(i % slugs.len().max(1))
                    .take(1)
                    .cloned()
                    .collect(),
                // Every other person is glad to be seen among who's going.
                show_name: i % 2 == 0,
            };
            let outcome = registrations::sign_up(service, e.slug.to_owned(), request.clone());
            if let SignupOutcome::Registered {
                registration_id, ..
            } = outcome.await?
            {
                signups.push((e.slug, registration_id, request.projects));
            }
        }
    }
    let of = |slug: &str| -> Vec<(RegistrationId, Vec<Slug>)> {
        signups
            .iter()
            .filter(|(s, ..)| *s == slug)
            .map(|(_, id, projects)| (*id, projects.clone()))
            .collect()
    };
    sprint_board(service, &of(SPRINT)).await?;
    messages::send(
        service,
        SPRINT.to_owned(),
        Message::parse(
            "Lunch is in the foyer at 12:30",
            "Vegetarian and vegan dishes are marked. The tables stay open until 18:00 each day; the last day ends with short demos from every table.",
            None,
        )?,
        // Replies reach the demo's organizer.
        Some(crate::domain::notice::ReplyTo {
            name: "Demo Organizer".into(),
            email: ORGANIZER.into(),
        }),
    )
    .await?;
    // Someone going to the full summit cancels: the head of the waitlist moves up.
    if let Some((id, _)) = of(SUMMIT).get(1) {
        let token = registrations::manage_token(service, *id).await?;
        registrations::cancel(service, token).await?;
    }
    if let Some(e) = EVENTS.iter().find(|e| e.slug == MOVED) {
        let (start, end) = (
            local(now, e.timezone, MOVED_TO.0),
            local(now, e.timezone, MOVED_TO.1),
        );
        let timezone = e.timezone;
        events::change(service, MOVED.to_owned(), move |mut draft| {
            draft.window = EventWindow::parse(timezone, false, &start, &end)?;
            Ok(draft)
        })
        .await?;
    }
    events::cancel(service, CALLED_OFF.to_owned()).await?;
    Ok(Some(Seeded {
        organizer: organizer(service).await?,
    }))
}

/// The sprint's board in use: the leads' lines and sessions (one moved after people joined),
/// and people checked in at their tables.
async fn sprint_board(
    service: &Service,
    signups: &[(RegistrationId, Vec<Slug>)],
) -> Result<(), AppError> {
    let now = service.clock.now();
    for (project, now_line, next_line) in BOARD_LINES {
        let (_, project) = board::project(service, SPRINT.into(), (*project).into()).await?;
        board::set_lines(service, &project, board::lines(now_line, next_line)?).await?;
    }
    let book = async |project: &str, title: &str, room: &str, start: Local, hours: i64| {
        let (event, project) = board::project(service, SPRINT.into(), project.into()).await?;
        let end = (start.0, start.1 + hours as u32);
        let slot = board::slot_draft(
            &event,
            title,
            room,
            &local(now, &event.timezone, start),
            &local(now, &event.timezone, end),
        )?;
        Ok::<_, AppError>((event, project, slot))
    };
    for (project, title, room, start, hours) in SESSIONS {
        let (event, project, slot) = book(project, title, room, *start, *hours).await?;
        board::save_slot(service, event, project, None, slot).await?;
    }
    let (project, title, room, first, later, hours) = MOVED_SESSION;
    let (event, row, slot) = book(project, title, room, first, hours).await?;
    let booked = board::save_slot(service, event, row, None, slot).await?;
    let (event, row, slot) = book(project, title, room, later, hours).await?;
    board::save_slot(service, event, row, Some(booked.id), slot).await?;
    for (id, projects) in signups.iter().take(CHECKED_IN) {
        let Some(project) = projects.first() else {
            continue;
        };
        let token = registrations::manage_token(service, *id).await?;
        board::set_checkin(service, token.clone(), Some(project.as_str().to_owned())).await?;
        // Those at a table want their calendar to ring an hour before each session.
        registrations::set_feed_alarm(service, token, Some(60)).await?;
    }
    Ok(())
}

/// The demo's organizer with a fresh random password and API token, unless one with its
/// address exists.
async fn organizer(service: &Service) -> Result<Option<NewCredentials>, AppError> {
    let email = EmailAddress::parse(ORGANIZER).map_err(AppError::config)?;
    let (name, now) = (text("Demo Organizer")?, service.clock.now());
    service
        .write(move |conn, _fx| match organizers::by_email(conn, &email)? {
            Some(_) => Ok(None),
            None => organizers::create(conn, &email, &name, now).map(Some),
        })
        .await
}

/// "YYYY-MM-DDTHH:00" in the zone `tz`, some days from today there.
fn local(now: NaiveDateTime, tz: &str, (days, hour): Local) -> String {
    let today = local_naive(now, tz).unwrap_or(now).date();
    format!(
        "{}T{hour:02}:00",
        (today + Duration::days(days)).format("%Y-%m-%d")
    )
}

fn text(s: &str) -> Result<SingleLine, AppError> {
    SingleLine::parse_optional(s, 10_000).map_err(AppError::config)
}

/// A sample person's address: "Karen Spärck" is karen.spaerck@example.org.
fn address(person: &str) -> Result<EmailAddress, AppError> {
    let local = person.to_lowercase().replace('ä', "ae").replace(' ', ".");
    EmailAddress::parse(&format!("{local}@example.org")).map_err(AppError::config)
}

fn draft(e: &DemoEvent, now: NaiveDateTime) -> Result<EventDraft, AppError> {
    Ok(EventDraft {
        slug: Slug::parse(e.slug).map_err(AppError::config)?,
        kind: e.kind,
        title: text(e.title)?,
        summary: text(e.summary)?,
        description: LongText::parse(e.description, 10_000).map_err(AppError::config)?,
        window: EventWindow::parse(
            e.timezone,
            false,
            &local(now, e.timezone, e.start),
            &local(now, e.timezone, e.end),
        )?,
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
        contact_name: text("Demo organizers")?,
        contact_email: Some(address("organizers")?),
        geo: Geo::parse(e.geo.map(|g| g.0), e.geo.map(|g| g.1))
            .map_err(|p| AppError::config(format!("demo coordinates: {p:?}")))?,
    })
}

fn project_draft(e: &DemoEvent, project: &DemoProject) -> Result<ProjectDraft, AppError> {
    let (slug, name, description, location, leads, capacity) = project;
    Ok(ProjectDraft {
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
        // Leads with an address get their secret board link by mail, as in real use.
        leads: leads
            .iter()
            .map(|l| {
                Ok(Lead {
                    name: text(l)?,
                    email: Some(address(l)?),
                })
            })
            .collect::<Result<_, AppError>>()?,
    })
}
