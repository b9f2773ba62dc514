//! What an organizer asks for when creating an API token: a label to recognize it by and,
//! optionally, when it stops working. The command line and the admin page both parse here, so
//! they accept the same input and give the same messages.

use chrono::{Duration, NaiveDateTime};

use super::time::{parse_date, parse_instant};
use super::{Problems, SingleLine};

pub const LABEL_MAX: usize = 80;
/// The longest lifetime a token may be given; longer is what "never expires" is for.
pub const MAX_LIFETIME_DAYS: i64 = 3650;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub label: SingleLine,
    /// None: the token works until it is revoked.
    pub expires_at: Option<NaiveDateTime>,
}

impl TokenRequest {
    /// `expires_in` is a lifetime such as `30d`, `12h` or `90m`; `expires_at` a date (the token
    /// stops working at 00:00 UTC that day) or an RFC 3339 date-time. Empty means not given.
    pub fn parse(
        label: &str,
        expires_in: Option<&str>,
        expires_at: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<Self, Problems> {
        let mut p = Problems::new();
        let label = p.check("label", SingleLine::parse_optional(label, LABEL_MAX));
        let expires_at = match (given(expires_in), given(expires_at)) {
            (Some(_), Some(_)) => {
                p.add(
                    "expires_at",
                    "give either expires_in or expires_at, not both",
                );
                None
            }
            (Some(lifetime), None) => p
                .check("expires_in", parse_lifetime(lifetime))
                .map(|d| now + d),
            (None, Some(at)) => p.check("expires_at", parse_expiry(at, now)),
            (None, None) => None,
        };
        p.finish()?;
        let label = label.ok_or_else(|| Problems::single("label", "is not valid"))?;
        Ok(Self { label, expires_at })
    }
}

/// A token's times as the command line and the admin page show them, in UTC to the minute.
pub fn time_text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "never", the moment it expires, or that it already has.
pub fn expiry_text(expires_at: Option<NaiveDateTime>, now: NaiveDateTime) -> String {
    match expires_at {
        None => "never".to_owned(),
        Some(at) if at <= now => format!("expired {}", time_text(at)),
        Some(at) => time_text(at),
    }
}

fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A lifetime: a whole number of minutes (`m`), hours (`h`) or days (`d`).
fn parse_lifetime(raw: &str) -> Result<Duration, String> {
    let wrong = || format!("`{raw}` is not a lifetime such as 30d, 12h or 90m");
    let unit = raw.chars().last().ok_or_else(wrong)?;
    let count: i64 = raw[..raw.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| wrong())?;
    let minutes = match unit {
        'm' => Some(count),
        'h' => count.checked_mul(60),
        'd' => count.checked_mul(24 * 60),
        _ => None,
    }
    .ok_or_else(wrong)?;
    if !(1..=MAX_LIFETIME_DAYS * 24 * 60).contains(&minutes) {
        return Err(format!("must be between 1m and {MAX_LIFETIME_DAYS}d"));
    }
    Ok(Duration::minutes(minutes))
}

fn parse_expiry(raw: &str, now: NaiveDateTime) -> Result<NaiveDateTime, String> {
    let at = if raw.len() == 10 {
        let day = parse_date(raw)?;
        chrono::NaiveDate::from_ymd_opt(day.year().into(), day.month() as u32, day.day() as u32)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .ok_or_else(|| "is out of range".to_owned())?
    } else {
        parse_instant(raw).map_err(|_| {
            "must be a date such as 2027-03-06 or an RFC 3339 date-time such as 2027-03-06T12:00:00Z"
                .to_owned()
        })?
    };
    if at <= now {
        return Err("must be in the future".into());
    }
    if at > now + Duration::days(MAX_LIFETIME_DAYS) {
        return Err(format!("must be within {MAX_LIFETIME_DAYS} days from now"));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2027, 3, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    #[test]
    fn lifetimes_and_dates_give_the_expiry() {
        let in_30d = TokenRequest::parse("ci", Some("30d"), None, now()).unwrap();
        assert_eq!(in_30d.label.as_str(), "ci");
        assert_eq!(in_30d.expires_at, Some(now() + Duration::days(30)));
        let in_90m = TokenRequest::parse("", Some(" 90m "), Some(""), now()).unwrap();
        assert_eq!(in_90m.expires_at, Some(now() + Duration::minutes(90)));
        let on_day = TokenRequest::parse("x", None, Some("2027-04-01"), now()).unwrap();
        assert_eq!(
            on_day.expires_at.unwrap().to_string(),
            "2027-04-01 00:00:00"
        );
        let at = TokenRequest::parse("x", None, Some("2027-03-02T08:00:00+01:00"), now()).unwrap();
        assert_eq!(at.expires_at.unwrap().to_string(), "2027-03-02 07:00:00");
        let never = TokenRequest::parse("", None, None, now()).unwrap();
        assert_eq!(never.expires_at, None);
    }

    #[test]
    fn wrong_input_names_the_field() {
        for (expires_in, expires_at, field) in [
            (Some("30"), None, "expires_in"),
            (Some("d"), None, "expires_in"),
            (Some("0d"), None, "expires_in"),
            (Some("-5d"), None, "expires_in"),
            (Some("3651d"), None, "expires_in"),
            (Some("99999999999999999d"), None, "expires_in"),
            (Some("5é"), None, "expires_in"),
            (Some("1w"), None, "expires_in"),
            (None, Some("2027-03-01"), "expires_at"),
            (None, Some("2020-01-01"), "expires_at"),
            (None, Some("2047-01-01"), "expires_at"),
            (None, Some("tomorrow"), "expires_at"),
            (Some("1d"), Some("2027-04-01"), "expires_at"),
        ] {
            let problems = TokenRequest::parse("", expires_in, expires_at, now()).unwrap_err();
            assert_eq!(
                problems.list()[0].field,
                field,
                "{expires_in:?} {expires_at:?}: {problems}"
            );
        }
        let long = "x".repeat(LABEL_MAX + 1);
        let problems = TokenRequest::parse(&long, None, None, now()).unwrap_err();
        assert_eq!(problems.list()[0].field, "label");
        let problems = TokenRequest::parse("a\nb", None, None, now()).unwrap_err();
        assert_eq!(problems.list()[0].field, "label");
    }
}
