//! Reminder offsets: how long before an event its reminders go out, such as `24h,1h`.

use std::fmt;

use chrono::Duration;

pub const MAX_OFFSETS: usize = 5;
pub const MAX_OFFSET_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderOffsets(Vec<Duration>);

impl ReminderOffsets {
    /// Parses a comma-separated list of durations in minutes (`m`), hours (`h`) or days
    /// (`d`), each between one minute and 30 days. An empty list means no reminders.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut offsets = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (number, unit) =
                part.split_at(part.len() - part.chars().last().map_or(0, char::len_utf8));
            let n: i64 = number
                .trim()
                .parse()
                .map_err(|_| format!("`{part}` is not a duration such as 24h, 90m or 2d"))?;
            let offset = match unit {
                "m" => Duration::minutes(n),
                "h" => Duration::hours(n),
                "d" => Duration::days(n),
                _ => return Err(format!("`{part}` needs a unit: m, h or d (such as 24h)")),
            };
            if offset < Duration::minutes(1) || offset > Duration::days(MAX_OFFSET_DAYS) {
                return Err(format!(
                    "`{part}` must be between 1m and {MAX_OFFSET_DAYS}d"
                ));
            }
            if !offsets.contains(&offset) {
                offsets.push(offset);
            }
        }
        if offsets.len() > MAX_OFFSETS {
            return Err(format!("at most {MAX_OFFSETS} reminders"));
        }
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        Ok(Self(offsets))
    }

    pub fn offsets(&self) -> &[Duration] {
        &self.0
    }

    /// "in 24 hours", "in 90 minutes", "in 2 days".
    pub fn describe(offset: Duration) -> String {
        let minutes = offset.num_minutes();
        match minutes {
            m if m % (24 * 60) == 0 && m > 48 * 60 => plural(m / (24 * 60), "day"),
            m if m % 60 == 0 => plural(m / 60, "hour"),
            m => plural(m, "minute"),
        }
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

impl fmt::Display for ReminderOffsets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|d| {
                let m = d.num_minutes();
                if m % (24 * 60) == 0 && m > 48 * 60 {
                    format!("{}d", m / (24 * 60))
                } else if m % 60 == 0 {
                    format!("{}h", m / 60)
                } else {
                    format!("{m}m")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// The longest alarm a personal feed may set: a week before the start.
pub const FEED_ALARM_MAX_MINUTES: i64 = 7 * 24 * 60;

/// Reads the alarm a person wants in their calendar feed: minutes before each start, from 0
/// to a week; None: no alarm.
pub fn feed_alarm(minutes: Option<i64>) -> Result<Option<i32>, String> {
    match minutes {
        None => Ok(None),
        Some(m) if (0..=FEED_ALARM_MAX_MINUTES).contains(&m) => Ok(Some(m as i32)),
        Some(_) => Err(format!(
            "must be a number of minutes from 0 to {FEED_ALARM_MAX_MINUTES} (a week), or null for no alarm"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_alarms_are_none_or_up_to_a_week() {
        assert_eq!(feed_alarm(None), Ok(None));
        assert_eq!(feed_alarm(Some(30)), Ok(Some(30)));
        assert_eq!(feed_alarm(Some(10_080)), Ok(Some(10_080)));
        assert!(feed_alarm(Some(-1)).is_err() && feed_alarm(Some(10_081)).is_err());
    }

    #[test]
    fn parses_and_normalizes() {
        let offsets = ReminderOffsets::parse("1h, 24h,90m,1h").unwrap();
        assert_eq!(offsets.to_string(), "24h,90m,1h");
        assert_eq!(ReminderOffsets::parse("").unwrap().offsets().len(), 0);
        assert_eq!(
            ReminderOffsets::parse("2d").unwrap().offsets()[0],
            Duration::days(2)
        );
        assert_eq!(ReminderOffsets::parse("3d").unwrap().to_string(), "3d");
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "24",
            "h",
            "-1h",
            "0m",
            "31d",
            "1w",
            "1h,2h,3h,4h,5h,6h",
            "1.5h",
        ] {
            assert!(ReminderOffsets::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn describes() {
        assert_eq!(ReminderOffsets::describe(Duration::hours(24)), "24 hours");
        assert_eq!(ReminderOffsets::describe(Duration::days(3)), "3 days");
        assert_eq!(ReminderOffsets::describe(Duration::hours(1)), "1 hour");
        assert_eq!(
            ReminderOffsets::describe(Duration::minutes(90)),
            "90 minutes"
        );
    }
}
