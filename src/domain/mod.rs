//! Validated domain types and the signup rules. No I/O lives here: input is parsed into these
//! types at the HTTP and CLI boundary, and the database layer only ever sees valid values.

pub mod api_token;
pub mod drafts;
pub mod email;
pub mod event;
pub mod geo;
pub mod ids;
pub mod mail_budget;
pub mod notice;
pub mod problems;
pub mod reminders;
pub mod seats;
pub mod slug;
pub mod text;
pub mod time;
pub mod weburl;

pub use api_token::TokenRequest;
pub use drafts::{EventDraft, Lead, ProjectDraft, SignupRequest};
pub use email::EmailAddress;
pub use event::{Capacity, EventKind, EventStatus, RegistrationStatus};
pub use geo::Geo;
pub use ids::{EventId, ProjectId, RegistrationId};
pub use notice::{Notice, NoticeKind};
pub use problems::{FieldProblem, Problems};
pub use reminders::ReminderOffsets;
pub use slug::Slug;
pub use text::{LongText, SingleLine, person_name};
pub use time::{EventWindow, TimeZoneName};
pub use weburl::WebUrl;
