//! Prometheus metrics: `GET /metrics` in the text format on an address of its own
//! (`--metrics-addr`, off unless set), so that it is never served to partners on the API's
//! address, or there to a scraper holding `--metrics-token` ([`routes`]). Recorded with the
//! `metrics` crate and rendered by `metrics-exporter-prometheus`.
//!
//! Counted as things happen: requests by route template, method and status, with their
//! latency ([`track`]); GraphQL operations by name, with their latency and cost
//! ([`graphql_operation`]); rate-limit refusals; tokens issued and refused by reason;
//! webhook deliveries by outcome; the response cache's hits and misses; the time to begin
//! a transaction ([`acquiring`]). Read when scraped ([`scrape`]): the database pool's
//! connections in use and idle and the transactions waiting for one, whether the database
//! answers, the change feed's newest position, each webhook's queue and newest delivered
//! position, and the response cache's entries and bytes.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use sea_orm::DbBackend;

use crate::error::Error;
use crate::service::cache::{position_of, version_of};
use crate::service::changes::FEED_TYPES;
use crate::state::AppState;

/// Latency buckets, in seconds: from a cached answer to the request timeout.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Cost buckets for GraphQL operations (the default limit is 20,000).
const COSTS: &[f64] = &[
    1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1_000.0, 5_000.0, 20_000.0, 100_000.0,
];

/// The most distinct GraphQL operation names kept as labels; later names count as
/// `other`, so that callers cannot grow the metrics without bound.
const MAX_OPERATION_NAMES: usize = 200;

/// The process's recorder: installed on first use, shared by every server of the process.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        // Gauges are set when scraped: one not set for a minute (a deleted webhook's
        // queue) is gone from the output.
        let builder = PrometheusBuilder::new()
            .idle_timeout(MetricKindMask::GAUGE, Some(Duration::from_secs(60)));
        let builder = match builder
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_cost".to_owned()), COSTS))
        {
            Ok(builder) => builder,
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder installed first (none is, in this program) keeps its place.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Installs the recorder (so that counts start at start-up) and, when `addr` is set,
/// serves `/metrics` there until the service stops.
pub async fn serve(state: AppState, addr: Option<SocketAddr>) -> anyhow::Result<()> {
    handle();
    let Some(addr) = addr else {
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (--metrics-addr): {e}"))?;
    tracing::info!(addr = %listener.local_addr().unwrap_or(addr), "metrics at /metrics");
    let mut stopping = state.stopping.subscribe();
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(state);
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::warn!(%error, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// `GET /metrics` on the API's address, when `--metrics-token` is set: for a scraper that
/// sends the token as a bearer credential, compared in constant time; anyone else gets a
/// 401, counted as a refused token. Without the setting the route does not exist (404).
pub fn routes(state: &AppState) -> Router<AppState> {
    if state.config.metrics_token.is_none() {
        return Router::new();
    }
    Router::new().route("/metrics", get(scrape_with_token))
}

async fn scrape_with_token(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(expected) = &state.config.metrics_token else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::extract::bearer)
        .unwrap_or_default();
    let matches = presented.len() == expected.0.len()
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            presented.as_bytes(),
            expected.0.as_bytes(),
        )
        .is_ok();
    if !matches {
        token_refused("metrics");
        let mut response = Error::Unauthorized(
            "the metrics need the scraper's token (--metrics-token) as `Authorization: Bearer <token>`".to_owned(),
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"leernet-metrics\""),
        );
        return response;
    }
    scrape(State(state)).await
}

/// `GET /metrics`: what was counted, with the pool, the feed and the cache read now.
async fn scrape(State(state): State<AppState>) -> Response {
    let (size, idle) = match state.db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = state.db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DbBackend::Sqlite => {
            let pool = state.db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    metrics::gauge!("leernet_db_pool_connections", "state" => "in_use")
        .set(f64::from(size.saturating_sub(idle)));
    metrics::gauge!("leernet_db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("leernet_db_pool_waiting").set(WAITING.load(Ordering::Relaxed).max(0) as f64);
    metrics::gauge!("leernet_db_pool_max_connections").set(f64::from(
        state
            .config
            .db
            .options()
            .map_or(0, |options| options.max_connections),
    ));
    match version_of(&state.db, FEED_TYPES).await {
        Ok(version) => {
            metrics::gauge!("leernet_feed_head_position").set(position_of(version) as f64);
            metrics::gauge!("leernet_db_up").set(1.0);
        }
        Err(_) => metrics::gauge!("leernet_db_up").set(0.0),
    }
    // A deleted webhook's gauges are no longer set and leave the output after a minute
    // (the idle timeout above); a scrape that cannot read the queues leaves them as they
    // were.
    match crate::service::webhooks::queues(&state.db).await {
        Err(error) => {
            tracing::debug!(%error, "the webhook queues could not be read for the metrics")
        }
        Ok(queues) => {
            for queue in queues {
                let webhook = queue.webhook_id.to_string();
                metrics::gauge!("leernet_webhook_queue_depth", "webhook" => webhook.clone())
                    .set(queue.pending as f64);
                if let Some(position) = queue.delivered_position {
                    metrics::gauge!("leernet_webhook_delivered_position", "webhook" => webhook)
                        .set(position as f64);
                }
            }
        }
    }
    let cache = state.cache.stats();
    metrics::gauge!("leernet_response_cache_entries").set(cache.entries as f64);
    metrics::gauge!("leernet_response_cache_bytes").set(cache.bytes as f64);
    let mut response = handle().render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Counts a request by its route template (`/api/v1/networks/{id}`, never the path
/// itself), method and status, with its latency.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // A method is any token a client likes: only the standard ones are labels.
    let method = match *request.method() {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::OPTIONS
        | Method::TRACE
        | Method::CONNECT => request.method().as_str().to_owned(),
        _ => "other".to_owned(),
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(
        "leernet_http_request_duration_seconds",
        "route" => route.clone(),
        "method" => method.clone(),
    )
    .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "leernet_http_requests_total",
        "route" => route,
        "method" => method,
        "status" => status,
    )
    .increment(1);
    response
}

/// Counts a GraphQL operation by its name (`anonymous` without one), with its latency and
/// cost (absent when it was refused before it was costed).
pub fn graphql_operation(name: Option<&str>, seconds: f64, cost: Option<usize>) {
    let name = operation_label(name);
    metrics::counter!("leernet_graphql_operations_total", "operation" => name.clone()).increment(1);
    metrics::histogram!("leernet_graphql_operation_duration_seconds", "operation" => name.clone())
        .record(seconds);
    if let Some(cost) = cost {
        metrics::histogram!("leernet_graphql_operation_cost", "operation" => name)
            .record(cost as f64);
    }
}

/// The label of an operation name: the name when it is a GraphQL name of at most 64
/// characters among the first [`MAX_OPERATION_NAMES`] seen, else `other`.
fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = name else {
        return "anonymous".to_owned();
    };
    let valid = name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return "other".to_owned();
    }
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

/// Counts a call refused by the rate limit.
pub fn rate_limited() {
    metrics::counter!("leernet_rate_limit_refusals_total").increment(1);
}

/// Counts an access token issued.
pub fn token_issued(grant: &'static str) {
    metrics::counter!("leernet_tokens_issued_total", "grant" => grant).increment(1);
}

/// Counts a request refused for its token: `missing`, `malformed` (not `Bearer <token>`),
/// `invalid` (signature, issuer, audience, expiry or form), `revoked` (its partner
/// revoked or unknown) or `metrics` (not the scraper's token on `/metrics`).
pub fn token_refused(reason: &'static str) {
    metrics::counter!("leernet_token_refusals_total", "reason" => reason).increment(1);
}

/// Counts a look-up in the response cache: a hit, or a miss (read from the database).
pub fn cache_lookup(hit: bool) {
    if hit {
        metrics::counter!("leernet_response_cache_hits_total").increment(1);
    } else {
        metrics::counter!("leernet_response_cache_misses_total").increment(1);
    }
}

/// Counts a webhook delivery attempt by its outcome.
pub fn webhook_delivery(delivered: bool) {
    let outcome = if delivered { "delivered" } else { "failed" };
    metrics::counter!("leernet_webhook_deliveries_total", "outcome" => outcome).increment(1);
}

/// Transactions waiting for a pooled connection to begin (see [`acquiring`]).
static WAITING: AtomicI64 = AtomicI64::new(0);

/// Waits for a pooled connection to begin a transaction: counted in
/// `leernet_db_pool_waiting` while it waits, its time (the connection's acquisition and
/// `BEGIN`) in `leernet_db_acquire_duration_seconds` once it has one.
pub async fn acquiring<F: Future>(begin: F) -> F::Output {
    /// Leaves the waiting count however the wait ends.
    struct Waiting;
    impl Drop for Waiting {
        fn drop(&mut self) {
            WAITING.fetch_sub(1, Ordering::Relaxed);
        }
    }
    WAITING.fetch_add(1, Ordering::Relaxed);
    let waiting = Waiting;
    let started = Instant::now();
    let output = begin.await;
    drop(waiting);
    metrics::histogram!("leernet_db_acquire_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    output
}

/// What `/metrics` would show of the metrics counted so far in this process (without the
/// values read when scraped).
pub fn render() -> String {
    handle().render()
}
