//! Mail transports: SMTP through lettre's pooled async client (STARTTLS or implicit TLS with
//! rustls, chosen by the URL), `.eml` files in the data folder (the default without SMTP),
//! and an in-memory list for unit tests.

use std::path::Path;
use std::sync::{Arc, Mutex};

use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::error::AppError;

#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
    Memory(Arc<Mutex<Vec<Message>>>),
}

/// Why a delivery failed, and whether trying again may help.
#[derive(Debug)]
pub struct DeliveryError {
    pub permanent: bool,
    pub reason: String,
}

impl Transport {
    pub fn from_settings(smtp_url: Option<&str>, data_dir: &Path) -> Result<Self, AppError> {
        match smtp_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|builder| Transport::Smtp(builder.build()))
                .map_err(|e| AppError::config(format!("CONVENE_SMTP_URL is not usable: {e}"))),
            None => {
                let dir = data_dir.join("mail");
                std::fs::create_dir_all(&dir).map_err(|e| {
                    AppError::config(format!("cannot create {}: {e}", dir.display()))
                })?;
                Ok(Transport::File(AsyncFileTransport::new(dir)))
            }
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Transport::Smtp(_) => "SMTP",
            Transport::File(_) => ".eml files in the data folder",
            Transport::Memory(_) => "memory",
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), DeliveryError> {
        match self {
            Transport::Smtp(smtp) => {
                smtp.send(message)
                    .await
                    .map(drop)
                    .map_err(|e| DeliveryError {
                        permanent: e.is_permanent(),
                        reason: e.to_string(),
                    })
            }
            Transport::File(file) => {
                file.send(message)
                    .await
                    .map(drop)
                    .map_err(|e| DeliveryError {
                        permanent: false,
                        reason: e.to_string(),
                    })
            }
            Transport::Memory(sent) => {
                sent.lock().unwrap_or_else(|p| p.into_inner()).push(message);
                Ok(())
            }
        }
    }
}
