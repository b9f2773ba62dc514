//! VTIMEZONE components generated from the IANA database that jiff carries: one observance
//! per offset change between the first and last event that uses the zone, plus the one in
//! effect when the first event starts, so a client that has no time zone database of its own
//! (ical.js, many phones) computes exactly the instants we mean.

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

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

struct Observance {
    daylight: bool,
    onset_local: String,
    from: Offset,
    to: Offset,
    name: String,
}

/// Writes the VTIMEZONE for `tzid`, valid for every instant from `from` to `to`.
pub fn write(w: &mut ContentWriter, tzid: &str, zone: &TimeZone, from: Timestamp, to: Timestamp) {
    let one_second = jiff::SignedDuration::from_secs(1);
    let before = |ts: Timestamp| zone.to_offset(ts.checked_sub(one_second).unwrap_or(ts));
    let mut observances = Vec::new();
    let in_effect = zone
        .preceding(from.checked_add(one_second).unwrap_or(from))
        .next();
    let following = zone.following(from).take_while(|t| t.timestamp() <= to);
    for transition in in_effect.into_iter().chain(following) {
        let previous = before(transition.timestamp());
        observances.push(Observance {
            daylight: transition.dst().is_dst(),
            onset_local: previous
                .to_datetime(transition.timestamp())
                .strftime("%Y%m%dT%H%M%S")
                .to_string(),
            from: previous,
            to: transition.offset(),
            name: transition.abbreviation().to_owned(),
        });
    }
    if observances.is_empty() {
        // A zone that never changes (UTC, or one whose rules stopped long before).
        let info = zone.to_offset_info(from);
        observances.push(Observance {
            daylight: info.dst().is_dst(),
            onset_local: "19700101T000000".into(),
            from: info.offset(),
            to: info.offset(),
            name: info.abbreviation().to_owned(),
        });
    }
    w.begin("VTIMEZONE");
    w.raw("TZID", &[], tzid);
    for o in &observances {
        let component = if o.daylight { "DAYLIGHT" } else { "STANDARD" };
        w.begin(component);
        w.raw("DTSTART", &[], &o.onset_local);
        w.raw("TZOFFSETFROM", &[], &offset_text(o.from));
        w.raw("TZOFFSETTO", &[], &offset_text(o.to));
        if !o.name.is_empty() && !o.name.starts_with(['+', '-']) {
            w.text("TZNAME", &o.name);
        }
        w.end(component);
    }
    w.end("VTIMEZONE");
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

    #[test]
    fn berlin_across_the_spring_change() {
        let text = render(
            "Europe/Berlin",
            "2027-03-20T08:00:00Z",
            "2027-04-02T16:00:00Z",
        );
        // In effect at the start: winter time since October 2026.
        assert!(text.contains("BEGIN:STANDARD\r\nDTSTART:20261025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD"), "{text}");
        // Summer time begins on 28 March 2027 at 02:00 local winter time.
        assert!(text.contains("BEGIN:DAYLIGHT\r\nDTSTART:20270328T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT"), "{text}");
        assert_eq!(
            text.matches("BEGIN:STANDARD").count() + text.matches("BEGIN:DAYLIGHT").count(),
            2
        );
    }

    #[test]
    fn new_york_across_the_autumn_change() {
        let text = render(
            "America/New_York",
            "2027-10-30T12:00:00Z",
            "2027-11-10T12:00:00Z",
        );
        assert!(text.contains("BEGIN:DAYLIGHT\r\nDTSTART:20270314T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT"), "{text}");
        assert!(text.contains("BEGIN:STANDARD\r\nDTSTART:20271107T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST"), "{text}");
    }

    #[test]
    fn a_zone_without_dst_has_one_observance() {
        let text = render(
            "Asia/Kolkata",
            "2027-01-01T00:00:00Z",
            "2027-12-31T00:00:00Z",
        );
        assert_eq!(text.matches("BEGIN:STANDARD").count(), 1, "{text}");
        assert!(!text.contains("DAYLIGHT"));
        assert!(text.contains("TZOFFSETTO:+0530"));
        let utc = render("UTC", "2027-01-01T00:00:00Z", "2027-12-31T00:00:00Z");
        assert!(
            utc.contains("TZOFFSETFROM:+0000\r\nTZOFFSETTO:+0000"),
            "{utc}"
        );
    }

    #[test]
    fn a_long_span_lists_every_change() {
        let text = render(
            "Europe/Berlin",
            "2027-01-01T00:00:00Z",
            "2028-12-31T00:00:00Z",
        );
        assert_eq!(text.matches("BEGIN:DAYLIGHT").count(), 2);
        assert_eq!(text.matches("BEGIN:STANDARD").count(), 3);
    }

    #[test]
    fn offsets() {
        assert_eq!(offset_text(Offset::from_seconds(3600).unwrap()), "+0100");
        assert_eq!(offset_text(Offset::from_seconds(-16200).unwrap()), "-0430");
        assert_eq!(offset_text(Offset::from_seconds(3208).unwrap()), "+005328");
    }
}
