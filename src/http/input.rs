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

/// [`nullable`] for whole numbers. JSON Schema counts `30.0` as the integer 30, so it is read as
/// one; a fraction is refused. Out-of-range values saturate, to be refused by the field's rule.
pub fn nullable_whole<'de, D>(deserializer: D) -> Result<Option<Option<i64>>, D::Error>
where
    D: Deserializer<'de>,
{
    let number = Option::<serde_json::Number>::deserialize(deserializer)?;
    number
        .map(|n| match (n.as_i64(), n.as_f64()) {
            (Some(whole), _) => Ok(whole),
            #[expect(
                clippy::cast_possible_truncation,
                reason = "whole by the check; saturating beyond i64 is wanted"
            )]
            (None, Some(f)) if f.fract() == 0.0 => Ok(f as i64),
            _ => Err(serde::de::Error::custom("expected a whole number")),
        })
        .transpose()
        .map(Some)
}
