//! VTIMEZONE components generated from the IANA database that jiff carries, in the shape that
//! Outlook and tzurl.org publish and every calendar library reads: the zone's current yearly
//! rule as one STANDARD and one DAYLIGHT observance with an RRULE, each starting before the
//! first time that uses the zone, plus an explicit observance for each older change (a rule
//! or offset that no longer holds) between the first and last time. A zone without daylight
//! saving time is one STANDARD observance. A client without a time zone database of its own
//! (ical.js, many phones) then computes exactly the instants we mean.

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

    /// The yearly rule this change follows if it recurs: month, weekday, which one of the month
    /// (1 to 4, or -1 for the last), and the time of day.
    fn rule(&self, ordinal: Ordinal) -> Option<Rule> {
        let date = self.onset.date();
        let day = date.day();
        let ordinal = match ordinal {
            Ordinal::Nth => (day - 1) / 7 + 1,
            Ordinal::Last if day + 7 > date.days_in_month() => -1,
            Ordinal::Last => return None,
        };
        Some(Rule {
            month: date.month(),
            weekday: date.weekday(),
            ordinal,
            time: self.onset.time(),
            daylight: self.daylight,
            from: self.from,
            to: self.to,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ordinal {
    Nth,
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rule {
    month: i8,
    weekday: Weekday,
    ordinal: i8,
    time: jiff::civil::Time,
    daylight: bool,
    from: Offset,
    to: Offset,
}

impl Rule {
    fn rrule(&self) -> String {
        let day = match self.weekday {
            Weekday::Monday => "MO",
            Weekday::Tuesday => "TU",
            Weekday::Wednesday => "WE",
            Weekday::Thursday => "TH",
            Weekday::Friday => "FR",
            Weekday::Saturday => "SA",
            Weekday::Sunday => "SU",
        };
        format!(
            "FREQ=YEARLY;BYMONTH={};BYDAY={}{day}",
            self.month, self.ordinal
        )
    }
}

/// How far past the last time to look for the rule the zone follows now.
const RULE_LOOKAHEAD_YEARS: i64 = 8;

/// The changes of `zone` from the one in effect at `from`, through `to`, and on for a few
/// years; with the one before the first, so a yearly rule can start before `from`.
fn changes(zone: &TimeZone, from: Timestamp, to: Timestamp) -> Vec<Change> {
    let second = SignedDuration::from_secs(1);
    let horizon = to
        .checked_add(SignedDuration::from_hours(24 * 366 * RULE_LOOKAHEAD_YEARS))
        .unwrap_or(to);
    let mut earlier: Vec<_> = zone
        .preceding(from.checked_add(second).unwrap_or(from))
        .take(2)
        .collect();
    earlier.reverse();
    let later = zone
        .following(from)
        .take_while(|t| t.timestamp() <= horizon);
    earlier
        .into_iter()
        .chain(later)
        .map(|t| {
            let before = zone.to_offset(t.timestamp().checked_sub(second).unwrap_or(t.timestamp()));
            Change {
                at: t.timestamp(),
                daylight: t.dst().is_dst(),
                onset: before.to_datetime(t.timestamp()),
                from: before,
                to: t.offset(),
                name: t.abbreviation().to_owned(),
            }
        })
        .collect()
}

/// Where the zone's current yearly rule begins in `changes`, and the rule of each of its two
/// observances (the first change's first); None when the zone has no such rule now.
fn current_rule(changes: &[Change]) -> Option<(usize, [(Rule, usize); 2])> {
    // The rule must still hold at the end of what we looked at: at least two changes of each
    // kind, alternating, one of each kind a year.
    let n = changes.len();
    if n < 4 {
        return None;
    }
    // "The last Sunday" before "the fourth Sunday": in years where the two are the same day,
    // only the first is the rule.
    for ordinal_a in [Ordinal::Last, Ordinal::Nth] {
        for ordinal_b in [Ordinal::Last, Ordinal::Nth] {
            let ordinal_of = |i: usize| {
                if i % 2 == (n - 1) % 2 {
                    ordinal_a
                } else {
                    ordinal_b
                }
            };
            let (Some(last_a), Some(last_b)) = (
                changes[n - 1].rule(ordinal_of(n - 1)),
                changes[n - 2].rule(ordinal_of(n - 2)),
            ) else {
                continue;
            };
            if last_a.daylight == last_b.daylight {
                continue;
            }
            // Walk back while each change follows the rule of its kind, a year apart.
            let mut start = n;
            while start > 0 {
                let i = start - 1;
                let rule = if i % 2 == (n - 1) % 2 { last_a } else { last_b };
                let follows = changes[i].rule(ordinal_of(i)) == Some(rule)
                    && (i + 2 >= n || changes[i + 2].onset.year() == changes[i].onset.year() + 1);
                if !follows {
                    break;
                }
                start = i;
            }
            if n - start >= 4 {
                let first_of = |rule: Rule| {
                    (start..n)
                        .find(|&i| changes[i].rule(ordinal_of(i)) == Some(rule))
                        .unwrap_or(start)
                };
                return Some((
                    start,
                    [(last_a, first_of(last_a)), (last_b, first_of(last_b))],
                ));
            }
        }
    }
    None
}

/// Writes the VTIMEZONE for `tzid`, valid for every instant from `from` to `to`.
///
/// Older changes with the same offsets and name share one observance: its DTSTART is the first
/// of them and RDATE lists the rest. With the change in effect at `from` (and, where it has the
/// same offsets, the one a year before) as the first DTSTART, no observance begins after the
/// first time that uses the zone, which Ruby's icalendar needs to read the zone at all.
pub fn write(w: &mut ContentWriter, tzid: &str, zone: &TimeZone, from: Timestamp, to: Timestamp) {
    let changes = changes(zone, from, to);
    // The change in effect at `from` is the last one at or before it.
    let in_effect = changes.iter().rposition(|c| c.at <= from);
    let rule = current_rule(&changes);
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
        let rdates: Vec<String> = group[1..]
            .iter()
            .map(|c| c.onset.strftime("%Y%m%dT%H%M%S").to_string())
            .collect();
        observance(w, group[0], None, &rdates);
    }
    if let Some((_, kinds)) = rule {
        let mut kinds = kinds;
        kinds.sort_by_key(|(rule, _)| rule.daylight);
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
    if !rdates.is_empty() {
        w.raw("RDATE", &[], &rdates.join(","));
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
        assert!(text.contains("RDATE:20181104T000000"), "{text}");
        assert!(text.contains("RDATE:20190217T000000"), "{text}");
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
