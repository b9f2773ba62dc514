//! iCalendar (RFC 5545) output: a pure function from calendar events to text. Times of timed
//! events are written in their own zone with a generated VTIMEZONE for every zone used, except
//! a wall-clock time that happens twice (a fall-back fold), which is written in UTC: that is
//! the one form every calendar library reads the same. All-day events are dates with an
//! exclusive end. Nothing here reads the database or the clock.

pub mod items;
pub mod vtimezone;
pub mod writer;

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use writer::ContentWriter;

pub const PRODID: &str = concat!("-//Convene//Convene ", env!("CARGO_PKG_VERSION"), "//EN");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Confirmed,
    Tentative,
    Cancelled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Confirmed => "CONFIRMED",
            Status::Tentative => "TENTATIVE",
            Status::Cancelled => "CANCELLED",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum When {
    /// The UTC instants of start and end, shown in the IANA zone `tzid`.
    Timed {
        tzid: String,
        start_utc: NaiveDateTime,
        end_utc: NaiveDateTime,
    },
    /// Whole days; `end` is the day after the last one.
    AllDay { start: NaiveDate, end: NaiveDate },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CalEvent {
    pub uid: String,
    pub sequence: i32,
    /// When this information last changed (UTC); DTSTAMP and LAST-MODIFIED.
    pub modified: NaiveDateTime,
    pub created: NaiveDateTime,
    pub summary: String,
    pub description: String,
    pub location: String,
    pub url: Option<String>,
    /// Where to join online (RFC 7986 CONFERENCE).
    pub conference: Option<String>,
    /// Latitude and longitude of the place.
    pub geo: Option<(f64, f64)>,
    /// A CSS colour name (RFC 7986 COLOR).
    pub color: Option<&'static str>,
    pub status: Status,
    pub categories: Vec<String>,
    /// `(name, address)`: required when the calendar is sent with `METHOD:PUBLISH`.
    pub organizer: Option<(String, String)>,
    /// A display alarm this many minutes before the start.
    pub alarm_minutes: Option<u32>,
    pub when: When,
}

#[derive(Debug, Clone)]
pub struct Calendar {
    /// X-WR-CALNAME and NAME.
    pub name: String,
    pub description: String,
    /// How often clients should refresh, in minutes.
    pub refresh_minutes: u32,
    /// `PUBLISH` or `CANCEL` for a calendar attached to email; None for feeds.
    pub method: Option<&'static str>,
    /// When a calendar sent by mail was made: its DTSTAMP, so that of two objects with the
    /// same SEQUENCE the later one wins (RFC 5546 §2.1.5). None: each entry's last change.
    pub stamped: Option<NaiveDateTime>,
    /// Whether entries say `CLASS:PUBLIC`: a person's own feed, which may be synced to a
    /// shared calendar, leaves the class to the calendar it lands in.
    pub public: bool,
    pub events: Vec<CalEvent>,
}

fn utc_text(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn to_timestamp(t: NaiveDateTime) -> Timestamp {
    Timestamp::from_second(t.and_utc().timestamp()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// How one DTSTART or DTEND is written: wall-clock time in a zone, or UTC.
enum Written {
    Local(String),
    Utc(String),
}

/// A timed start or end: local time with TZID unless the zone is unknown or that wall-clock
/// time happens twice in it.
fn written(zone: Option<&TimeZone>, utc: NaiveDateTime) -> Written {
    let ts = to_timestamp(utc);
    match zone {
        Some(zone) if !crate::domain::time::in_fold(zone, ts) => {
            Written::Local(zone.to_datetime(ts).strftime("%Y%m%dT%H%M%S").to_string())
        }
        _ => Written::Utc(utc_text(utc)),
    }
}

/// Renders a whole calendar object.
pub fn render(calendar: &Calendar) -> String {
    let mut w = ContentWriter::with_capacity(512 + calendar.events.len() * 700);
    w.begin("VCALENDAR");
    w.raw("VERSION", &[], "2.0");
    w.raw("PRODID", &[], PRODID);
    w.raw("CALSCALE", &[], "GREGORIAN");
    if let Some(method) = calendar.method {
        w.raw("METHOD", &[], method);
    }
    w.text("NAME", &calendar.name);
    w.text("X-WR-CALNAME", &calendar.name);
    if !calendar.description.is_empty() {
        w.text("X-WR-CALDESC", &calendar.description);
    }
    let refresh = format!("PT{}M", calendar.refresh_minutes.max(1));
    w.raw("REFRESH-INTERVAL", &[("VALUE", "DURATION")], &refresh);
    w.raw("X-PUBLISHED-TTL", &[], &refresh);

    // Each zone written as TZID, with the span of the times written in it.
    let mut known: BTreeMap<&str, Option<TimeZone>> = BTreeMap::new();
    let mut spans: BTreeMap<&str, (NaiveDateTime, NaiveDateTime)> = BTreeMap::new();
    for event in &calendar.events {
        if let When::Timed {
            tzid,
            start_utc,
            end_utc,
        } = &event.when
        {
            let zone = known
                .entry(tzid.as_str())
                .or_insert_with(|| TimeZone::get(tzid).ok());
            for t in [*start_utc, *end_utc] {
                if let Written::Local(_) = written(zone.as_ref(), t) {
                    let span = spans.entry(tzid.as_str()).or_insert((t, t));
                    span.0 = span.0.min(t);
                    span.1 = span.1.max(t);
                }
            }
        }
    }
    for (tzid, (from, to)) in &spans {
        if let Some(Some(zone)) = known.get(tzid) {
            vtimezone::write(&mut w, tzid, zone, to_timestamp(*from), to_timestamp(*to));
        }
    }
    for event in &calendar.events {
        let zone = match &event.when {
            When::Timed { tzid, .. } => known.get(tzid.as_str()).and_then(Option::as_ref),
            When::AllDay { .. } => None,
        };
        write_event(
            &mut w,
            event,
            zone,
            calendar.stamped.unwrap_or(event.modified),
            calendar.public,
        );
    }
    w.end("VCALENDAR");
    w.finish()
}

fn write_time(w: &mut ContentWriter, name: &str, tzid: &str, value: Written) {
    match value {
        Written::Local(text) => w.raw(name, &[("TZID", tzid)], &text),
        Written::Utc(text) => w.raw(name, &[], &text),
    }
}

fn write_event(
    w: &mut ContentWriter,
    e: &CalEvent,
    zone: Option<&TimeZone>,
    stamp: NaiveDateTime,
    public: bool,
) {
    w.begin("VEVENT");
    w.raw("UID", &[], &e.uid);
    w.raw("DTSTAMP", &[], &utc_text(stamp));
    w.raw("CREATED", &[], &utc_text(e.created));
    w.raw("LAST-MODIFIED", &[], &utc_text(e.modified));
    w.raw("SEQUENCE", &[], &e.sequence.max(0).to_string());
    match &e.when {
        When::Timed {
            tzid,
            start_utc,
            end_utc,
        } => {
            write_time(w, "DTSTART", tzid, written(zone, *start_utc));
            write_time(w, "DTEND", tzid, written(zone, *end_utc));
        }
        When::AllDay { start, end } => {
            w.raw(
                "DTSTART",
                &[("VALUE", "DATE")],
                &start.format("%Y%m%d").to_string(),
            );
            w.raw(
                "DTEND",
                &[("VALUE", "DATE")],
                &end.format("%Y%m%d").to_string(),
            );
            w.raw("TRANSP", &[], "TRANSPARENT");
        }
    }
    w.text("SUMMARY", &e.summary);
    if !e.description.is_empty() {
        w.text("DESCRIPTION", &e.description);
    }
    if !e.location.is_empty() {
        w.text("LOCATION", &e.location);
    }
    if let Some((lat, lon)) = e.geo {
        w.raw("GEO", &[], &format!("{lat:.6};{lon:.6}"));
    }
    if let Some(url) = &e.url {
        w.raw("URL", &[("VALUE", "URI")], url);
    }
    if let Some(url) = &e.conference {
        w.raw(
            "CONFERENCE",
            &[
                ("VALUE", "URI"),
                ("FEATURE", "VIDEO"),
                ("LABEL", "Join online"),
            ],
            url,
        );
    }
    if !e.categories.is_empty() {
        let escaped: Vec<String> = e
            .categories
            .iter()
            .map(|c| writer::escape_text(c))
            .collect();
        w.raw("CATEGORIES", &[], &escaped.join(","));
    }
    if let Some(color) = e.color {
        w.raw("COLOR", &[], color);
    }
    if public {
        w.raw("CLASS", &[], "PUBLIC");
    }
    if let Some((name, address)) = &e.organizer {
        // A mailto URI: characters that end or change the address are percent-encoded.
        let address: String = address
            .chars()
            .map(|c| match c {
                '%' | '?' | '#' | ' ' | ',' | ';' => format!("%{:02X}", c as u32),
                c => c.to_string(),
            })
            .collect();
        w.raw("ORGANIZER", &[("CN", name)], &format!("mailto:{address}"));
    }
    w.raw("STATUS", &[], e.status.as_str());
    if let Some(minutes) = e.alarm_minutes
        && e.status != Status::Cancelled
    {
        w.begin("VALARM");
        w.raw("ACTION", &[], "DISPLAY");
        w.text("DESCRIPTION", &e.summary);
        w.raw("TRIGGER", &[], &format!("-PT{minutes}M"));
        w.end("VALARM");
    }
    w.end("VEVENT");
}

#[cfg(test)]
mod tests {
    use super::writer::tests::{unescape, unfold};
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    pub(crate) fn sample() -> Calendar {
        Calendar {
            name: "Convene, sprints".into(),
            description: "Sprints".into(),
            refresh_minutes: 60,
            method: None,
            stamped: None,
            public: true,
            events: vec![
                CalEvent {
                    uid: "convene-event-1".into(),
                    sequence: 2,
                    modified: dt("2027-01-02 10:00"),
                    created: dt("2027-01-01 10:00"),
                    summary: "Sprint, day 1; \\o/\r\nBEGIN:VALARM".into(),
                    description: "Line one\nLine two".into(),
                    location: "Hall B, Main St 1".into(),
                    url: Some("https://c.example/events/s?a=b,c;d".into()),
                    conference: None,
                    geo: None,
                    color: None,
                    status: Status::Confirmed,
                    categories: vec!["sprint".into()],
                    organizer: None,
                    alarm_minutes: None,
                    when: When::Timed {
                        tzid: "Europe/Berlin".into(),
                        start_utc: dt("2027-03-27 08:00"),
                        end_utc: dt("2027-03-28 15:00"),
                    },
                },
                CalEvent {
                    uid: "convene-event-2".into(),
                    sequence: 0,
                    modified: dt("2027-01-02 10:00"),
                    created: dt("2027-01-01 10:00"),
                    summary: "Summit".into(),
                    description: String::new(),
                    location: String::new(),
                    url: None,
                    conference: None,
                    geo: None,
                    color: None,
                    status: Status::Cancelled,
                    categories: vec![],
                    organizer: None,
                    alarm_minutes: None,
                    when: When::AllDay {
                        start: NaiveDate::from_ymd_opt(2027, 5, 1).unwrap(),
                        end: NaiveDate::from_ymd_opt(2027, 5, 3).unwrap(),
                    },
                },
            ],
        }
    }

    #[test]
    fn whole_calendar_golden() {
        let text = render(&sample());
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/sample.ics");
        if std::env::var("CONVENE_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(path, &text).unwrap();
        }
        let expected = std::fs::read_to_string(path).unwrap();
        assert_eq!(
            text,
            expected.replace("\r\n", "\n").replace('\n', "\r\n"),
            "rendered:\n{text}"
        );
    }

    #[test]
    fn one_summary_and_no_alarm_from_a_hostile_title() {
        let lines = unfold(&render(&sample()));
        let summaries: Vec<&String> = lines.iter().filter(|l| l.starts_with("SUMMARY:")).collect();
        assert_eq!(summaries.len(), 2);
        assert_eq!(
            unescape(summaries[0].strip_prefix("SUMMARY:").unwrap()),
            "Sprint, day 1; \\o/\nBEGIN:VALARM"
        );
        assert!(!lines.iter().any(|l| l == "BEGIN:VALARM"));
    }

    #[test]
    fn urls_are_not_text_escaped() {
        let lines = unfold(&render(&sample()));
        assert!(lines.contains(&"URL;VALUE=URI:https://c.example/events/s?a=b,c;d".to_owned()));
    }
}
