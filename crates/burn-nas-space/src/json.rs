//! The versioned JSON envelope shared by all architecture types.
//!
//! ```json
//! { "format_version": 1, "space": "enas_micro", "arch": { ... } }
//! ```
//! Readers check the version and the space tag before the body, so a file of another space or
//! a newer format gets an error that says exactly that.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ArchError, Result};

/// The JSON format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct EnvelopeOut<'a, A: Serialize> {
    format_version: u32,
    space: &'a str,
    arch: &'a A,
}

/// Serializes `arch` in the envelope for `space`.
pub(crate) fn to_json<A: Serialize>(space: &str, arch: &A) -> String {
    let envelope = EnvelopeOut {
        format_version: FORMAT_VERSION,
        space,
        arch,
    };
    // Serializing plain data with string keys into a String cannot fail.
    serde_json::to_string_pretty(&envelope).unwrap_or_default()
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ArchError {
    ArchError::InvalidJson {
        path: path.into(),
        message: message.into(),
    }
}

/// The space tag of an architecture document (`best_arch.json`), its format version checked:
/// what a tool reading documents of several spaces dispatches on.
///
/// ```
/// use burn_nas_space::{Architecture, MacroArch, space_of};
/// let arch = MacroArch::from_enas_string("0 3 1 5 0 0")?;
/// assert_eq!(space_of(&arch.to_json())?, "enas_macro");
/// # Ok::<(), burn_nas_space::ArchError>(())
/// ```
///
/// # Errors
/// [`ArchError::InvalidJson`] for a malformed document, [`ArchError::UnsupportedVersion`].
pub fn space_of(text: &str) -> Result<String> {
    Ok(read_envelope(text)?.0)
}

/// Reads the envelope: returns the space tag and the raw `arch` body after checking the version.
pub(crate) fn read_envelope(text: &str) -> Result<(String, Value)> {
    let value: Value = serde_json::from_str(text).map_err(|e| invalid("", e.to_string()))?;
    let Value::Object(mut map) = value else {
        return Err(invalid("", "expected a JSON object"));
    };
    let version = match map.get("format_version") {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| invalid("format_version", "expected a non-negative integer"))?,
        Some(_) => {
            return Err(invalid("format_version", "expected a non-negative integer"));
        }
        None => return Err(invalid("", "missing field `format_version`")),
    };
    if version != u64::from(FORMAT_VERSION) {
        return Err(ArchError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let space = match map.get("space") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(invalid("space", "expected a string")),
        None => return Err(invalid("", "missing field `space`")),
    };
    let arch = map
        .remove("arch")
        .ok_or_else(|| invalid("", "missing field `arch`"))?;
    Ok((space, arch))
}

/// Deserializes a body, reporting the path of the first bad value.
pub(crate) fn from_value<A: DeserializeOwned>(body: Value) -> Result<A> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "arch".to_string()
        } else {
            format!("arch.{path}")
        };
        invalid(path, e.into_inner().to_string())
    })
}

/// Reads a document for `space` into `A` (not validated).
pub(crate) fn from_json<A: DeserializeOwned>(space: &str, text: &str) -> Result<A> {
    let (found, body) = read_envelope(text)?;
    if found != space {
        return Err(ArchError::WrongSpace {
            expected: space.to_string(),
            found,
        });
    }
    from_value(body)
}
