//! The one verifier: an axum extractor that turns `Authorization: Bearer <token>` into the
//! [`Actor`] a handler passes to the service layer. REST handlers take it as an argument;
//! the GraphQL context builds its actor with [`actor_from_headers`].
//!
//! Every failure is a 401 problem with `WWW-Authenticate: Bearer` (RFC 6750): with
//! `error="invalid_token"` when a token was sent and refused, without an error code when
//! none was sent. The detail says what is wrong in terms that do not help an attacker.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
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

/// The actor of a request with these headers, or why not.
pub async fn actor_from_headers(state: &AppState, headers: &HeaderMap) -> Result<Actor, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Unauthenticated {
            token_sent: false,
            detail: "an access token is required: send Authorization: Bearer <token> (get one at /oauth/token)".to_owned(),
        }
        .into_response());
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Unauthenticated {
                token_sent: true,
                detail: "the Authorization header must be Bearer <token>".to_owned(),
            }
            .into_response()
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
        Unauthenticated {
            token_sent: true,
            detail: invalid.0.to_owned(),
        }
        .into_response()
    })?;
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
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
        Ok(None) => Err(Unauthenticated {
            token_sent: true,
            detail: "the token's partner is revoked or unknown, or not bound to its issuer"
                .to_owned(),
        }
        .into_response()),
        Err(error) => Err(error.into_response()),
    }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = Response;

    /// The verified actor, counted against its partner's rate limit.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let actor = actor_from_headers(state, &parts.headers).await?;
        tracing::Span::current().record("partner", tracing::field::display(actor.partner_id));
        let slot = parts.extensions.get::<RateSlot>().cloned();
        match state.api_limits.check(actor.partner_id) {
            Ok(info) => {
                if let Some(slot) = slot {
                    slot.set(info);
                }
                Ok(actor)
            }
            Err((info, retry_after)) => {
                if let Some(slot) = slot {
                    slot.set(info);
                }
                state.api_limits.tidy();
                Err(Error::RateLimited { retry_after }.into_response())
            }
        }
    }
}
