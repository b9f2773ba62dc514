//! Time zones and event windows, and the one place where event times are parsed and formatted.
//!
//! An event keeps its wall-clock times in its own IANA time zone (what the organizer meant) and
//! the matching UTC instants (for ordering, reminders and feeds). All-day events are whole
//! dates: on the API the end is the last day; stored, `ends_at` is the instant the day after it
//! begins, so every window is half-open.

use chrono::{NaiveDate, NaiveDateTime};
use jiff::civil;
use jiff::tz::TimeZone;

use super::Problems;

/// The longest an event may run.
pub const MAX_EVENT_DAYS: i64 = 90;

/// A time zone from the IANA database, by name.
#[derive(Debug, Clone)]
pub struct TimeZoneName {
    name: String,
    zone: TimeZone,
}

impl PartialEq for TimeZoneName {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let looks_like_name = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c));
        let zone = looks_like_name
            .then(|| TimeZone::get(name).ok())
            .flatten()
            .ok_or_else(|| {
                format!("`{name}` is not a time zone of the IANA database (such as Europe/Berlin)")
            })?;
        Ok(Self {
            name: name.to_owned(),
            zone,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }
}

/// When an event happens: validated, with end after start, in a known time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct EventWindow {
    timezone: TimeZoneName,
    all_day: bool,
    starts_local: NaiveDateTime,
    /// For an all-day event, midnight of the last day.
    ends_local: NaiveDateTime,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
}

impl EventWindow {
    /// Parses API input. Timed events take RFC 3339 date-times (converted into the event's zone)
    /// or local date-times without an offset (read in the event's zone); all-day events take
    /// dates, the end being the last day. Problems are recorded under `timezone`, `starts_at`
    /// and `ends_at`.
    pub fn parse(
        timezone: &str,
        all_day: bool,
        starts: &str,
        ends: &str,
    ) -> Result<Self, Problems> {
        let mut problems = Problems::new();
        let tz = problems.check("timezone", TimeZoneName::parse(timezone));
        let Some(tz) = tz else {
            // Without a zone the times cannot be read; say so once.
            return Err(problems);
        };
        let (start, end) = if all_day {
            (
                problems.check("starts_at", parse_date(starts)),
                problems.check("ends_at", parse_date(ends)),
            )
        } else {
            (
                problems.check("starts_at", parse_local(starts, &tz)),
                problems.check("ends_at", parse_local(ends, &tz)),
            )
        };
        problems.finish()?;
        let (Some(start), Some(end)) = (start, end) else {
            unreachable_problem()?
        };
        Self::from_local(tz, all_day, start, end)
            .map_err(|message| Problems::single("ends_at", message))
    }

    /// Rebuilds a window from stored columns. Fails only if the time zone vanished from the
    /// database the binary carries.
    pub fn from_stored(
        timezone: &str,
        all_day: bool,
        starts_local: NaiveDateTime,
        ends_local: NaiveDateTime,
    ) -> Result<Self, String> {
        let tz = TimeZoneName::parse(timezone)?;
        Self::from_local(tz, all_day, to_civil(starts_local), to_civil(ends_local))
    }

    fn from_local(
        tz: TimeZoneName,
        all_day: bool,
        start: civil::DateTime,
        end: civil::DateTime,
    ) -> Result<Self, String> {
        let in_range = |dt: &civil::DateTime| (2000..=2199).contains(&dt.year());
        if !in_range(&start) || !in_range(&end) {
            return Err("dates must lie between the years 2000 and 2199".into());
        }
        let exclusive_end = if all_day {
            end.date()
                .tomorrow()
                .map_err(|e| e.to_string())?
                .to_datetime(civil::Time::midnight())
        } else {
            end
        };
        let starts_at = instant(&tz, start)?;
        let ends_at = instant(&tz, exclusive_end)?;
        if all_day && end.date() < start.date() {
            return Err("the last day must not be before the first day".into());
        }
        if ends_at <= starts_at {
            return Err("must be after the start".into());
        }
        if (ends_at - starts_at).num_days() > MAX_EVENT_DAYS {
            return Err(format!("an event may last at most {MAX_EVENT_DAYS} days"));
        }
        Ok(Self {
            timezone: tz,
            all_day,
            starts_local: from_civil(start),
            ends_local: from_civil(end),
            starts_at,
            ends_at,
        })
    }

    pub fn timezone(&self) -> &TimeZoneName {
        &self.timezone
    }
    pub fn all_day(&self) -> bool {
        self.all_day
    }
    pub fn starts_local(&self) -> NaiveDateTime {
        self.starts_local
    }
    pub fn ends_local(&self) -> NaiveDateTime {
        self.ends_local
    }
    /// The UTC instant the event begins.
    pub fn starts_at(&self) -> NaiveDateTime {
        self.starts_at
    }
    /// The UTC instant the event is over (exclusive).
    pub fn ends_at(&self) -> NaiveDateTime {
        self.ends_at
    }

    /// The start as the API shows it: RFC 3339 with the local offset, or a date.
    pub fn start_text(&self) -> String {
        self.endpoint_text(self.starts_local, self.starts_at)
    }

    /// The end as the API shows it: RFC 3339 with the local offset, or the last day.
    pub fn end_text(&self) -> String {
        self.endpoint_text(self.ends_local, self.ends_at)
    }

    fn endpoint_text(&self, local: NaiveDateTime, utc: NaiveDateTime) -> String {
        if self.all_day {
            return local.date().format("%Y-%m-%d").to_string();
        }
        match jiff::Timestamp::from_second(utc.and_utc().timestamp()) {
            Ok(ts) => ts
                .to_zoned_datetime(self.timezone.zone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            Err(_) => local.format("%Y-%m-%dT%H:%M:%S").to_string(),
        }
    }

    /// A short human description such as "Sat 5 Dec 2026, 09:00–17:00 (Europe/Berlin)".
    pub fn human(&self) -> String {
        let tz = self.timezone.as_str();
        let (s, e) = (self.starts_local, self.ends_local);
        if self.all_day {
            if s.date() == e.date() {
                return format!("{} (all day)", s.format("%a %-d %b %Y"));
            }
            return format!(
                "{} – {} (all day)",
                s.format("%a %-d %b"),
                e.format("%a %-d %b %Y")
            );
        }
        if s.date() == e.date() {
            format!(
                "{}, {}–{} ({tz})",
                s.format("%a %-d %b %Y"),
                s.format("%H:%M"),
                e.format("%H:%M")
            )
        } else {
            format!(
                "{} – {} ({tz})",
                s.format("%a %-d %b %Y %H:%M"),
                e.format("%a %-d %b %Y %H:%M")
            )
        }
    }
}

fn unreachable_problem<T>() -> Result<T, Problems> {
    Err(Problems::single("starts_at", "could not be read"))
}

/// Parses an RFC 3339 instant (`Z` or an offset) into the event's zone, or a local date-time
/// without an offset as wall-clock time in that zone.
pub fn parse_local(raw: &str, tz: &TimeZoneName) -> Result<civil::DateTime, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    if let Ok(ts) = raw.parse::<jiff::Timestamp>() {
        return ts
            .to_zoned_datetime(tz.zone.clone())
            .datetime()
            .round(jiff::Unit::Second)
            .map_err(|e| e.to_string());
    }
    raw.parse::<civil::DateTime>()
        .map(|dt| dt.round(jiff::Unit::Second).unwrap_or(dt))
        .map_err(|_| {
            "must be a date-time such as 2027-03-06T09:30 or 2027-03-06T09:30:00+01:00".into()
        })
}

/// Parses a calendar date `YYYY-MM-DD` as midnight of that day.
pub fn parse_date(raw: &str) -> Result<civil::DateTime, String> {
    let raw = raw.trim();
    // jiff reads the date part of a date-time too; an all-day event takes a bare date.
    if raw.len() != 10 {
        return Err("must be a date such as 2027-03-06".into());
    }
    raw.parse::<civil::Date>()
        .map(|d| d.to_datetime(civil::Time::midnight()))
        .map_err(|_| "must be a date such as 2027-03-06".into())
}

/// Parses an RFC 3339 instant, for fields that are not tied to an event's zone (signup opens).
pub fn parse_instant(raw: &str) -> Result<NaiveDateTime, String> {
    let ts = raw.trim().parse::<jiff::Timestamp>().map_err(|_| {
        "must be an RFC 3339 date-time with offset, such as 2027-03-01T12:00:00Z".to_owned()
    })?;
    chrono::DateTime::from_timestamp(ts.as_second(), 0)
        .map(|d| d.naive_utc())
        .ok_or_else(|| "is out of range".into())
}

/// A stored UTC instant as wall-clock time in the zone named `tz` (None for an unknown zone).
pub fn to_local(utc: NaiveDateTime, tz: &str) -> Option<jiff::ZonedDateTime> {
    let zone = TimeZone::get(tz).ok()?;
    jiff::Timestamp::from_second(utc.and_utc().timestamp())
        .ok()
        .map(|ts| ts.to_zoned_datetime(zone))
}

/// A stored UTC instant as a wall-clock date-time in the zone named `tz`.
pub fn local_naive(utc: NaiveDateTime, tz: &str) -> Option<NaiveDateTime> {
    let z = to_local(utc, tz)?;
    let dt = z.datetime();
    NaiveDate::from_ymd_opt(dt.year().into(), dt.month() as u32, dt.day() as u32)?.and_hms_opt(
        dt.hour() as u32,
        dt.minute() as u32,
        dt.second() as u32,
    )
}

/// "Sat 5 Dec 14:00" in the zone named `tz`.
pub fn local_label(utc: NaiveDateTime, tz: &str) -> String {
    match to_local(utc, tz) {
        Some(z) => z.strftime("%a %-d %b %H:%M").to_string(),
        None => utc.format("%a %-d %b %H:%M UTC").to_string(),
    }
}

/// The instant of the next midnight in the zone named `tz` after `utc`.
pub fn next_local_midnight(utc: NaiveDateTime, tz: &str) -> Option<NaiveDateTime> {
    let local = to_local(utc, tz)?;
    let tomorrow = local.date().tomorrow().ok()?;
    let midnight = tomorrow
        .to_datetime(civil::Time::midnight())
        .to_zoned_datetime(local.time_zone().clone())
        .ok()?;
    chrono::DateTime::from_timestamp(midnight.timestamp().as_second(), 0).map(|d| d.naive_utc())
}

/// A date-time as entered for something at an event (a slot): RFC 3339, or wall-clock time in
/// the event's zone; returned as a UTC instant.
pub fn parse_in_zone(raw: &str, tz: &str) -> Result<NaiveDateTime, String> {
    let zone = TimeZoneName::parse(tz)?;
    let local = parse_local(raw, &zone)?;
    instant(&zone, local)
}

/// Formats a stored UTC instant as RFC 3339.
pub fn instant_text(utc: NaiveDateTime) -> String {
    utc.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn instant(tz: &TimeZoneName, local: civil::DateTime) -> Result<NaiveDateTime, String> {
    // A wall-clock time skipped by a DST change is moved forward, one that occurs twice takes
    // the earlier occurrence (RFC 5545 reads such times the same way).
    let zoned = tz
        .zone
        .to_ambiguous_zoned_datetime(local)
        .compatible()
        .map_err(|e| e.to_string())?;
    chrono::DateTime::from_timestamp(zoned.timestamp().as_second(), 0)
        .map(|d| d.naive_utc())
        .ok_or_else(|| "is out of range".into())
}

fn to_civil(dt: NaiveDateTime) -> civil::DateTime {
    use chrono::{Datelike, Timelike};
    civil::DateTime::new(
        dt.year() as i16,
        dt.month() as i8,
        dt.day() as i8,
        dt.hour() as i8,
        dt.minute() as i8,
        dt.second() as i8,
        0,
    )
    .unwrap_or(civil::DateTime::ZERO)
}

fn from_civil(dt: civil::DateTime) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(i32::from(dt.year()), dt.month() as u32, dt.day() as u32)
        .and_then(|d| d.and_hms_opt(dt.hour() as u32, dt.minute() as u32, dt.second() as u32))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_time_zones_are_refused() {
        for bad in ["Mars/Olympus", "", "Europe/../etc/passwd", "UTC; DROP"] {
            assert!(TimeZoneName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(TimeZoneName::parse("Europe/Berlin").is_ok());
        assert!(TimeZoneName::parse("America/Argentina/Buenos_Aires").is_ok());
    }

    #[test]
    fn local_times_are_read_in_the_event_zone() {
        let w = EventWindow::parse(
            "Europe/Berlin",
            false,
            "2027-03-06T09:30",
            "2027-03-06T17:00",
        )
        .unwrap();
        assert_eq!(w.starts_at().to_string(), "2027-03-06 08:30:00");
        assert_eq!(w.start_text(), "2027-03-06T09:30:00+01:00");
        assert_eq!(w.end_text(), "2027-03-06T17:00:00+01:00");
    }

    #[test]
    fn offsets_are_converted_into_the_event_zone() {
        let w = EventWindow::parse(
            "America/New_York",
            false,
            "2027-07-01T16:00:00Z",
            "2027-07-01T20:00:00+00:00",
        )
        .unwrap();
        assert_eq!(w.start_text(), "2027-07-01T12:00:00-04:00");
        assert_eq!(w.starts_local().to_string(), "2027-07-01 12:00:00");
    }

    #[test]
    fn all_day_events_end_the_day_after_their_last_day() {
        let w = EventWindow::parse("Europe/Berlin", true, "2027-03-06", "2027-03-07").unwrap();
        assert_eq!(w.end_text(), "2027-03-07");
        assert_eq!(w.ends_at().to_string(), "2027-03-07 23:00:00");
        let one = EventWindow::parse("UTC", true, "2027-03-06", "2027-03-06").unwrap();
        assert_eq!((one.ends_at() - one.starts_at()).num_hours(), 24);
    }

    #[test]
    fn bad_windows_name_the_field() {
        let cases = [
            (
                "Europe/Berlin",
                false,
                "2027-03-06T10:00",
                "2027-03-06T09:00",
                "ends_at",
            ),
            (
                "Europe/Berlin",
                false,
                "2027-03-06T10:00",
                "2027-03-06T10:00",
                "ends_at",
            ),
            (
                "Europe/Berlin",
                false,
                "tomorrow",
                "2027-03-06T10:00",
                "starts_at",
            ),
            (
                "Europe/Berlin",
                true,
                "2027-03-06T10:00",
                "2027-03-07",
                "starts_at",
            ),
            ("Europe/Berlin", true, "2027-03-07", "2027-03-06", "ends_at"),
            (
                "Nowhere/Land",
                false,
                "2027-03-06T10:00",
                "2027-03-06T12:00",
                "timezone",
            ),
            (
                "UTC",
                false,
                "2027-01-01T00:00",
                "2027-12-31T00:00",
                "ends_at",
            ),
            (
                "UTC",
                false,
                "1900-01-01T00:00",
                "1900-01-02T00:00",
                "ends_at",
            ),
        ];
        for (tz, all_day, s, e, field) in cases {
            let problems = EventWindow::parse(tz, all_day, s, e).unwrap_err();
            assert_eq!(
                problems.list()[0].field,
                field,
                "{tz} {s} {e}: {problems:?}"
            );
        }
    }

    #[test]
    fn stored_windows_round_trip() {
        let w = EventWindow::parse(
            "Asia/Kolkata",
            false,
            "2027-01-10T09:00",
            "2027-01-12T18:00",
        )
        .unwrap();
        let back =
            EventWindow::from_stored("Asia/Kolkata", false, w.starts_local(), w.ends_local())
                .unwrap();
        assert_eq!(back, w);
        assert_eq!(
            w.human(),
            "Sun 10 Jan 2027 09:00 – Tue 12 Jan 2027 18:00 (Asia/Kolkata)"
        );
    }
}
