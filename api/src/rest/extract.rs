//! axum's extractors, with their rejections as problem+json (axum's own answer in text).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::{Error, InvalidParam};

/// Query parameters; an unknown parameter, or one of the wrong type, is a 400 naming it.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str::<T>(query)
            .map(Query)
            .map_err(|e| {
                let message = e.to_string();
                // serde names the field in backticks: "unknown field `foo`, expected ...".
                let name = message
                    .split('`')
                    .nth(1)
                    .filter(|_| message.contains("field"))
                    .unwrap_or("query")
                    .to_owned();
                Error::Validation(vec![InvalidParam::new(name, message)]).into_response()
            })
    }
}
