//! The token endpoint (OAuth 2.0 client credentials, RFC 6749 §4.4), the public keys
//! (`/.well-known/jwks.json`, RFC 7517) and the authorization server metadata
//! (`/.well-known/oauth-authorization-server`, RFC 8414). All public.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::json;

use crate::auth;
use crate::error::Error;
use crate::service::partners;
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata))
}

/// A 429 from the token endpoint, in the OAuth error format with `Retry-After`.
fn slow_down(retry_after: u64) -> Response {
    let mut response = oauth_error(
        StatusCode::TOO_MANY_REQUESTS,
        "slow_down",
        &format!("too many failed token requests; retry after {retry_after} s"),
        false,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// An OAuth error response (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str, basic: bool) -> Response {
    // RFC 6749 §5.2: error_description is printable ASCII without `"` and `\`; what a
    // client sent and is echoed back is held to that too.
    let description: String = description
        .chars()
        .map(|c| match c {
            '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e' => c,
            _ => '?',
        })
        .collect();
    let mut response = (
        status,
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        Json(json!({ "error": error, "error_description": description.as_str() })),
    )
        .into_response();
    if basic {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"leernet\""),
        );
    }
    response
}

/// `client_id:client_secret` from HTTP Basic (each form-urlencoded, RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<Option<(String, String)>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Some(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let pair = decoded.and_then(|d| {
        let (id, secret) = d.split_once(':')?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        };
        Some((decode(id)?, decode(secret)?))
    });
    Some(pair)
}

async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    // A body too large or cut off is an OAuth error too, not the framework's plain text.
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
            // The rest of the body is never read: the connection closes after this answer,
            // and says so, so that a client does not send its next request on it.
            let mut response = oauth_error(
                if too_large {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                },
                "invalid_request",
                if too_large {
                    "the request body is larger than this service accepts"
                } else {
                    "the request body could not be read"
                },
                false,
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !form_type {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send the parameters as application/x-www-form-urlencoded",
            false,
        );
    }
    let mut params: HashMap<String, String> = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(&body) {
        if params
            .insert(key.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("the parameter {key} is given more than once"),
                false,
            );
        }
    }
    match params.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
                false,
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required (client_credentials)",
                false,
            );
        }
    }
    let basic = basic_credentials(&headers);
    let in_form = (params.get("client_id"), params.get("client_secret"));
    let (client_id, secret, by_basic) = match (basic, in_form) {
        (Some(Some(_)), (Some(_), _) | (_, Some(_))) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send the client credentials once: by HTTP Basic or in the form, not both",
                false,
            );
        }
        (Some(Some((id, secret))), _) => (id, secret, true),
        (Some(None), _) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "the Authorization header must be Basic with the client id and secret",
                true,
            );
        }
        (None, (Some(id), Some(secret))) => (id.clone(), secret.clone(), false),
        (None, _) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required: HTTP Basic, or client_id and client_secret in the form",
                true,
            );
        }
    };
    if let Some(wait) = state.token_failures.blocked_for(&client_id, peer.ip()) {
        return slow_down(wait);
    }
    // The limits are checked again once a core is free: failures counted while this
    // request waited count against it before its secret is hashed.
    let checked = match partners::hash_permit().await {
        Ok(permit) => match state.token_failures.blocked_for(&client_id, peer.ip()) {
            Some(wait) => return slow_down(wait),
            None => partners::authenticate(&state.db, &permit, &client_id, &secret).await,
        },
        Err(error) => Err(error),
    };
    let partner = match checked {
        Ok(Some(partner)) => partner,
        Ok(None) => {
            state.token_failures.failed(&client_id, peer.ip());
            if let Some(wait) = state.token_failures.client_blocked_for(&client_id) {
                return slow_down(wait);
            }
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "the client id or secret is wrong, or the client is revoked",
                by_basic,
            );
        }
        Err(Error::Busy) => {
            let mut response = oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many token requests are being checked right now; retry after 1 s",
                false,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            return response;
        }
        Err(error) => return error.into_response(),
    };
    let (partner_id, held) = partner;
    let scopes: Vec<String> = match params.get("scope") {
        None => held,
        Some(asked) => {
            let asked: Vec<String> = asked.split_whitespace().map(str::to_owned).collect();
            if let Some(extra) = asked.iter().find(|s| !held.contains(s)) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!("{extra} is not a scope this client holds"),
                    false,
                );
            }
            asked
        }
    };
    let issued = match auth::issue(
        &state.keys,
        &state.db,
        &state.issuer,
        &state.audience,
        partner_id,
        &scopes,
        state.config.token_ttl.into(),
        Some(client_id),
    )
    .await
    {
        Ok(issued) => issued,
        Err(error) => return error.into_response(),
    };
    crate::prometheus::token_issued("client_credentials");
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        Json(json!({
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        })),
    )
        .into_response()
}

/// The published keys, from memory (refreshed first when stale, within a bound): they
/// keep being served while the database is down.
async fn jwks(State(state): State<AppState>) -> Response {
    state.keys.refresh_if_stale(&state.db).await;
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        )],
        Json(state.keys.jwks().await),
    )
        .into_response()
}

async fn metadata(State(state): State<AppState>) -> Response {
    let issuer = state.issuer.trim_end_matches('/');
    Json(json!({
        "issuer": state.issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        // RFC 8414 requires the list; with no authorization endpoint, the only response
        // type is "none" (OAuth 2.0 Multiple Response Type Encoding Practices).
        "response_types_supported": ["none"],
        "scopes_supported": auth::supported_scopes(),
    }))
    .into_response()
}
