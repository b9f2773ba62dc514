//! Mail transports: SMTP (see `smtp`: lettre over our own pooled connections, STARTTLS or
//! implicit TLS with rustls, chosen by the URL), `.eml` files in the data folder (the default without SMTP),
//! and an in-memory list for unit tests.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lettre::Message;

use super::DeliveryError;
use super::smtp::{SmtpClient, SmtpServer};
use crate::error::AppError;

#[derive(Clone)]
pub enum Transport {
    Smtp(Arc<SmtpClient>),
    /// One `.eml` file per message, named after its Message-ID: written under a temporary
    /// name and renamed, so a reader never sees half a message and a retried delivery
    /// replaces the file instead of adding a second one.
    File(PathBuf),
    Memory(Arc<Mutex<Vec<Message>>>),
}

impl Transport {
    /// SMTP to `smtp` (`CONVENE_SMTP_URL`), else `.eml` files in `DATA_DIR/mail`.
    pub fn from_settings(
        smtp: Option<&SmtpServer>,
        data_dir: &Path,
        timeout: std::time::Duration,
        connections: usize,
    ) -> Result<Self, AppError> {
        match smtp {
            // As many pooled connections as the worker sends messages at once.
            Some(server) => Ok(Transport::Smtp(SmtpClient::new(
                server.clone(),
                timeout,
                connections,
            ))),
            None => {
                let dir = data_dir.join("mail");
                std::fs::create_dir_all(&dir).map_err(|e| {
                    AppError::config(format!("cannot create {}: {e}", dir.display()))
                })?;
                Ok(Transport::File(dir))
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
            Transport::Smtp(client) => client.send(&message).await,
            Transport::File(dir) => write_eml(dir, &message).await.map_err(|e| DeliveryError {
                permanent: false,
                reason: format!("cannot write mail to {}: {e}", dir.display()),
            }),
            Transport::Memory(sent) => {
                sent.lock().unwrap_or_else(|p| p.into_inner()).push(message);
                Ok(())
            }
        }
    }
}

async fn write_eml(dir: &std::path::Path, message: &Message) -> std::io::Result<()> {
    let id = message
        .headers()
        .get_raw("Message-ID")
        .map(|raw| {
            raw.trim_matches(['<', '>', ' '])
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "-_.@".contains(*c))
                .collect::<String>()
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let temporary = dir.join(format!(".{id}.tmp"));
    tokio::fs::write(&temporary, message.formatted()).await?;
    tokio::fs::rename(&temporary, dir.join(format!("{id}.eml"))).await
}
