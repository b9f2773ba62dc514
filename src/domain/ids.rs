//! The ids of events, projects and registrations, each its own type: a function that wants an
//! event's id does not take a project's. Stored as `BIGINT` and written in JSON and URLs as
//! the plain number, so nothing outside the code sees a difference.

use std::fmt;

use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Serialize};

macro_rules! row_id {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            DieselNewType,
        )]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// The id with this number; only numbers the database gave out name a row.
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }

            /// The number, for what stores or signs ids of any table alike.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        /// The plain number, as in URLs, keys and log lines.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        /// In the OpenAPI document: the 64-bit integer it is on the wire.
        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                raw.parse().map(Self)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <i64 as utoipa::PartialSchema>::schema()
            }
        }

        impl utoipa::ToSchema for $name {}
    )+};
}

row_id!(
    /// An event's row id.
    EventId,
    /// A project's row id.
    ProjectId,
    /// A registration's row id.
    RegistrationId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_plain_numbers_in_json_and_text() {
        let id = RegistrationId::new(42);
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(serde_json::from_str::<RegistrationId>("42").unwrap(), id);
        assert_eq!(format!("r{id}:{}", EventId::new(-7)), "r42:-7");
        assert_eq!(ProjectId::new(3).get(), 3);
        assert_eq!("12".parse::<EventId>(), Ok(EventId::new(12)));
        assert!("twelve".parse::<EventId>().is_err());
    }
}
