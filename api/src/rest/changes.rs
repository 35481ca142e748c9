//! The change feed over REST (`sync.md`): `GET /api/v1/changes` pages through every
//! committed change in commit order, filtered in the query by type and by what the partner
//! may see; `GET /api/v1/changes/newest` is where a client starts after reading the
//! collections in full.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{Error, Problem, Result};
use crate::rest::extract::Query;
use crate::service::Actor;
use crate::service::changes::{self, FeedCursor};
use crate::state::AppState;

/// Query parameters of `GET /api/v1/changes`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Continue after this cursor (`nextCursor` of the previous page); from the oldest
    /// retained change without one.
    after: Option<String>,
    /// Entries per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
    /// Only these collections, comma-separated (`practice-examples,assignments`).
    types: Option<String>,
}

/// One change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEntry {
    /// This entry's place in the feed.
    pub cursor: String,
    /// The collection.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The resource.
    pub id: Uuid,
    /// `upsert` or `delete`.
    pub op: String,
    /// Its version after the change.
    pub version: i32,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// The resource as a read returned it then; null for a delete.
    pub data: Option<serde_json::Value>,
}

/// A page of the feed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePage {
    /// Entries in commit order.
    pub items: Vec<ChangeEntry>,
    /// Where to continue: after the last entry (or where this page began, when it is
    /// empty): poll with it.
    pub next_cursor: String,
    /// Whether more entries are already there.
    pub has_more: bool,
}

/// Where the feed ends now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewestCursor {
    /// Follow the feed from here to see only what commits from now on.
    pub cursor: String,
}

fn encode(cursor: FeedCursor) -> String {
    cursor.token()
}

fn decode(text: &str) -> Result<FeedCursor> {
    FeedCursor::from_token(text).ok_or_else(|| {
        Error::invalid(
            "after",
            "is not a cursor of the change feed; pass nextCursor as it is",
        )
    })
}

/// Read the change feed.
#[utoipa::path(get, path = "/api/v1/changes", tag = "changes",
    summary = "Read the change feed",
    description = "Every committed change, in commit order, exactly once: follow `nextCursor`. Drafts are seen by their owner only; a row that turns back into a draft is a delete for everyone else. Deletes are tombstones (`data` null). A cursor older than the retention answers 410: read the collections again, then follow from `/api/v1/changes/newest`.",
    params(ChangesQuery),
    responses(
        (status = 200, description = "A page of changes", body = ChangePage),
        (status = 400, description = "An invalid parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the scope changes:read", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The cursor is older than the retention: resync", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_changes(
    State(state): State<AppState>,
    actor: Actor,
    Query(query): Query<ChangesQuery>,
) -> Result<Response> {
    let after = query.after.as_deref().map(decode).transpose()?;
    let types: Vec<&str> = query
        .types
        .as_deref()
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let page =
        changes::read_feed(&state.db, &actor, after, query.limit.unwrap_or(100), &types).await?;
    let next = page.entries.last().map_or(page.from, |e| e.cursor);
    Ok(Json(ChangePage {
        items: page
            .entries
            .into_iter()
            .map(|e| ChangeEntry {
                cursor: encode(e.cursor),
                resource_type: e.resource_type,
                id: e.resource_id,
                op: e.op,
                version: e.version,
                changed_at: e.changed_at,
                data: e.data,
            })
            .collect(),
        next_cursor: encode(next),
        has_more: page.has_more,
    })
    .into_response())
}

/// Where the change feed ends now.
#[utoipa::path(get, path = "/api/v1/changes/newest", tag = "changes",
    summary = "The newest cursor of the change feed",
    description = "After reading the collections in full, follow the feed from this cursor.",
    responses(
        (status = 200, description = "The cursor", body = NewestCursor),
        (status = 403, description = "The token lacks the scope changes:read", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_newest_change(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<Json<NewestCursor>> {
    Ok(Json(NewestCursor {
        cursor: encode(changes::newest(&state.db, &actor).await?),
    }))
}

/// The feed's routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_changes))
        .routes(routes!(get_newest_change))
}
