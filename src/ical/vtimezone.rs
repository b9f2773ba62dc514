//! VTIMEZONE components generated from the IANA database that jiff carries, in the shape that
//! Outlook and tzurl.org publish and every calendar library reads: the zone's current yearly
//! rule as one STANDARD and one DAYLIGHT observance with an RRULE, each starting before the
//! first time that uses the zone, plus an explicit observance for each older change (a rule
//! or offset that no longer holds) between the first and last time. A zone without daylight
//! saving time is one STANDARD observance. A client without a time zone database of its own
//! (ical.js, many phones) then computes exactly the instants we mean.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jiff::civil::{DateTime, Weekday};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::writer::ContentWriter;

/// An offset as iCalendar writes it: `+0100`, `-0430`, or `+005328` for odd historical ones.
pub fn offset_text(offset: Offset) -> String {
    let total = offset.seconds();
    let sign = if total < 0 { '-' } else { '+' };
    let abs = total.unsigned_abs();
    let (h, m, s) = (abs / 3600, abs % 3600 / 60, abs % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}

/// One change of offset: when, to what, and the wall-clock time it happens at.
#[derive(Debug, Clone)]
struct Change {
    at: Timestamp,
    daylight: bool,
    /// Wall-clock time of the change, read with the offset before it (as DTSTART is).
    onset: DateTime,
    from: Offset,
    to: Offset,
    name: String,
}

impl Change {
    /// Whether two changes can be one observance: same kind, offsets and name.
    fn same_observance(&self, other: &Change) -> bool {
        (self.daylight, self.from, self.to, &self.name)
            == (other.daylight, other.from, other.to, &other.name)
    }

    /// What a yearly rule says of this change, but for the day of the month.
    fn pattern(&self) -> Pattern {
        Pattern {
            month: self.onset.month(),
            weekday: self.onset.weekday(),
            time: self.onset.time(),
            daylight: self.daylight,
            from: self.from,
            to: self.to,
        }
    }
}

/// A yearly change on a weekday in a month, at a time of day, between two offsets.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pattern {
    month: i8,
    weekday: Weekday,
    time: jiff::civil::Time,
    daylight: bool,
    from: Offset,
    to: Offset,
}

/// A yearly rule: the pattern's weekday on or after `first_day` of the month (every rule of
/// the IANA data has that form: "the last Sunday", "the second Sunday", "Friday on or after
/// the 23rd").
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rule {
    pattern: Pattern,
    first_day: i8,
}

impl Rule {
    fn rrule(&self) -> String {
        let day = match self.pattern.weekday {
            Weekday::Monday => "MO",
            Weekday::Tuesday => "TU",
            Weekday::Wednesday => "WE",
            Weekday::Thursday => "TH",
            Weekday::Friday => "FR",
            Weekday::Saturday => "SA",
            Weekday::Sunday => "SU",
        };
        let month = self.pattern.month;
        let days_in_month = jiff::civil::date(2001, month, 1).days_in_month();
        let which = if month != 2 && self.first_day == days_in_month - 6 {
            format!("BYDAY=-1{day}")
        } else if (self.first_day - 1) % 7 == 0 {
            format!("BYDAY={}{day}", (self.first_day - 1) / 7 + 1)
        } else {
            let days: Vec<String> = (self.first_day..self.first_day + 7)
                .map(|d| d.to_string())
                .collect();
            format!("BYDAY={day};BYMONTHDAY={}", days.join(","))
        };
        format!("FREQ=YEARLY;BYMONTH={month};{which}")
    }
}

/// How far past the last time to look for the rule the zone follows now.
/// Long enough for each day of the month to fall on each weekday, so the rule is certain.
const RULE_LOOKAHEAD_YEARS: i64 = 29;

/// The changes of `zone` from the one in effect at `from`, through `to`, and on for a few
/// years; with the one before the first, so a yearly rule can start before `from`.
fn changes(zone: &TimeZone, from: Timestamp, to: Timestamp) -> Vec<Change> {
    let second = SignedDuration::from_secs(1);
    let horizon = to
        .checked_add(SignedDuration::from_hours(24 * 366 * RULE_LOOKAHEAD_YEARS))
        .unwrap_or(to);
    let change = |t: jiff::tz::TimeZoneTransition<'_>| {
        let before =
            zone.to_offset_info(t.timestamp().checked_sub(second).unwrap_or(t.timestamp()));
        // The IANA files may mark a moment where nothing at all changes (the end of 32-bit
        // time): no observance for it. A new name or kind with the same offset is one.
        let same = before.offset() == t.offset()
            && before.dst() == t.dst()
            && before.abbreviation() == t.abbreviation();
        (!same).then(|| Change {
            at: t.timestamp(),
            daylight: t.dst().is_dst(),
            onset: before.offset().to_datetime(t.timestamp()),
            from: before.offset(),
            to: t.offset(),
            name: t.abbreviation().to_owned(),
        })
    };
    let mut earlier: Vec<Change> = zone
        .preceding(from.checked_add(second).unwrap_or(from))
        .filter_map(&change)
        .take(2)
        .collect();
    earlier.reverse();
    let later = zone
        .following(from)
        .take_while(|t| t.timestamp() <= horizon)
        .filter_map(&change);
    earlier.into_iter().chain(later).collect()
}

/// Where the zone's current yearly rule begins in `changes`, and the rule of each of its two
/// observances with the index of its first change; None when the zone has no such rule now,
/// or one of its two observances would begin only after `from` (Ruby's icalendar cannot read a
/// zone with an observance that begins after a time in it: the changes are listed instead).
fn current_rule(changes: &[Change], from: Timestamp) -> Option<(usize, [(Rule, usize); 2])> {
    // The rule must still hold at the end of what we looked at: one change of each kind a
    // year, alternating, each kind on its weekday within the same seven days of its month.
    let n = changes.len();
    if n < 4 {
        return None;
    }
    let kind_of = |i: usize| (n - 1 - i) % 2;
    let patterns = [changes[n - 1].pattern(), changes[n - 2].pattern()];
    if patterns[0].daylight == patterns[1].daylight {
        return None;
    }
    // The first day each kind may fall on: a range that narrows as we walk back.
    let mut range = [(1i8, 31i8), (1i8, 31i8)];
    let mut start = n;
    while start > 0 {
        let i = start - 1;
        let kind = kind_of(i);
        let day = changes[i].onset.day();
        let (lo, hi) = (range[kind].0.max(day - 6), range[kind].1.min(day));
        let follows = changes[i].pattern() == patterns[kind]
            && lo <= hi
            && (i + 2 >= n || changes[i + 2].onset.year() == changes[i].onset.year() + 1);
        if !follows {
            break;
        }
        range[kind] = (lo, hi);
        start = i;
    }
    if n - start < 4 || start + 1 >= n || changes[start + 1].at > from {
        return None;
    }
    let rule = |kind: usize| {
        let (lo, hi) = range[kind];
        let month = patterns[kind].month;
        let last = jiff::civil::date(2001, month, 1).days_in_month() - 6;
        // The plainest reading the changes allow: "the last", then "the nth", then the day.
        let first_day = [last, 1, 8, 15, 22]
            .into_iter()
            .find(|d| (lo..=hi).contains(d) && (month != 2 || *d != last))
            .unwrap_or(lo);
        let first = (start..n).find(|&i| kind_of(i) == kind).unwrap_or(start);
        (
            Rule {
                pattern: patterns[kind],
                first_day,
            },
            first,
        )
    };
    Some((start, [rule(0), rule(1)]))
}

/// Writes the VTIMEZONE for `tzid`, valid for every instant from `from` to `to`.
///
/// Older changes with the same offsets and name share one observance: its DTSTART is the first
/// of them and RDATE lists the rest. With the change in effect at `from` (and, where it has the
/// same offsets, the one a year before) as the first DTSTART, no observance begins after the
/// first time that uses the zone, which Ruby's icalendar needs to read the zone at all.
pub fn write(w: &mut ContentWriter, tzid: &str, zone: &TimeZone, from: Timestamp, to: Timestamp) {
    // The component depends on the span only through the changes in effect at its two ends,
    // so one rendering serves every span between the same two changes.
    let second = SignedDuration::from_secs(1);
    let in_effect_at = |t: Timestamp| {
        zone.preceding(t.checked_add(second).unwrap_or(t))
            .next()
            .map(|c| c.timestamp().as_second())
    };
    let key = (tzid.to_owned(), in_effect_at(from), in_effect_at(to));
    let cache = RENDERED.get_or_init(Default::default);
    let kept = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .cloned();
    let text = match kept {
        Some(text) => text,
        None => {
            let mut own = ContentWriter::default();
            render(&mut own, tzid, zone, from, to);
            let text: Arc<str> = own.finish().into();
            let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() >= RENDERED_ENTRIES {
                map.clear();
            }
            map.insert(key, text.clone());
            text
        }
    };
    w.append(&text);
}

/// Components already rendered, by zone and the changes in effect at the span's two ends.
type RenderedKey = (String, Option<i64>, Option<i64>);
static RENDERED: OnceLock<Mutex<HashMap<RenderedKey, Arc<str>>>> = OnceLock::new();
/// Beyond this many the cache starts afresh (a few per zone in use is the usual need).
const RENDERED_ENTRIES: usize = 4096;

fn render(w: &mut ContentWriter, tzid: &str, zone: &TimeZone, from: Timestamp, to: Timestamp) {
    let changes = changes(zone, from, to);
    // The change in effect at `from` is the last one at or before it.
    let in_effect = changes.iter().rposition(|c| c.at <= from);
    let rule = current_rule(&changes, from);
    let rule_start = rule.map_or(changes.len(), |(start, _)| start);
    // Older changes that matter for the span, grouped by what they change to.
    let relevant: Vec<&Change> = changes[..rule_start]
        .iter()
        .enumerate()
        .filter(|(i, c)| in_effect.is_none_or(|e| *i >= e) && c.at <= to)
        .map(|(_, c)| c)
        .collect();
    let mut groups: Vec<Vec<&Change>> = Vec::new();
    for change in relevant {
        match groups.iter_mut().find(|g| g[0].same_observance(change)) {
            Some(group) => group.push(change),
            None => groups.push(vec![change]),
        }
    }
    // An earlier change of the same kind moves a group's DTSTART before `from`.
    for group in &mut groups {
        if group[0].at > from
            && let Some(earlier) = changes[..in_effect.unwrap_or(0)]
                .iter()
                .rev()
                .find(|c| c.same_observance(group[0]))
        {
            group.insert(0, earlier);
        }
    }
    w.begin("VTIMEZONE");
    w.raw("TZID", &[], tzid);
    for group in &groups {
        // The first change is listed again: ical.js reads no DTSTART of an observance that
        // has RDATEs, and only the first value of each RDATE line.
        let rdates: Vec<String> = match group.len() {
            1 => Vec::new(),
            _ => group
                .iter()
                .map(|c| c.onset.strftime("%Y%m%dT%H%M%S").to_string())
                .collect(),
        };
        observance(w, group[0], None, &rdates);
    }
    if let Some((_, kinds)) = rule {
        let mut kinds = kinds;
        kinds.sort_by_key(|(rule, _)| rule.pattern.daylight);
        for (rule, first) in kinds {
            observance(w, &changes[first], Some(&rule.rrule()), &[]);
        }
    }
    if groups.is_empty() && rule.is_none() {
        // A zone that never changes (UTC, or one whose last change was long before).
        let info = zone.to_offset_info(from);
        let change = Change {
            at: from,
            daylight: info.dst().is_dst(),
            onset: DateTime::constant(1970, 1, 1, 0, 0, 0, 0),
            from: info.offset(),
            to: info.offset(),
            name: info.abbreviation().to_owned(),
        };
        observance(w, &change, None, &[]);
    }
    w.end("VTIMEZONE");
}

fn observance(w: &mut ContentWriter, change: &Change, rrule: Option<&str>, rdates: &[String]) {
    let component = if change.daylight {
        "DAYLIGHT"
    } else {
        "STANDARD"
    };
    w.begin(component);
    w.raw(
        "DTSTART",
        &[],
        &change.onset.strftime("%Y%m%dT%H%M%S").to_string(),
    );
    if let Some(rrule) = rrule {
        w.raw("RRULE", &[], rrule);
    }
    for rdate in rdates {
        w.raw("RDATE", &[], rdate);
    }
    w.raw("TZOFFSETFROM", &[], &offset_text(change.from));
    w.raw("TZOFFSETTO", &[], &offset_text(change.to));
    if !change.name.is_empty() && !change.name.starts_with(['+', '-']) {
        w.text("TZNAME", &change.name);
    }
    w.end(component);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(tzid: &str, from: &str, to: &str) -> String {
        let zone = TimeZone::get(tzid).unwrap();
        let mut w = ContentWriter::default();
        write(
            &mut w,
            tzid,
            &zone,
            from.parse().unwrap(),
            to.parse().unwrap(),
        );
        w.finish()
    }

    /// Compares with tests/golden/vtimezone/NAME.ics; `CONVENE_BLESS=1` writes the file.
    fn golden(name: &str, text: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/vtimezone")
            .join(format!("{name}.ics"));
        if std::env::var("CONVENE_BLESS").is_ok_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            text,
            expected,
            "{} differs; rendered:\n{text}",
            path.display()
        );
    }

    #[test]
    fn berlin_is_its_yearly_rule_starting_before_the_first_time() {
        let text = render(
            "Europe/Berlin",
            "2027-01-20T08:00:00Z",
            "2027-04-02T16:00:00Z",
        );
        golden("Europe_Berlin", &text);
        assert!(text.contains("BEGIN:STANDARD\r\nDTSTART:20261025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD"), "{text}");
        assert!(text.contains("BEGIN:DAYLIGHT\r\nDTSTART:20260329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT"), "{text}");
        assert_eq!(text.matches("BEGIN:STANDARD").count(), 1);
        assert_eq!(text.matches("BEGIN:DAYLIGHT").count(), 1);
        // A long span needs nothing more.
        let years = render(
            "Europe/Berlin",
            "2027-01-01T00:00:00Z",
            "2029-12-31T00:00:00Z",
        );
        assert_eq!(years.matches("RRULE").count(), 2);
        assert_eq!(years.matches("BEGIN:").count(), 3, "{years}");
    }

    #[test]
    fn new_york_follows_the_second_and_first_sunday() {
        let text = render(
            "America/New_York",
            "2027-10-30T12:00:00Z",
            "2027-11-10T12:00:00Z",
        );
        golden("America_New_York", &text);
        assert!(text.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT"), "{text}");
        assert!(text.contains("RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST"), "{text}");
    }

    #[test]
    fn lord_howe_moves_by_half_an_hour() {
        let text = render(
            "Australia/Lord_Howe",
            "2027-03-01T00:00:00Z",
            "2027-12-01T00:00:00Z",
        );
        golden("Australia_Lord_Howe", &text);
        assert!(
            text.contains(
                "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=1SU\r\nTZOFFSETFROM:+1030\r\nTZOFFSETTO:+1100"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU\r\nTZOFFSETFROM:+1100\r\nTZOFFSETTO:+1030"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_rule_on_a_weekday_after_a_date_says_so() {
        // Israel: the Friday on or after 23 March (which "the fourth Friday" is not, in years
        // where 29 March is a Friday), and no no-op "change" at the end of 32-bit time.
        let text = render(
            "Asia/Jerusalem",
            "2027-01-01T00:00:00Z",
            "2039-01-01T00:00:00Z",
        );
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=FR;BYMONTHDAY=23,24,25,26,27,28,29"),
            "{text}"
        );
        assert_eq!(text.matches("BEGIN:").count(), 3, "{text}");
    }

    #[test]
    fn a_zone_without_dst_has_one_observance() {
        let text = render(
            "Asia/Kolkata",
            "2027-01-01T00:00:00Z",
            "2027-12-31T00:00:00Z",
        );
        assert_eq!(text.matches("BEGIN:STANDARD").count(), 1, "{text}");
        assert!(!text.contains("DAYLIGHT") && !text.contains("RRULE"));
        assert!(text.contains("TZOFFSETTO:+0530"));
        let utc = render("UTC", "2027-01-01T00:00:00Z", "2027-12-31T00:00:00Z");
        assert!(
            utc.contains("DTSTART:19700101T000000\r\nTZOFFSETFROM:+0000\r\nTZOFFSETTO:+0000"),
            "{utc}"
        );
    }

    #[test]
    fn a_zone_whose_rules_changed_in_the_span_lists_the_old_changes() {
        // Brazil ended daylight saving time in 2019: its last changes are explicit.
        let text = render(
            "America/Sao_Paulo",
            "2018-09-01T00:00:00Z",
            "2019-12-01T00:00:00Z",
        );
        assert!(!text.contains("RRULE"), "{text}");
        assert!(
            text.contains("RDATE:20171015T000000\r\nRDATE:20181104T000000"),
            "{text}"
        );
        assert!(
            text.contains("RDATE:20180218T000000\r\nRDATE:20190217T000000"),
            "{text}"
        );
        // Each observance begins before the span, as Ruby's icalendar needs.
        assert!(
            text.contains("DTSTART:20180218T000000") && text.contains("DTSTART:20171015T000000")
        );
        // Mexico City ended it in 2022; later spans need one observance only.
        let later = render(
            "America/Mexico_City",
            "2027-01-01T00:00:00Z",
            "2027-12-31T00:00:00Z",
        );
        assert_eq!(later.matches("BEGIN:STANDARD").count(), 1, "{later}");
        assert!(later.contains("TZOFFSETTO:-0600"));
    }

    #[test]
    fn offsets() {
        assert_eq!(offset_text(Offset::from_seconds(3600).unwrap()), "+0100");
        assert_eq!(offset_text(Offset::from_seconds(-16200).unwrap()), "-0430");
        assert_eq!(offset_text(Offset::from_seconds(3208).unwrap()), "+005328");
    }
}
