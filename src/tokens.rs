//! Secrets: the one place that makes random tokens, hashes them for storage, derives
//! attendees' manage links, and hashes organizer passwords.
//!
//! A manage token is HMAC-SHA256(server key, "manage" ‖ nonce). The database keeps the nonce
//! and the SHA-256 of the token, never the token: someone who reads the database alone cannot
//! build a working link, while the service can send an attendee their existing link again.

use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// 256 bits of server secret, shared by every instance of one deployment.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// Reads the key from `secret.key` in the data folder, creating that file (mode 0600) on
    /// first start. A configured key is parsed with the other settings (see `config`).
    pub fn load(data_dir: &Path) -> Result<Self, AppError> {
        let path = data_dir.join("secret.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::decode(text.trim()).ok_or_else(|| {
                AppError::config(format!("{} does not hold a valid key", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    AppError::config(format!("cannot create {}: {e}", data_dir.display()))
                })?;
                write_private(&path, &key.encode()).map_err(|e| {
                    AppError::config(format!("cannot write {}: {e}", path.display()))
                })?;
                Ok(key)
            }
            Err(e) => Err(AppError::config(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// A key as [`SecretKey::encode`] writes it: 32 bytes in base64url.
    pub fn decode(text: &str) -> Option<Self> {
        URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok().map(Self)
    }

    /// The token that a stored nonce stands for, for one purpose (`manage`, `feed`, ...).
    pub fn derive_token(&self, purpose: &str, nonce: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(nonce.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

impl SecretKey {
    /// A token naming one row, `ID.MAC`, that the service can check without storing it: the
    /// MAC covers the purpose, the id and the row's nonce (so a new nonce revokes it).
    pub fn sign_row(&self, purpose: &str, id: i64, nonce: &str) -> String {
        format!(
            "{id}.{}",
            self.derive_token(purpose, &format!("{id}:{nonce}"))
        )
    }

    /// Whether `token` is the one `sign_row` makes for this row.
    pub fn verify_row(&self, purpose: &str, token: &str, id: i64, nonce: &str) -> bool {
        constant_time_eq(
            token.as_bytes(),
            self.sign_row(purpose, id, nonce).as_bytes(),
        )
    }
}

/// The row id a signed token names, if it has the shape of one.
pub fn signed_row_id(token: &str) -> Option<i64> {
    let (id, mac) = token.split_once('.')?;
    (mac.len() == 43).then_some(())?;
    id.parse().ok()
}

/// Compares two secrets without revealing where they differ.
pub fn same(a: &str, b: &str) -> bool {
    constant_time_eq(a.as_bytes(), b.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// A fresh random token of 256 bits, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh random nonce of 128 bits, URL-safe.
pub fn random_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How a token is stored and looked up: lower-case hex SHA-256. Tokens carry 128 bits or more of
/// randomness, so a fast hash is enough (a slow one is for passwords).
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A generated password for a new organizer: 20 characters, about 120 bits.
pub fn random_password() -> String {
    let mut bytes = [0u8; 15];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_password(password: &str) -> Result<String, AppError> {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert_eq!(random_nonce().len(), 22);
    }

    #[test]
    fn derived_tokens_depend_on_key_purpose_and_nonce() {
        let key = SecretKey::generate();
        let t = key.derive_token("manage", "n1");
        assert_eq!(t, key.derive_token("manage", "n1"));
        assert_ne!(t, key.derive_token("feed", "n1"));
        assert_ne!(t, key.derive_token("manage", "n2"));
        assert_ne!(t, SecretKey::generate().derive_token("manage", "n1"));
    }

    #[test]
    fn signed_rows() {
        let key = SecretKey::generate();
        let token = key.sign_row("unsubscribe", 42, "nonce");
        assert_eq!(signed_row_id(&token), Some(42));
        assert!(key.verify_row("unsubscribe", &token, 42, "nonce"));
        assert!(!key.verify_row("unsubscribe", &token, 43, "nonce"));
        assert!(!key.verify_row("unsubscribe", &token, 42, "other"));
        assert!(!key.verify_row("manage", &token, 42, "nonce"));
        assert_eq!(signed_row_id("42"), None);
        assert_eq!(signed_row_id("x.y"), None);
    }

    #[test]
    fn hashes_and_passwords() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretKey::load(dir.path()).unwrap();
        let again = SecretKey::load(dir.path()).unwrap();
        assert_eq!(first.encode(), again.encode());
        assert!(SecretKey::decode("short").is_none());
        let configured = SecretKey::generate().encode();
        assert_eq!(SecretKey::decode(&configured).unwrap().encode(), configured);
    }
}
