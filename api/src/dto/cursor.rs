//! The opaque list cursor every face hands out: REST's `cursor`/`nextCursor` and GraphQL's
//! edge cursors (`after`, `before`) are the same text, so a client may take one from either
//! face to the other. It names the collection and the sort it belongs to, so that a cursor
//! of another list, or of the same list in another order, is refused rather than read as a
//! position it is not.

use base64::Engine;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::service::resource::{After, Sort};

/// The cursor of the row `after` in `collection` listed in `sort` order.
pub fn encode(collection: &str, sort: &Sort, after: &After) -> String {
    let text =
        serde_json::json!({"c": collection, "s": sort.as_param(), "k": after.key, "i": after.id});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text.to_string())
}

/// The row a cursor of `collection` in `sort` order names; a cursor of another list or
/// sort, or one that was tampered with, is a 400 naming `cursor`.
pub fn decode(collection: &str, sort: &Sort, cursor: &str) -> Result<After> {
    let invalid = || {
        Error::invalid(
            "cursor",
            "is not a cursor of this list (with this sort); pass nextCursor from the previous page as it is",
        )
    };
    let json: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(invalid)?;
    if json["c"].as_str() != Some(collection)
        || json["s"].as_str() != Some(sort.as_param().as_str())
    {
        return Err(invalid());
    }
    let id = json["i"]
        .as_str()
        .and_then(|i| Uuid::try_parse(i).ok())
        .ok_or_else(invalid)?;
    let key = match &json["k"] {
        Value::Null => None,
        Value::String(k) => Some(k.clone()),
        _ => return Err(invalid()),
    };
    Ok(After { key, id })
}
