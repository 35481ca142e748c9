//! The token endpoint (OAuth 2.0 client credentials, RFC 6749 §4.4), the public keys
//! (`/.well-known/jwks.json`, RFC 7517) and the authorization server metadata
//! (`/.well-known/oauth-authorization-server`, RFC 8414). All public.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
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

/// Failed token requests allowed per client id and per address, before 429.
pub struct FailureLimits {
    by_client: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    blocked: Mutex<HashMap<String, Instant>>,
}

impl FailureLimits {
    /// `per_minute` failures per client id, four times as many per address (several
    /// clients may share a gateway).
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let per_address = per_minute.saturating_mul(NonZeroU32::new(4).unwrap_or(NonZeroU32::MIN));
        Self {
            by_client: RateLimiter::keyed(Quota::per_minute(per_minute)),
            by_address: RateLimiter::keyed(Quota::per_minute(per_address)),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    fn keys(client_id: &str, address: IpAddr) -> [String; 2] {
        [format!("client {client_id}"), format!("address {address}")]
    }

    /// Seconds until `client_id` from `address` may try again, if it is blocked now.
    fn blocked_for(&self, client_id: &str, address: IpAddr) -> Option<u64> {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        Self::keys(client_id, address)
            .iter()
            .filter_map(|k| blocked.get(k))
            .filter(|until| **until > now)
            .map(|until| until.duration_since(now).as_secs().max(1))
            .max()
    }

    /// Counts a failure; blocks the client id or address that has used up its allowance.
    fn failed(&self, client_id: &str, address: IpAddr) {
        let waits = [
            self.by_client.check_key(&client_id.to_owned()).err(),
            self.by_address.check_key(&address).err(),
        ];
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if blocked.len() > 10_000 {
            blocked.retain(|_, until| *until > now);
        }
        for (key, wait) in Self::keys(client_id, address).into_iter().zip(waits) {
            if let Some(not_until) = wait {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                blocked.insert(key, now + wait.max(Duration::from_secs(1)));
            }
        }
        self.by_client.retain_recent();
        self.by_address.retain_recent();
    }
}

/// An OAuth error response (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str, basic: bool) -> Response {
    let mut response = (
        status,
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        Json(json!({ "error": error, "error_description": description })),
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
    body: Bytes,
) -> Response {
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
        return Error::RateLimited { retry_after: wait }.into_response();
    }
    let partner = match partners::authenticate(&state.db, &client_id, &secret).await {
        Ok(Some(partner)) => partner,
        Ok(None) => {
            state.token_failures.failed(&client_id, peer.ip());
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "the client id or secret is wrong, or the client is revoked",
                by_basic,
            );
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
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"],
        "response_types_supported": [],
        "scopes_supported": auth::supported_scopes(),
    }))
    .into_response()
}
