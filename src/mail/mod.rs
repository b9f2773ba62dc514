//! Email: messages built from the templates under `web/templates/email/`, and the transports
//! that deliver them (SMTP, `.eml` files, or memory for unit tests).

pub mod compose;
mod smtp;
pub mod transport;

pub use compose::{NoticeContext, compose};
pub use smtp::SmtpServer;
pub use transport::{DeliveryError, Transport};
