//! The kinds of email Convene sends. Each is first a row in the outbox, written in the same
//! transaction as the change that called for it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// You signed up: going, or waiting at position N.
    SignupConfirmation,
    /// Someone (perhaps you) signed up again with your address: here is your existing link.
    AlreadyRegistered,
    /// A seat became free and is now yours.
    Promoted,
    /// Your registration is cancelled, as you asked.
    RegistrationCancelled,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::SignupConfirmation => "signup_confirmation",
            Notice::AlreadyRegistered => "already_registered",
            Notice::Promoted => "promoted",
            Notice::RegistrationCancelled => "registration_cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Notice::SignupConfirmation,
            Notice::AlreadyRegistered,
            Notice::Promoted,
            Notice::RegistrationCancelled,
        ]
        .into_iter()
        .find(|n| n.as_str() == raw)
    }
}
