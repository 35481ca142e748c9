//! axum's extractors, with their rejections as problem+json (axum's own answer is text):
//! [`Query`] for list parameters, [`JsonBody`] for request bodies, [`Path`] for path
//! segments. Paths are read as strings by the handlers and parsed there, so a malformed id
//! is a 400 naming it too; a segment that is not UTF-8 once percent-decoded is a 400 here.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::{Error, InvalidParam, Problem};
pub use crate::service::json::{field_of, from_json, from_json_str};

/// Query parameters; an unknown parameter, or one of the wrong type, is a 400 naming it.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

/// Parses a query string into `T` (which denies unknown fields). A value that does not
/// parse (`year=abc`) is named by its parameter, as an unknown one is.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize::<_, T>(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = if path.is_empty() || path == "." || path.contains('?') {
            field_of(&message, "query")
        } else {
            path
        };
        Error::Validation(vec![InvalidParam::new(field, message)])
    })
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        parse_query(parts.uri.query().unwrap_or_default())
            .map(Query)
            .map_err(IntoResponse::into_response)
    }
}

/// Path parameters, read as strings; a segment that cannot be read (`%FF` is not UTF-8) is
/// a 400 problem naming the path.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) if rejection.status().is_client_error() => {
                let mut problem =
                    Error::invalid("path", format!("cannot be read: {}", rejection.body_text()))
                        .problem();
                problem.instance = Some(parts.uri.path().to_owned());
                Err(problem.into_response())
            }
            Err(rejection) => Err(Error::internal(anyhow::anyhow!(
                "path parameters: {}",
                rejection.body_text()
            ))
            .into_response()),
        }
    }
}

/// A JSON request body, not yet read: the content type is checked when it is extracted
/// (415 otherwise), the body itself only when the handler asks for it, after it has checked
/// that the caller may write at all, so that a refused caller's body is never buffered. It
/// must then be within the configured limit (413) and well-formed (400). Handlers turn it
/// into their input type with [`from_json`] (or [`from_json_str`]), which names the field a
/// type error is at.
#[derive(Debug)]
pub struct JsonBody(Request);

fn problem(status: StatusCode, code: &'static str, detail: String) -> Response {
    Problem::new(status, code, detail).into_response()
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Response;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Response> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        let json = content_type.as_deref().is_some_and(|t| {
            t == "application/json" || t == "application/merge-patch+json" || t.ends_with("+json")
        });
        if !json {
            return Err(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!(
                    "send the body as application/json (got {})",
                    content_type.as_deref().unwrap_or("no Content-Type")
                ),
            ));
        }
        Ok(JsonBody(request))
    }
}

/// The body limit of a route (`--max-body-size`, or the larger one of bulk writes), set
/// beside axum's `DefaultBodyLimit` so that a body declared larger is refused before any
/// of it is read.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl JsonBody {
    /// The body's bytes, within the configured limit: one whose `Content-Length` is over
    /// it is refused at once, rather than after it was sent (or waited for).
    pub async fn bytes(self) -> Result<Bytes, Error> {
        let limit = self.0.extensions().get::<BodyLimit>().map(|limit| limit.0);
        let declared = self
            .0
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let (Some(limit), Some(declared)) = (limit, declared)
            && declared > limit as u64
        {
            return Err(Error::TooLarge(
                "the body is larger than this service accepts (--max-body-size)".to_owned(),
            ));
        }
        Bytes::from_request(self.0, &()).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::TooLarge(
                    "the body is larger than this service accepts (--max-body-size)".to_owned(),
                )
            } else {
                Error::invalid("body", "could not be read")
            }
        })
    }

    /// The body as a JSON value (for merge patches, which need one).
    pub async fn value(self) -> Result<serde_json::Value, Error> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid("body", format!("is not valid JSON: {e}")))
    }
}
