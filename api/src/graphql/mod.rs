//! The GraphQL face (`/graphql`), for partner applications: a schema built code-first from
//! the DTOs of [`crate::dto`] (one set of types for both faces), whose resolvers call the
//! service layer as REST's handlers do and add no rule of their own.
//!
//! Transport (GraphQL over HTTP): `POST /graphql` with a JSON body (`query`,
//! `operationName`, `variables`), or `GET /graphql?query=...` for queries. A request is
//! authenticated like REST's (the `Actor` from the bearer token: 401 with
//! `WWW-Authenticate` without a valid one) and counted against the partner's rate limit
//! like a REST call. The answer is `application/json`, or
//! `application/graphql-response+json` when the client accepts it, in which case a request
//! that fails before it runs (it does not parse, validate or pass the limits) is a 400.
//! Errors carry `extensions.code` ([`error`]); the limits are [`limits`]. Answers to
//! queries are kept by the change feed's version ([`cache`]).
//!
//! The root query is [`query::Query`]: a connection per collection ([`connection`]), the
//! `Node` interface ([`node`]), look-ups by natural key and `stats`. The types' relations
//! are [`relations`], read in batches per level of the answer. The root mutation is
//! [`mutation::Mutation`]: create, update, delete, upsert and bulk upsert per collection,
//! with the HTTP request's `Idempotency-Key` honoured on creates. The root subscription is
//! the change feed as it commits ([`changes`]), served over the websocket `/graphql/ws`
//! ([`websocket`]).

/// The filter argument's value: the collection's filter, or none given (themes have none).
macro_rules! filter_of {
    () => {
        Default::default()
    };
    ($filter:ident, $Filter:ty) => {
        $filter.unwrap_or_default()
    };
}

mod cache;
mod changes;
mod connection;
mod error;
mod graphiql;
mod limits;
mod mutation;
mod node;
mod persisted;
mod query;
mod relations;
mod websocket;

use async_graphql::{BatchRequest, BatchResponse, Schema};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use crate::auth::ratelimit::RateSlot;
use crate::error::{Error, Problem};
use crate::service::Actor;
use crate::state::AppState;

pub use limits::{Limits, MAX_NESTING};

/// The schema: queries, mutations and the change feed's subscription.
pub type LeernetSchema = Schema<query::Query, mutation::Mutation, changes::Subscription>;

/// The media type of a GraphQL-over-HTTP response.
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// The schema with the limits and introspection setting of `state`'s configuration, its
/// resolvers reaching the service through `state`.
pub fn schema(state: AppState) -> LeernetSchema {
    let config = state.config.clone();
    let builder = Schema::build(
        query::Query::default(),
        mutation::Mutation::default(),
        changes::Subscription,
    );
    // Automatic persisted queries, first: the text of a document sent by its hash is
    // found before anything else sees the request, so its limits and its answer's key are
    // those of its text.
    let builder = match config.graphql_persisted_queries {
        0 => builder,
        entries => builder.extension(persisted::PersistedQueries::new(entries)),
    };
    let builder = builder
        .extension(Limits {
            depth: config.graphql_max_depth,
            complexity: config.graphql_max_complexity,
            aliases: config.graphql_max_aliases,
            root_fields: config.graphql_max_root_fields,
            cost_per_call: config.graphql_cost_per_call,
        })
        // Inside the limits: a kept answer is charged like any other.
        .extension(cache::AnswerCache)
        .data(state);
    if config.graphql_introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema's SDL (the type system, without the service behind it).
pub fn sdl() -> String {
    Schema::build(
        query::Query::default(),
        mutation::Mutation::default(),
        changes::Subscription,
    )
    .finish()
    .sdl()
}

/// The `/graphql` route.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/graphql", get(get_graphql).post(post_graphql))
        .route("/graphql/ws", get(websocket::upgrade))
        .route(
            &format!("{}/{{file}}", graphiql::ASSETS),
            get(graphiql::asset),
        )
        .layer(Extension(schema(state.clone())))
}

/// `POST /graphql`: one operation, or a batch of up to `--graphql-max-batch`.
async fn post_graphql(
    Extension(schema): Extension<LeernetSchema>,
    State(state): State<AppState>,
    actor: Actor,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let slot = request.extensions().get::<RateSlot>().cloned();
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|t| t == "application/json");
    if !json {
        return Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send a GraphQL request as application/json: {\"query\": \"...\"}",
        )
        .into_response();
    }
    // A body declared larger than the limit is refused before any of it is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > state.config.max_body_size as u64) {
        let mut response = Error::TooLarge(
            "the body is larger than this service accepts (--max-body-size)".to_owned(),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    // The body within the service's limit (axum's `DefaultBodyLimit`).
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Error::TooLarge(
                "the body is larger than this service accepts (--max-body-size)".to_owned(),
            )
            .into_response();
        }
        Err(_) => return Error::invalid("body", "could not be read").into_response(),
    };
    let max = state.config.graphql_max_batch;
    let batch_size_error = |got: usize| {
        Error::invalid(
            "body",
            if max == 0 {
                "is a batch (a list of requests), which this service does not take (--graphql-max-batch): send one request at a time".to_owned()
            } else {
                format!("must hold 1 to {max} requests (--graphql-max-batch), got {got}")
            },
        )
        .into_response()
    };
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(_)
            if serde_json::from_slice::<Vec<serde_json::Value>>(&body)
                .is_ok_and(|items| items.is_empty()) =>
        {
            return batch_size_error(0);
        }
        Err(error) => {
            return Error::invalid(
                "body",
                format!("is not a GraphQL request ({{\"query\": \"...\", \"variables\": {{...}}}}): {error}"),
            )
            .into_response();
        }
    };
    if let BatchRequest::Batch(requests) = &batch {
        if requests.is_empty() || requests.len() > max {
            return batch_size_error(requests.len());
        }
        // The request itself was counted when the actor was made; each further operation
        // counts as another call, and the `RateLimit-*` headers say where that leaves it.
        for _ in 1..requests.len() {
            let checked = state.api_limits.check(actor.partner_id);
            if let (Some(slot), Ok(info) | Err((info, _))) = (&slot, &checked) {
                slot.set(*info);
            }
            if let Err((_, retry_after)) = checked {
                return Error::RateLimited { retry_after }.into_response();
            }
        }
    }
    let mut batch = batch;
    if let Some(key) = headers.get("idempotency-key") {
        match key.to_str() {
            Ok(key) => batch = batch.data(mutation::IdempotencyKey(key.to_owned())),
            Err(_) => {
                return Error::invalid("Idempotency-Key", "must be visible ASCII").into_response();
            }
        }
    }
    if let Some(slot) = slot {
        batch = batch.data(slot);
    }
    let loaders = relations::loaders(&state, &actor);
    let answer = match batch.data(actor).data(loaders) {
        BatchRequest::Single(request) => BatchResponse::Single(schema.execute(request).await),
        // One after another, in the order sent (async-graphql runs a batch's operations at
        // once): an operation after a mutation sees its write.
        BatchRequest::Batch(requests) => {
            let mut answers = Vec::with_capacity(requests.len());
            for request in requests {
                answers.push(schema.execute(request).await);
            }
            BatchResponse::Batch(answers)
        }
    };
    respond(&headers, &answer)
}

/// `GET /graphql?query=...`: a query (a mutation is refused with 405: a GET must not change
/// anything); from a browser without a query, GraphiQL ([`graphiql`]).
async fn get_graphql(
    Extension(schema): Extension<LeernetSchema>,
    State(state): State<AppState>,
    request: Request,
) -> Response {
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    if graphiql::wanted(&headers, uri.query()) {
        return graphiql::page();
    }
    let slot = request.extensions().get::<RateSlot>().cloned();
    let (mut parts, _) = request.into_parts();
    let actor = match Actor::from_request_parts(&mut parts, &state).await {
        Ok(actor) => actor,
        Err(refusal) => return refusal,
    };
    let mut request = match async_graphql::http::parse_query_string(uri.query().unwrap_or_default())
    {
        Ok(request) => request,
        Err(error) => {
            return Error::invalid(
                "query",
                format!("is not a GraphQL request (query, operationName, variables): {error}"),
            )
            .into_response();
        }
    };
    if let Some(slot) = slot {
        request = request.data(slot);
    }
    let loaders = relations::loaders(&state, &actor);
    let answer = schema
        .execute(request.data(actor).data(loaders).data(limits::ReadOnly))
        .await;
    // The limits refuse anything but a query when the request is read-only (a persisted
    // document is known only once its hash is looked up): 405.
    if answer.errors.iter().any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .is_some_and(|code| *code == async_graphql::Value::from("method_not_allowed"))
    }) {
        return method_not_allowed();
    }
    respond(&headers, &BatchResponse::Single(answer))
}

/// A mutation sent with GET: 405, naming the method to use.
fn method_not_allowed() -> Response {
    let mut response = Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "only queries may be sent with GET; send a mutation with POST",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// The answer as JSON: `application/graphql-response+json` when the client accepts it (a
/// request that failed before it ran is then a 400), else `application/json` with 200.
fn respond(headers: &HeaderMap, answer: &BatchResponse) -> Response {
    let accepts_graphql = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains(GRAPHQL_RESPONSE));
    let body = match serde_json::to_vec(answer) {
        Ok(body) => body,
        Err(error) => return Error::internal(error).into_response(),
    };
    let not_run = match answer {
        BatchResponse::Single(response) => {
            response.data == async_graphql::Value::Null
                && !response.errors.is_empty()
                && response.errors.iter().all(|e| e.path.is_empty())
        }
        BatchResponse::Batch(_) => false,
    };
    let (status, media_type) = if accepts_graphql {
        let status = if not_run {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        (status, GRAPHQL_RESPONSE)
    } else {
        (StatusCode::OK, "application/json")
    };
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    /// Every resource is a `Node` with a global `id: ID!` and its row's UUID as `rowId`,
    /// and every collection is a connection at the root.
    #[test]
    fn resources_are_nodes_and_collections_are_connections() {
        let sdl = super::sdl();
        macro_rules! dtos {
            ($($R:ident => $Dto:ident;)+) => {
                [$(stringify!($Dto)),+]
            };
        }
        for resource in crate::collections!(dtos) {
            let start = sdl
                .find(&format!("type {resource} implements Node"))
                .unwrap_or_else(|| panic!("{resource} is a Node:\n{sdl}"));
            let body = &sdl[start..start + sdl[start..].find('}').expect("a body")];
            assert!(body.contains("\tid: ID!"), "{body}");
            assert!(body.contains("\trowId: UUID!"), "{body}");
            assert!(
                sdl.contains(&format!("type {resource}Connection")),
                "{resource}"
            );
        }
        assert!(
            !sdl.contains("type Meta "),
            "Meta is flattened into each resource"
        );
        assert!(sdl.contains("LIVING_LAB"), "enums in GraphQL's case");
    }
}
