//! The one verifier: an axum extractor that turns `Authorization: Bearer <token>` into the
//! [`Actor`] a handler passes to the service layer. REST handlers take it as an argument;
//! GraphQL's websocket makes its actor with [`admit`] from `connection_init`, as the
//! extractor does from the header: one path, rate limit included, for every face.
//!
//! Every failure is a 401 problem with `WWW-Authenticate: Bearer` (RFC 6750): with
//! `error="invalid_token"` when a token was sent and refused, without an error code when
//! none was sent. The detail says what is wrong in terms that do not help an attacker.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::auth::ratelimit::RateSlot;
use crate::auth::token::{Subject, verify};
use crate::error::Error;
use crate::service::{Actor, partners};
use crate::state::AppState;

/// A refused request: 401 with `WWW-Authenticate`.
#[derive(Debug)]
pub struct Unauthenticated {
    /// Whether a token was sent at all.
    pub token_sent: bool,
    /// What is wrong.
    pub detail: String,
}

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        let challenge = if self.token_sent {
            format!(
                "Bearer realm=\"leernet\", error=\"invalid_token\", error_description=\"{}\"",
                self.detail.replace('"', "'")
            )
        } else {
            "Bearer realm=\"leernet\"".to_owned()
        };
        let mut response = Error::Unauthorized(self.detail).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Why a caller was not let in: not authenticated (401 with a challenge), or another error
/// (the rate limit, the database out of reach).
#[derive(Debug)]
pub enum Refusal {
    /// No valid token.
    Unauthenticated(Unauthenticated),
    /// Anything else.
    Failed(Error),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthenticated(refusal) => refusal.into_response(),
            Refusal::Failed(error) => error.into_response(),
        }
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Unauthenticated(refusal) => Error::Unauthorized(refusal.detail),
            Refusal::Failed(error) => error,
        }
    }
}

fn unauthenticated(token_sent: bool, detail: &str) -> Refusal {
    Refusal::Unauthenticated(Unauthenticated {
        token_sent,
        detail: detail.to_owned(),
    })
}

/// The credential of an `Authorization` value `Bearer <credential>`: the scheme in any
/// case (RFC 9110 §11.1), the credential without surrounding spaces; `None` for another
/// scheme or none.
pub fn bearer(value: &str) -> Option<&str> {
    value
        .split_once(' ')
        .and_then(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()))
        .filter(|t| !t.is_empty())
}

/// The actor that an `Authorization` value (`Bearer <token>`) stands for now, or why none:
/// the token verified, its partner live. Not counted against the rate limit (see
/// [`admit`]); a connection held open re-checks its token with this before it serves more.
pub async fn authenticate(
    state: &AppState,
    authorization: Option<&str>,
    request_id: Option<String>,
) -> Result<Actor, Refusal> {
    let Some(value) = authorization else {
        crate::prometheus::token_refused("missing");
        return Err(unauthenticated(
            false,
            "an access token is required: send Authorization: Bearer <token> (get one at /oauth/token)",
        ));
    };
    let token = bearer(value).ok_or_else(|| {
        crate::prometheus::token_refused("malformed");
        unauthenticated(true, "the Authorization header must be Bearer <token>")
    })?;
    let verified = verify(
        &state.keys,
        &state.external_issuers,
        &state.db,
        &state.issuer,
        &state.audience,
        token,
    )
    .await
    .map_err(|invalid| {
        crate::prometheus::token_refused("invalid");
        unauthenticated(true, invalid.0)
    })?;
    let actor = match &verified.subject {
        Subject::Partner(id) => {
            partners::actor(&state.db, *id, verified.scopes.as_deref(), request_id).await
        }
        Subject::External { issuer, subject } => {
            partners::external_actor(
                &state.db,
                issuer,
                subject,
                verified.scopes.as_deref(),
                request_id,
            )
            .await
        }
    };
    match actor {
        Ok(Some(actor)) => Ok(actor),
        Ok(None) => {
            crate::prometheus::token_refused("revoked");
            Err(unauthenticated(
                true,
                "the token's partner is revoked or unknown, or not bound to its issuer",
            ))
        }
        Err(error) => Err(Refusal::Failed(error)),
    }
}

/// The actor of a call (a request, or a connection's start): [`authenticate`]d and
/// counted as one call against its partner's rate limit, the standing written to `slot`
/// (the `RateLimit-*` headers) when there is one. Every face makes its actors here.
pub async fn admit(
    state: &AppState,
    authorization: Option<&str>,
    request_id: Option<String>,
    slot: Option<&RateSlot>,
) -> Result<Actor, Refusal> {
    let actor = authenticate(state, authorization, request_id).await?;
    tracing::Span::current().record("partner", tracing::field::display(actor.partner_id));
    let checked = state.api_limits.check(actor.partner_id);
    let info = match &checked {
        Ok(info) | Err((info, _)) => *info,
    };
    if let Some(slot) = slot {
        slot.set(info);
    }
    match checked {
        Ok(_) => Ok(actor),
        Err((_, retry_after)) => {
            state.api_limits.tidy();
            Err(Refusal::Failed(Error::RateLimited { retry_after }))
        }
    }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = Response;

    /// The verified actor, counted against its partner's rate limit ([`admit`]).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let authorization = match parts.headers.get(header::AUTHORIZATION) {
            Some(value) => Some(value.to_str().map_err(|_| {
                unauthenticated(true, "the Authorization header must be Bearer <token>")
                    .into_response()
            })?),
            None => None,
        };
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let slot = parts.extensions.get::<RateSlot>().cloned();
        admit(state, authorization, request_id, slot.as_ref())
            .await
            .map_err(IntoResponse::into_response)
    }
}
