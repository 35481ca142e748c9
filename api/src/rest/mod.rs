//! The HTTP face: routes, and the rules every response follows (problem+json errors,
//! request ids, security headers).

mod health;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::response::IntoResponse;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::Error;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: every route with its middleware.
pub fn app(state: AppState) -> Router {
    let timeout = state.config.request_timeout.into();
    Router::new()
        .merge(health::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("api-version"),
            HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let request_id = request
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
        }))
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
