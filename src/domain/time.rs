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
                format!(
                    "\"{name}\" is not a time zone Convene knows; choose one such as Europe/Berlin"
                )
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

/// Every time zone Convene knows, sorted, for a list to choose from (with `current` first
/// should it not be one of them, so that a form shows what was sent).
pub fn zone_names(current: &str) -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.contains('/') || name == "UTC")
        .collect();
    names.sort();
    names.dedup();
    if !current.is_empty() && !names.iter().any(|n| n == current) {
        names.insert(0, current.to_owned());
    }
    names
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
    /// Parses API input. Timed events take RFC 3339 date-times (the instant given is kept, shown
    /// in the event's zone) or local date-times without an offset (read in the event's zone);
    /// all-day events take dates, the end being the last day. A local time that the zone skips
    /// that day (a spring-forward gap) is refused with a message that says so; one that happens
    /// twice (a fall-back fold) is the first of the two, as RFC 5545 reads it, and an offset
    /// chooses the second. Problems are recorded under `timezone`, `starts_at` and `ends_at`.
    pub fn parse(
        timezone: &str,
        all_day: bool,
        starts: &str,
        ends: &str,
    ) -> Result<Self, Problems> {
        let mut problems = Problems::new();
        let tz = problems.check("timezone", TimeZoneName::parse(timezone));
        let Some(tz) = tz else {
            // Without a zone the times can still be read as written, so that every problem
            // shows at once: a badly written time, or an end before the start.
            let read = |raw: &str| match all_day {
                true => parse_date(raw),
                false => parse_given(raw).map(|g| match g {
                    Given::Wall(local) => local,
                    Given::Instant(ts) => ts.to_zoned_datetime(TimeZone::UTC).datetime(),
                }),
            };
            let start = problems.check("starts_at", read(starts));
            let end = problems.check("ends_at", read(ends));
            if let (Some(start), Some(end)) = (start, end)
                && (end < start || (!all_day && end == start))
            {
                problems.add("ends_at", "must be after the start");
            }
            return Err(problems);
        };
        let (start, end) = if all_day {
            (
                problems.check("starts_at", parse_date(starts).map(Given::Wall)),
                problems.check("ends_at", parse_date(ends).map(Given::Wall)),
            )
        } else {
            let read = |raw: &str| parse_given(raw).and_then(|g| exact(&tz, g).map(|_| g));
            (
                problems.check("starts_at", read(starts)),
                problems.check("ends_at", read(ends)),
            )
        };
        problems.finish()?;
        let (Some(start), Some(end)) = (start, end) else {
            unreachable_problem()?
        };
        Self::build(tz, all_day, start, end, None)
            .map_err(|message| Problems::single("ends_at", message))
    }

    /// Rebuilds a window from stored columns. The stored instants settle a wall-clock time
    /// that happens twice; should the zone's rules have changed since, the wall-clock time the
    /// organizer chose wins. Fails only if the time zone vanished from the database the
    /// binary carries.
    pub fn from_stored(
        timezone: &str,
        all_day: bool,
        (starts_local, ends_local): (NaiveDateTime, NaiveDateTime),
        (starts_at, ends_at): (NaiveDateTime, NaiveDateTime),
    ) -> Result<Self, String> {
        let tz = TimeZoneName::parse(timezone)?;
        let (start, end) = (
            Given::Wall(to_civil(starts_local)),
            Given::Wall(to_civil(ends_local)),
        );
        Self::build(tz, all_day, start, end, Some((starts_at, ends_at)))
    }

    fn build(
        tz: TimeZoneName,
        all_day: bool,
        start: Given,
        end: Given,
        stored: Option<(NaiveDateTime, NaiveDateTime)>,
    ) -> Result<Self, String> {
        let (first, last) = (start, end);
        let exclusive_end = match (all_day, end) {
            (true, Given::Wall(last)) => Given::Wall(
                last.date()
                    .tomorrow()
                    .map_err(|e| e.to_string())?
                    .to_datetime(civil::Time::midnight()),
            ),
            (_, end) => end,
        };
        let start = settle(&tz, start, stored.map(|s| s.0))?;
        let end = settle(&tz, exclusive_end, stored.map(|s| s.1))?;
        let in_range = |dt: &civil::DateTime| (2000..=2199).contains(&dt.year());
        if !in_range(&start.local) || !in_range(&end.local) {
            return Err("dates must lie between the years 2000 and 2199".into());
        }
        if let (true, Given::Wall(first), Given::Wall(last)) = (all_day, first, last)
            && last.date() < first.date()
        {
            return Err("the last day must not be before the first day".into());
        }
        if end.utc <= start.utc {
            return Err("must be after the start".into());
        }
        if (end.utc - start.utc).num_days() > MAX_EVENT_DAYS {
            return Err(format!("an event may last at most {MAX_EVENT_DAYS} days"));
        }
        let (starts_local, ends_local) = match (all_day, first, last) {
            // Whole days keep their dates, even where midnight is skipped.
            (true, Given::Wall(first), Given::Wall(last)) => (from_civil(first), from_civil(last)),
            _ => (from_civil(start.local), from_civil(end.local)),
        };
        Ok(Self {
            timezone: tz,
            all_day,
            starts_local,
            ends_local,
            starts_at: start.utc,
            ends_at: end.utc,
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
        let (s_clock, e_clock) = (self.clock(self.starts_at), self.clock(self.ends_at));
        if s.date() == e.date() {
            format!("{}, {s_clock}–{e_clock} ({tz})", s.format("%a %-d %b %Y"))
        } else {
            format!(
                "{} {s_clock} – {} {e_clock} ({tz})",
                s.format("%a %-d %b %Y"),
                e.format("%a %-d %b %Y")
            )
        }
    }

    /// The same times as `human` in a reader's zone, such as "Sat 5 Dec 2026, 03:00–11:00
    /// (America/New_York)"; None for whole days (a date is the same everywhere) and where
    /// the reader's clocks show what the event's show.
    pub fn human_in(&self, reader: &TimeZoneName) -> Option<String> {
        if self.all_day || reader.as_str() == self.timezone.as_str() {
            return None;
        }
        let at = |utc: NaiveDateTime| {
            jiff::Timestamp::from_second(utc.and_utc().timestamp())
                .ok()
                .map(|ts| (ts.to_zoned_datetime(reader.zone.clone()), ts))
        };
        let ((start, start_ts), (end, end_ts)) = (at(self.starts_at)?, at(self.ends_at)?);
        let same_clocks =
            |ts: jiff::Timestamp| self.timezone.zone.to_offset(ts) == reader.zone.to_offset(ts);
        if same_clocks(start_ts) && same_clocks(end_ts) {
            return None;
        }
        let (s_clock, e_clock) = (
            clock_in(&reader.zone, self.starts_at),
            clock_in(&reader.zone, self.ends_at),
        );
        let tz = reader.as_str();
        Some(if start.date() == end.date() {
            format!(
                "{}, {s_clock}–{e_clock} ({tz})",
                start.strftime("%a %-d %b %Y")
            )
        } else {
            format!(
                "{} {s_clock} – {} {e_clock} ({tz})",
                start.strftime("%a %-d %b %Y"),
                end.strftime("%a %-d %b %Y")
            )
        })
    }

    /// How soon it starts, for an online event that people join from anywhere: "starts in 3
    /// hours", "happening now"; None once it is over or more than a week ahead.
    pub fn starts_in(&self, now: NaiveDateTime) -> Option<String> {
        if now >= self.ends_at {
            return None;
        }
        if now >= self.starts_at {
            return Some("happening now".into());
        }
        let minutes = (self.starts_at - now).num_minutes();
        let (n, unit) = match minutes {
            0 => return Some("starts in less than a minute".into()),
            1..60 => (minutes, "minute"),
            60..2880 => ((minutes + 30) / 60, "hour"),
            2880..10080 => ((minutes + 720) / 1440, "day"),
            _ => return None,
        };
        Some(format!(
            "starts in {n} {unit}{}",
            if n == 1 { "" } else { "s" }
        ))
    }

    /// "09:00", or "01:30 EST" for a time that happens twice that day.
    fn clock(&self, utc: NaiveDateTime) -> String {
        clock_in(&self.timezone.zone, utc)
    }
}

/// The wall-clock time of `utc` in `zone` ("09:00"), with the zone's abbreviation or offset
/// where that time happens twice that day ("01:30 EST").
fn clock_in(zone: &TimeZone, utc: NaiveDateTime) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(utc.and_utc().timestamp()) else {
        return utc.format("%H:%M UTC").to_string();
    };
    let zoned = ts.to_zoned_datetime(zone.clone());
    if in_fold(zone, ts) {
        let name = zoned.strftime("%Z").to_string();
        if name.starts_with(['+', '-']) || name.is_empty() {
            return format!("{} {}", zoned.strftime("%H:%M"), zoned.strftime("%:z"));
        }
        return format!("{} {name}", zoned.strftime("%H:%M"));
    }
    zoned.strftime("%H:%M").to_string()
}

fn unreachable_problem<T>() -> Result<T, Problems> {
    Err(Problems::single("starts_at", "could not be read"))
}

/// A time as it was given: an instant (with `Z` or an offset), or wall-clock time in the zone of
/// the event.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Given {
    Instant(jiff::Timestamp),
    Wall(civil::DateTime),
}

/// A moment both as wall-clock time in the event's zone and as the UTC instant.
#[derive(Debug, Clone, Copy)]
struct Endpoint {
    local: civil::DateTime,
    utc: NaiveDateTime,
}

/// Reads an RFC 3339 instant, or a local date-time without an offset, to the second.
fn parse_given(raw: &str) -> Result<Given, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    if let Ok(ts) = raw.parse::<jiff::Timestamp>() {
        return ts
            .round(jiff::Unit::Second)
            .map(Given::Instant)
            .map_err(|e| e.to_string());
    }
    raw.parse::<civil::DateTime>()
        .map(|dt| Given::Wall(dt.round(jiff::Unit::Second).unwrap_or(dt)))
        .map_err(|_| {
            "must be a date-time such as 2027-03-06T09:30 or 2027-03-06T09:30:00+01:00".into()
        })
}

/// What was given, as the organizer entered it: a wall-clock time the zone skips that day is
/// refused, naming the hours that do not exist.
fn exact(tz: &TimeZoneName, given: Given) -> Result<Endpoint, String> {
    if let Given::Wall(local) = given
        && let jiff::tz::AmbiguousOffset::Gap { before, after } =
            tz.zone.to_ambiguous_timestamp(local).offset()
    {
        let skipped =
            jiff::SignedDuration::from_secs(i64::from(after.seconds() - before.seconds()));
        // The change happens at the instant the local time reached with the old offset.
        let change = before
            .to_timestamp(local)
            .ok()
            .and_then(|ts| tz.zone.preceding(ts).next())
            .map(|t| before.to_datetime(t.timestamp()));
        let (from, to) = match change {
            Some(from) => (from, from.checked_add(skipped).unwrap_or(from)),
            None => (local, local),
        };
        return Err(format!(
            "{} does not exist in {}: that day the clocks go forward from {} to {}. Choose a \
             time before {} or from {} on (or give the offset, such as {})",
            local.strftime("%H:%M on %-d %B %Y"),
            tz.as_str(),
            from.strftime("%H:%M"),
            to.strftime("%H:%M"),
            from.strftime("%H:%M"),
            to.strftime("%H:%M"),
            local
                .checked_add(skipped)
                .unwrap_or(local)
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
                + &offset_colon_text(after),
        ));
    }
    settle(tz, given, None)
}

/// The moment a given time stands for. An instant is kept; a wall-clock time that happens
/// twice is `prefer` if that is one of the two, else the first; one the zone skips (only where
/// the zone's rules changed after it was stored) is moved forward by the length of the gap,
/// as RFC 5545 reads it.
fn settle(
    tz: &TimeZoneName,
    given: Given,
    prefer: Option<NaiveDateTime>,
) -> Result<Endpoint, String> {
    let zoned = match given {
        Given::Instant(ts) => ts.to_zoned_datetime(tz.zone.clone()),
        Given::Wall(local) => {
            let ambiguous = tz.zone.to_ambiguous_zoned_datetime(local);
            let preferred = prefer.and_then(|utc| {
                let (earlier, later) = (
                    ambiguous.clone().earlier().ok()?,
                    ambiguous.clone().later().ok()?,
                );
                [earlier, later]
                    .into_iter()
                    .find(|z| z.timestamp().as_second() == utc.and_utc().timestamp())
            });
            match preferred {
                Some(z) => z,
                None => ambiguous.compatible().map_err(|e| e.to_string())?,
            }
        }
    };
    let utc = chrono::DateTime::from_timestamp(zoned.timestamp().as_second(), 0)
        .map(|d| d.naive_utc())
        .ok_or_else(|| "is out of range".to_owned())?;
    Ok(Endpoint {
        local: zoned.datetime(),
        utc,
    })
}

/// An offset as RFC 3339 writes it: `+02:00`.
fn offset_colon_text(offset: jiff::tz::Offset) -> String {
    let total = offset.seconds();
    let sign = if total < 0 { '-' } else { '+' };
    let abs = total.unsigned_abs();
    format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)
}

/// True when the wall-clock time of `utc` in `zone` happens twice that day (a fall-back fold).
pub fn in_fold(zone: &TimeZone, utc: jiff::Timestamp) -> bool {
    let local = zone.to_datetime(utc);
    matches!(
        zone.to_ambiguous_timestamp(local).offset(),
        jiff::tz::AmbiguousOffset::Fold { .. }
    )
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

/// "Sat 5 Dec 14:00" in the zone named `tz` ("Sun 7 Nov 01:30 EST" where that time happens
/// twice that day).
pub fn local_label(utc: NaiveDateTime, tz: &str) -> String {
    match (to_local(utc, tz), TimeZone::get(tz)) {
        (Some(z), Ok(zone)) => format!("{} {}", z.strftime("%a %-d %b"), clock_in(&zone, utc)),
        _ => utc.format("%a %-d %b %H:%M UTC").to_string(),
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
/// the event's zone (refused where the zone skips it); returned as a UTC instant.
pub fn parse_in_zone(raw: &str, tz: &str) -> Result<NaiveDateTime, String> {
    let zone = TimeZoneName::parse(tz)?;
    exact(&zone, parse_given(raw)?).map(|e| e.utc)
}

/// Formats a stored UTC instant as RFC 3339.
pub fn instant_text(utc: NaiveDateTime) -> String {
    utc.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
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
    fn a_reader_elsewhere_sees_the_times_in_their_own_zone() {
        let w = EventWindow::parse(
            "Europe/Berlin",
            false,
            "2027-03-06T09:30",
            "2027-03-06T17:00",
        )
        .unwrap();
        let zone = |name: &str| TimeZoneName::parse(name).unwrap();
        assert_eq!(
            w.human_in(&zone("America/New_York")).as_deref(),
            Some("Sat 6 Mar 2027, 03:30–11:00 (America/New_York)")
        );
        assert_eq!(
            w.human_in(&zone("Asia/Tokyo")).as_deref(),
            Some("Sat 6 Mar 2027 17:30 – Sun 7 Mar 2027 01:00 (Asia/Tokyo)")
        );
        assert_eq!(w.human_in(&zone("Europe/Berlin")), None, "the same zone");
        assert_eq!(w.human_in(&zone("Europe/Paris")), None, "the same clocks");
        let days = EventWindow::parse("Europe/Berlin", true, "2027-03-06", "2027-03-07").unwrap();
        assert_eq!(
            days.human_in(&zone("Asia/Tokyo")),
            None,
            "dates are the same anywhere"
        );
    }

    #[test]
    fn an_online_event_says_how_soon_it_starts() {
        let w = EventWindow::parse("UTC", false, "2027-03-06T09:30", "2027-03-06T17:00").unwrap();
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
        let soon = |s: &str| w.starts_in(at(s));
        assert_eq!(
            soon("2027-03-06T06:20").as_deref(),
            Some("starts in 3 hours")
        );
        assert_eq!(
            soon("2027-03-06T09:29").as_deref(),
            Some("starts in 1 minute")
        );
        assert_eq!(
            soon("2027-03-06T09:10").as_deref(),
            Some("starts in 20 minutes")
        );
        assert_eq!(
            soon("2027-03-03T09:30").as_deref(),
            Some("starts in 3 days")
        );
        assert_eq!(soon("2027-03-06T12:00").as_deref(), Some("happening now"));
        assert_eq!(soon("2027-03-06T17:00"), None, "over");
        assert_eq!(soon("2027-02-01T09:00"), None, "weeks ahead");
    }

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
        let back = EventWindow::from_stored(
            "Asia/Kolkata",
            false,
            (w.starts_local(), w.ends_local()),
            (w.starts_at(), w.ends_at()),
        )
        .unwrap();
        assert_eq!(back, w);
        assert_eq!(
            w.human(),
            "Sun 10 Jan 2027 09:00 – Tue 12 Jan 2027 18:00 (Asia/Kolkata)"
        );
    }

    #[test]
    fn a_wall_time_the_zone_skips_is_refused_with_what_to_choose() {
        let problems = EventWindow::parse(
            "Europe/Berlin",
            false,
            "2027-03-28T02:30",
            "2027-03-28T04:00",
        )
        .unwrap_err();
        let first = &problems.list()[0];
        assert_eq!(first.field, "starts_at");
        assert_eq!(
            first.message,
            "02:30 on 28 March 2027 does not exist in Europe/Berlin: that day the clocks go \
             forward from 02:00 to 03:00. Choose a time before 02:00 or from 03:00 on (or give \
             the offset, such as 2027-03-28T03:30+02:00)"
        );
        // Lord Howe Island moves its clocks by half an hour.
        let lord_howe = EventWindow::parse(
            "Australia/Lord_Howe",
            false,
            "2027-10-03T10:00",
            "2027-10-03T02:15",
        )
        .unwrap_err();
        assert!(
            lord_howe.list()[0].message.contains("from 02:00 to 02:30"),
            "{lord_howe:?}"
        );
        // The same instant given with an offset is kept, and shown as the zone has it.
        let w = EventWindow::parse(
            "Europe/Berlin",
            false,
            "2027-03-28T02:30:00+01:00",
            "2027-03-28T05:00",
        )
        .unwrap();
        assert_eq!(w.start_text(), "2027-03-28T03:30:00+02:00");
        assert_eq!(w.starts_at().to_string(), "2027-03-28 01:30:00");
        assert_eq!(w.human(), "Sun 28 Mar 2027, 03:30–05:00 (Europe/Berlin)");
        assert!(parse_in_zone("2027-03-28T02:10", "Europe/Berlin").is_err());
    }

    #[test]
    fn a_wall_time_that_happens_twice_keeps_the_instant_given() {
        // Without an offset: the first of the two, as RFC 5545 reads it.
        let first = EventWindow::parse(
            "America/New_York",
            false,
            "2027-11-07T01:30",
            "2027-11-07T03:00",
        )
        .unwrap();
        assert_eq!(first.start_text(), "2027-11-07T01:30:00-04:00");
        // With an offset or in UTC: the one given.
        for given in ["2027-11-07T06:30:00Z", "2027-11-07T01:30:00-05:00"] {
            let second =
                EventWindow::parse("America/New_York", false, given, "2027-11-07T03:00").unwrap();
            assert_eq!(second.start_text(), "2027-11-07T01:30:00-05:00", "{given}");
            assert_eq!(second.starts_at().to_string(), "2027-11-07 06:30:00");
            assert_eq!(
                second.human(),
                "Sun 7 Nov 2027, 01:30 EST–03:00 (America/New_York)"
            );
            let stored = EventWindow::from_stored(
                "America/New_York",
                false,
                (second.starts_local(), second.ends_local()),
                (second.starts_at(), second.ends_at()),
            )
            .unwrap();
            assert_eq!(stored, second);
        }
        assert_eq!(
            parse_in_zone("2027-11-07T01:15:00-05:00", "America/New_York")
                .unwrap()
                .to_string(),
            "2027-11-07 06:15:00"
        );
        assert_eq!(
            local_label(
                parse_in_zone("2027-11-07T01:15:00-05:00", "America/New_York").unwrap(),
                "America/New_York"
            ),
            "Sun 7 Nov 01:15 EST"
        );
    }

    #[test]
    fn a_stored_wall_time_the_zone_now_skips_moves_forward() {
        // Rows written before gaps were refused: the instant and the page agree again.
        let local = NaiveDateTime::parse_from_str("2027-03-28 02:30", "%Y-%m-%d %H:%M").unwrap();
        let end = NaiveDateTime::parse_from_str("2027-03-28 05:00", "%Y-%m-%d %H:%M").unwrap();
        let utc = NaiveDateTime::parse_from_str("2027-03-28 01:30", "%Y-%m-%d %H:%M").unwrap();
        let utc_end = NaiveDateTime::parse_from_str("2027-03-28 03:00", "%Y-%m-%d %H:%M").unwrap();
        let w =
            EventWindow::from_stored("Europe/Berlin", false, (local, end), (utc, utc_end)).unwrap();
        assert_eq!(w.start_text(), "2027-03-28T03:30:00+02:00");
        assert_eq!(w.starts_local().to_string(), "2027-03-28 03:30:00");
    }

    #[test]
    fn all_day_events_keep_their_dates_where_midnight_is_skipped() {
        // Chile moved its clocks at midnight: 2027-09-05 00:00 did not exist in Santiago.
        let w = EventWindow::parse("America/Santiago", true, "2027-09-05", "2027-09-05").unwrap();
        assert_eq!(w.start_text(), "2027-09-05");
        assert_eq!(w.end_text(), "2027-09-05");
    }
}
