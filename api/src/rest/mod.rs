//! The HTTP face: REST's routes, and the rules every response follows, the other faces'
//! too (problem+json errors, request ids, security headers, rate-limit headers, timeouts).

mod audit;
mod body;
pub mod changes;
pub mod collection;
pub mod extract;
mod health;
pub mod oauth;
pub mod openapi;
pub mod resources;
pub mod stats;
pub mod webhooks;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::IntoResponse;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{Error, Problem};
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: REST's routes and `faces` (GraphQL's, and `/metrics` behind its
/// token, which `crate::app` adds), with the middleware every response passes.
pub fn app(state: AppState, faces: Router<AppState>) -> Router {
    let timeout: Duration = state.config.request_timeout.into();
    let body_timeout: Duration = state.config.body_read_timeout.into();
    let max_body = state.config.max_body_size;
    let cors = cors(&state.config.cors_allow_origins);
    let hsts = state.config.hsts;
    let running = Arc::new(Semaphore::new(state.config.max_concurrent_requests));
    let (resources, mut api) = openapi::documented(max_body.saturating_mul(16));
    openapi::set_contact(
        &mut api,
        &state.config.contact_url(&state.issuer),
        Some(&state.config.api_contact_email),
    );
    let router = Router::new()
        .merge(health::routes())
        .merge(oauth::routes())
        .merge(resources)
        .merge(faces)
        .merge(openapi::routes(api))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::Extension(extract::BodyLimit(max_body)))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("api-version"),
            HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            move |_: &Response| hsts.then(|| HeaderValue::from_static("max-age=31536000")),
        ))
        .layer(axum::middleware::from_fn(crate::auth::ratelimit::headers))
        .layer(axum::middleware::from_fn(server_timing))
        .layer(axum::middleware::from_fn(crate::prometheus::track))
        .layer(CompressionLayer::new().gzip(true).br(true))
        .layer(axum::middleware::from_fn(etag_per_coding))
        .layer(axum::middleware::from_fn(move |request, next| {
            request_timeout(timeout, request, next)
        }))
        .layer(axum::middleware::from_fn(move |request, next| {
            admitted(running.clone(), request, next)
        }))
        .layer(axum::middleware::from_fn(move |request, next| {
            body::deadline(body_timeout, request, next)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<_>| {
                    let request_id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map(MatchedPath::as_str)
                        .unwrap_or("-");
                    // One access-log line per request: the span's fields with the response's
                    // status and latency; the Actor extractor records the partner.
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        route,
                        path = %request.uri().path(),
                        request_id,
                        partner = tracing::field::Empty,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// `Server-Timing: db;dur=<ms>;desc="<n> statements"`: the SQL statements a request ran and
/// their time (transaction control not counted), for a partner who wants to see where a
/// slow answer went and for the tests that hold a query's statements to its shape.
async fn server_timing(request: Request, next: Next) -> Response {
    let (mut response, tally) = crate::service::db::tallied(next.run(request)).await;
    let timing = format!(
        "db;dur={:.1};desc=\"{} statements\"",
        tally.elapsed().as_secs_f64() * 1000.0,
        tally.statements()
    );
    if let Ok(value) = HeaderValue::from_str(&timing) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("server-timing"), value);
    }
    response
}

/// CORS for the configured origins (`*` for any); none configured, no CORS headers (the
/// OpenAPI document sets its own `*`).
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
            REQUEST_ID,
        ])
        // Every header a browser client reads: without this, a cross-origin script sees
        // only the CORS-safelisted ones.
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::LINK,
            header::RETRY_AFTER,
            REQUEST_ID,
            HeaderName::from_static("api-version"),
            HeaderName::from_static("idempotent-replayed"),
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
            HeaderName::from_static("ratelimit-policy"),
            HeaderName::from_static("server-timing"),
        ])
        .max_age(Duration::from_secs(3600));
    Some(if origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        layer.allow_origin(AllowOrigin::list(
            origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()),
        ))
    })
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

/// Gives a compressed representation its own strong entity tag (`"3-gzip"`, `"3-br"`):
/// its bytes differ from the identity one's, and a strong tag names exact bytes. Each is
/// accepted in `If-Match` and `If-None-Match` as the version it carries.
async fn etag_per_coding(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let coding = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .filter(|c| collection::CODINGS.contains(c))
        .map(str::to_owned);
    let tag = response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix('"')?.strip_suffix('"').map(str::to_owned));
    if let (Some(coding), Some(tag)) = (coding, tag)
        && !tag.contains('-')
        && let Ok(value) = HeaderValue::from_str(&format!("\"{tag}-{coding}\""))
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Runs a request if fewer than `--max-concurrent-requests` are running, else answers 503
/// (`overloaded`, `Retry-After: 1`) at once: a client is told to come back rather than left
/// waiting behind work the service cannot do sooner. The health checks always run, so that
/// a load balancer sees a busy instance as alive.
async fn admitted(running: Arc<Semaphore>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/health/") {
        return next.run(request).await;
    }
    let Ok(_permit) = running.clone().try_acquire_owned() else {
        let mut response = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "as many requests are running as this service takes at once (--max-concurrent-requests); retry in a second",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    next.run(request).await
}

/// Answers 503 (problem+json) when a request takes longer than the configured timeout
/// (marked [`body::TimedOut`], which becomes a 408 when the body was still arriving).
async fn request_timeout(timeout: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = Error::Unavailable(format!(
                "the request took longer than {}; retry later",
                humantime::format_duration(timeout)
            ))
            .into_response();
            response.extensions_mut().insert(body::TimedOut);
            response
        }
    }
}
