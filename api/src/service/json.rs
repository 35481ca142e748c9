//! JSON as a request's input: a serde error is the field problem it is, named by its path
//! (`regions[0].role`), for every face that reads JSON into an input type.

use serde::de::DeserializeOwned;

use crate::error::{Error, InvalidParam};

/// The parameter a serde error is about: serde names it in backticks
/// ("unknown field `foo`, expected ..."), or `fallback`.
pub fn field_of(message: &str, fallback: &str) -> String {
    message
        .split('`')
        .nth(1)
        .filter(|_| message.contains("field"))
        .unwrap_or(fallback)
        .to_owned()
}

/// `text` (a JSON document) as `T`, read straight into it, with a type error or an unknown
/// field reported at its path (`regions[0].role`).
pub fn from_json_str<'de, T: serde::Deserialize<'de>>(text: &'de str) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        path_error(&path, &inner)
    })?;
    deserializer
        .end()
        .map_err(|e| Error::invalid("body", format!("is not valid JSON: {e}")))?;
    Ok(parsed)
}

/// A serde error at `path` as the field problem it is.
fn path_error(path: &str, inner: &str) -> Error {
    // The path already ends at the offending field (also for an unknown one).
    let name = if inner.starts_with("unknown field") && (path == "." || path.is_empty()) {
        field_of(inner, "body")
    } else if path == "." || path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    let reason = inner.split(" at line ").next().unwrap_or(inner).to_owned();
    Error::Validation(vec![InvalidParam::new(name, reason)])
}

/// `value` as `T`, with a type error or an unknown field reported at its path
/// (`regions[0].role`) rather than as a parse failure of the whole body.
pub fn from_json<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Error> {
    if !value.is_object() {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        path_error(&path, &inner)
    })
}
