//! Email: what each kind of notice says (`notices`), the complete messages built from the
//! templates under `web/templates/email/` (`compose`), and the transports that deliver them
//! (SMTP, `.eml` files, or memory for unit tests).

pub mod compose;
pub mod notices;
mod smtp;
pub mod transport;

pub use compose::compose;
pub use notices::NoticeMail;
pub use smtp::SmtpServer;
pub use transport::Transport;

/// Why a delivery failed, and whether trying again may help.
#[derive(Debug)]
pub struct DeliveryError {
    pub permanent: bool,
    pub reason: String,
}
