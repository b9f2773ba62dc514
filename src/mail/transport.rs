//! Mail transports: SMTP through lettre's pooled async client (STARTTLS or implicit TLS with
//! rustls, chosen by the URL), `.eml` files in the data folder (the default without SMTP),
//! and an in-memory list for unit tests.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use std::path::PathBuf;

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

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

/// As many pooled connections as the worker sends messages at once.
fn pool_config() -> lettre::transport::smtp::PoolConfig {
    lettre::transport::smtp::PoolConfig::new().max_size(crate::jobs::outbox::CONCURRENCY as u32)
}

/// lettre's pooled SMTP client, with an overall time limit per delivery.
pub struct SmtpClient {
    url: String,
    timeout: std::time::Duration,
    pool: RwLock<AsyncSmtpTransport<Tokio1Executor>>,
}

impl SmtpClient {
    async fn send(&self, message: Message) -> Result<(), DeliveryError> {
        let limit = self.timeout * 2;
        let transport = self.pool.read().unwrap_or_else(|p| p.into_inner()).clone();
        match tokio::time::timeout(limit, transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(DeliveryError {
                permanent: e.is_permanent(),
                reason: e.to_string(),
            }),
            Err(_) => {
                // The abandoned connection may be half-way through a command; a fresh pool
                // makes sure it is never used again.
                if let Ok(builder) = AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.url) {
                    *self.pool.write().unwrap_or_else(|p| p.into_inner()) = builder
                        .timeout(Some(self.timeout))
                        .pool_config(pool_config())
                        .build();
                }
                Err(DeliveryError {
                    permanent: false,
                    reason: format!(
                        "the SMTP server did not answer within {} s",
                        limit.as_secs()
                    ),
                })
            }
        }
    }
}

/// Why a delivery failed, and whether trying again may help.
#[derive(Debug)]
pub struct DeliveryError {
    pub permanent: bool,
    pub reason: String,
}

impl Transport {
    pub fn from_settings(
        smtp_url: Option<&str>,
        data_dir: &Path,
        timeout: std::time::Duration,
    ) -> Result<Self, AppError> {
        match smtp_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|builder| {
                    Transport::Smtp(Arc::new(SmtpClient {
                        url: url.to_owned(),
                        timeout,
                        pool: RwLock::new(
                            builder
                                .timeout(Some(timeout))
                                .pool_config(pool_config())
                                .build(),
                        ),
                    }))
                })
                .map_err(|e| AppError::config(format!("CONVENE_SMTP_URL is not usable: {e}"))),
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
            Transport::Smtp(client) => client.send(message).await,
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
