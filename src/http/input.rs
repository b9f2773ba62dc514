//! Helpers for reading JSON input: fields that may be absent, null, or set.

use serde::{Deserialize, Deserializer};

/// For PATCH-style fields: absent is `None`, `null` is `Some(None)`, a value is `Some(Some(v))`.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
