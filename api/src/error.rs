//! The one error type of the service, and how it is shown to callers.
//!
//! Every failure a caller can act on is a variant here; REST renders it as
//! `application/problem+json` (RFC 9457) and GraphQL (later) as `extensions.code`, so both
//! faces say the same thing. Database errors never reach a caller as such: the service maps
//! the ones a caller caused (a duplicate, a missing reference) to [`Error::Validation`] where
//! they happen, the database being out of reach to [`Error::Unavailable`] (503 with
//! `Retry-After`), and everything else becomes [`Error::Internal`], whose cause is logged and
//! never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One invalid field of a request: its name (camelCase, as the caller sent it, with a path
/// such as `links[2].url` for nested fields) and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InvalidParam {
    /// The field, as named in the request.
    pub name: String,
    /// What is wrong with it, in words a caller can act on.
    pub reason: String,
}

impl InvalidParam {
    /// An invalid field with its reason.
    pub fn new(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            reason: reason.into(),
        }
    }
}

/// Everything that can go wrong in a request, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resource does not exist (or is deleted, or is not visible to the caller).
    #[error("{resource} {key} not found")]
    NotFound {
        /// The collection, e.g. `networks`.
        resource: &'static str,
        /// The id or natural key that was looked up.
        key: String,
    },
    /// The request is invalid; lists every invalid field at once.
    #[error("invalid input: {}", summary(.0))]
    Validation(Vec<InvalidParam>),
    /// The request conflicts with the current state (e.g. a concurrent change).
    #[error("conflict: {0}")]
    Conflict(String),
    /// `If-Match` or `expectedVersion` named a version that is no longer current.
    #[error("version {expected} is not current; the current version is {current}")]
    PreconditionFailed {
        /// The version the caller expected.
        expected: i32,
        /// The version the resource has now.
        current: i32,
    },
    /// A precondition that no version can meet (`If-Match` with weak tags only: RFC 9110
    /// compares `If-Match` strongly).
    #[error("{0}")]
    PreconditionNeverMet(String),
    /// This caller must send `If-Match` on writes.
    #[error("this partner must send If-Match with the current version")]
    PreconditionRequired,
    /// No valid credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Valid credentials, but not allowed to do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Valid credentials whose token lacks the scope named (RFC 6750 §3.1
    /// `insufficient_scope`: a 403 whose `WWW-Authenticate` names the scope).
    #[error("forbidden: the scope {0} is required")]
    MissingScope(String),
    /// Too many requests; try again after the given number of seconds.
    #[error("too many requests; retry after {retry_after} s")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// A dependency (the database) is not available right now, or the request ran past its
    /// timeout; answered 503 with `Retry-After`.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Concurrent writers got in each other's way (a deadlock the database broke, writers it
    /// could not order, or a lock held past the busy timeout). Nothing was written; the
    /// service retries such a write itself a few times before answering with this.
    #[error("the database is busy with concurrent writes to the same rows; retry the request")]
    Busy,
    /// The request is well-formed but cannot be processed (an `Idempotency-Key` reused for
    /// another request).
    #[error("{0}")]
    Unprocessable(String),
    /// A cursor or resource that existed is gone for good (e.g. past the feed's retention).
    #[error("gone: {0}")]
    Gone(String),
    /// The request body is larger than the service accepts.
    #[error("{0}")]
    TooLarge(String),
    /// A bug or an unexpected failure; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

fn summary(params: &[InvalidParam]) -> String {
    params
        .iter()
        .map(|p| format!("{}: {}", p.name, p.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Shorthand for results of the service layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An internal error from any cause; the cause is logged when the error is rendered.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Error::Internal(cause.into())
    }

    /// A validation error for a single field.
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Validation(vec![InvalidParam::new(name, reason)])
    }

    /// The stable, machine-readable code of this error (GraphQL `extensions.code`, and the
    /// last segment of the problem `type`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::Validation(_) => "validation_failed",
            Error::Conflict(_) => "conflict",
            Error::PreconditionFailed { .. } | Error::PreconditionNeverMet(_) => {
                "precondition_failed"
            }
            Error::PreconditionRequired => "precondition_required",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) | Error::MissingScope(_) => "forbidden",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable(_) => "unavailable",
            Error::Busy => "busy",
            Error::Unprocessable(_) => "idempotency_key_reused",
            Error::Gone(_) => "gone",
            Error::TooLarge(_) => "payload_too_large",
            Error::Internal(_) => "internal",
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::Validation(_) => StatusCode::BAD_REQUEST,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PreconditionFailed { .. } | Error::PreconditionNeverMet(_) => {
                StatusCode::PRECONDITION_FAILED
            }
            Error::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) | Error::MissingScope(_) => StatusCode::FORBIDDEN,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) | Error::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Gone(_) => StatusCode::GONE,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem document (RFC 9457) for this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let title = status.canonical_reason().unwrap_or("Error").to_owned();
        let detail = match self {
            Error::Internal(_) => {
                "An unexpected error occurred; it has been logged. Retry later or report the request id.".to_owned()
            }
            Error::Validation(params) if params.len() > 1 => {
                format!("{} fields are invalid; see invalidParams.", params.len())
            }
            other => other.to_string(),
        };
        Problem {
            r#type: format!("urn:leernet:problem:{}", self.code()),
            title,
            status: status.as_u16(),
            detail,
            instance: None,
            code: self.code(),
            invalid_params: match self {
                Error::Validation(params) => params.clone(),
                _ => Vec::new(),
            },
        }
    }
}

/// Seconds a client is told to wait (`Retry-After`) when the service is unavailable: the
/// database out of reach, or a request past its timeout. Long enough for a pool to
/// reconnect, short enough for a retry to land soon after the database is back.
pub const UNAVAILABLE_RETRY_AFTER: u64 = 5;

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:leernet:problem:<code>`).
    pub r#type: String,
    /// The HTTP reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, for a human.
    pub detail: String,
    /// The request path this problem occurred on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The stable error code (as GraphQL's `extensions.code`).
    #[schema(value_type = String, example = "validation_failed")]
    pub code: &'static str,
    /// Every invalid field, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid_params: Vec<InvalidParam>,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
        let retry_after = match &self {
            Error::RateLimited { retry_after } => Some(*retry_after),
            Error::Busy => Some(1),
            Error::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER),
            _ => None,
        };
        let challenge = match &self {
            Error::MissingScope(scope) => HeaderValue::from_str(&format!(
                "Bearer realm=\"leernet\", error=\"insufficient_scope\", scope=\"{scope}\""
            ))
            .ok(),
            _ => None,
        };
        let too_large = matches!(self, Error::TooLarge(_));
        let mut response = self.problem().into_response();
        if too_large {
            // The rest of the body is never read: the connection closes after this answer,
            // and says so, so that a client does not send its next request on it.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(challenge) = challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl Problem {
    /// A problem of its own kind, outside [`Error`]'s (hyper's and the transport's
    /// answers): `code` names it (`urn:leernet:problem:<code>`), the title is the status's.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            r#type: format!("urn:leernet:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
            code,
            invalid_params: Vec::new(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            body,
        )
            .into_response()
    }
}
