//! Deserialization helpers that accept what real servers send instead of what the spec says.
//!
//! Servers send `null` where a value belongs, floats where integers belong, objects where a
//! JSON string belongs. Each helper maps such input to the value a caller would expect,
//! without failing the whole response.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `null` (or a missing field, with `#[serde(default)]`) becomes `T::default()`.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A non-negative integer sent as an integer, a float, a numeric string or `null` (→ 0).
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(number_to_u64(&Value::deserialize(d)?).unwrap_or(0))
}

/// Like [`lenient_u64`] for `u32` fields (indices); out-of-range values become 0.
pub(crate) fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(number_to_u64(&Value::deserialize(d)?)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0))
}

/// An optional `u32` that may be `null`, a float or a string.
pub(crate) fn lenient_opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(number_to_u64(&Value::deserialize(d)?).and_then(|n| u32::try_from(n).ok()))
}

fn number_to_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Function-call arguments: a JSON string as the spec says, or (some local servers) the
/// arguments object itself, which is turned back into its JSON text. `null` → `""`.
pub(crate) fn arguments_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => String::new(),
        Value::String(s) => s,
        other => other.to_string(),
    })
}

/// Optional arguments for stream deltas; same rules as [`arguments_string`], but keeps
/// "absent or null" distinguishable from an empty string.
pub(crate) fn opt_arguments_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}
