//! The HTTP face: routes, and the rules every response follows (problem+json errors,
//! request ids, security headers).

mod audit;
pub mod collection;
pub mod extract;
mod health;
pub mod oauth;
pub mod openapi;
pub mod ratelimit;
pub mod resources;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::response::IntoResponse;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::Error;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: every route with its middleware.
pub fn app(state: AppState) -> Router {
    let timeout: Duration = state.config.request_timeout.into();
    let max_body = state.config.max_body_size;
    let (resources, api) = openapi::documented();
    Router::new()
        .merge(health::routes())
        .merge(oauth::routes())
        .merge(audit::routes())
        .merge(resources)
        .merge(openapi::routes(api))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("api-version"),
            HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
        ))
        .layer(axum::middleware::from_fn(ratelimit::headers))
        .layer(axum::middleware::from_fn(move |request, next| {
            request_timeout(timeout, request, next)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let request_id = request
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO)))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

async fn not_found(uri: Uri) -> impl IntoResponse {
    let mut problem = Error::NotFound {
        resource: "path",
        key: uri.path().to_owned(),
    }
    .problem();
    problem.detail = format!(
        "there is no resource at {}; paths are exact (no trailing slash)",
        uri.path()
    );
    problem.instance = Some(uri.path().to_owned());
    problem
}

async fn method_not_allowed(method: Method, uri: Uri) -> impl IntoResponse {
    let mut problem = Error::NotFound {
        resource: "path",
        key: uri.path().to_owned(),
    }
    .problem();
    problem.status = 405;
    problem.title = "Method Not Allowed".to_owned();
    problem.r#type = "urn:leernet:problem:method_not_allowed".to_owned();
    problem.code = "method_not_allowed";
    problem.detail = format!(
        "{method} is not allowed on {}; see the Allow header",
        uri.path()
    );
    problem.instance = Some(uri.path().to_owned());
    problem
}

/// Answers 503 (problem+json) when a request takes longer than the configured timeout.
async fn request_timeout(timeout: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Error::Unavailable(format!(
            "the request took longer than {}; retry later",
            humantime::format_duration(timeout)
        ))
        .into_response(),
    }
}
