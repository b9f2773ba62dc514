//! The small closed vocabularies of the domain: event kinds and statuses, registration
//! statuses, and capacities.

use std::fmt;

/// The largest capacity Convene accepts for an event or a project.
pub const MAX_CAPACITY: u32 = 100_000;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        ///
        /// Stored as its text; `db::columns` reads it back, refusing any other value.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str) -> Result<Self, String> {
                match raw {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "must be one of {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        /// In the OpenAPI document: a string with exactly these values.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// What sort of gathering an event is; each kind has its own feed.
    EventKind {
        Sprint => "sprint",
        HackIn => "hack-in",
        Summit => "summit",
        Meetup => "meetup",
        Other => "other",
    }
);

string_enum!(
    /// Whether an event still takes place.
    EventStatus {
        Scheduled => "scheduled",
        Cancelled => "cancelled",
    }
);

string_enum!(
    /// Where a registration stands: a seat, a place on the waitlist, or cancelled.
    RegistrationStatus {
        Going => "going",
        Waitlisted => "waitlisted",
        Cancelled => "cancelled",
    }
);

/// Seats at an event or a project table; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity(Option<u32>);

impl Capacity {
    pub const UNLIMITED: Capacity = Capacity(None);

    pub fn parse(raw: Option<i64>) -> Result<Self, String> {
        match raw {
            None => Ok(Self(None)),
            Some(n) if n < 0 => Err("must be 0 or more (leave it out for no limit)".into()),
            Some(n) if n > i64::from(MAX_CAPACITY) => {
                Err(format!("must be at most {MAX_CAPACITY}"))
            }
            Some(n) => Ok(Self(Some(n as u32))),
        }
    }

    pub fn limit(self) -> Option<u32> {
        self.0
    }

    pub fn as_db(self) -> Option<i32> {
        self.0.map(|n| n as i32)
    }

    pub fn from_db(raw: Option<i32>) -> Self {
        Self(raw.map(|n| n.max(0) as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Ok(*kind));
        }
        let err = EventKind::parse("party").unwrap_err();
        assert!(err.contains("sprint, hack-in, summit"), "{err}");
    }

    #[test]
    fn capacity_bounds() {
        assert_eq!(Capacity::parse(None).unwrap().limit(), None);
        assert_eq!(Capacity::parse(Some(0)).unwrap().limit(), Some(0));
        assert!(Capacity::parse(Some(-1)).is_err());
        assert!(Capacity::parse(Some(i64::from(MAX_CAPACITY) + 1)).is_err());
    }
}
