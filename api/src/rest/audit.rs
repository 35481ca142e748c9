//! `GET /api/v1/audit`: the audit log, for admins.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::Result;
use crate::rest::extract::Query;
use crate::service::Actor;
use crate::service::audit::{self, AuditFilter, AuditPage};
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/audit", get(list_audit))
}

/// Query parameters of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQuery {
    partner_id: Option<Uuid>,
    resource_type: Option<String>,
    resource_id: Option<Uuid>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<u64>,
    cursor: Option<i64>,
}

async fn list_audit(
    State(state): State<AppState>,
    actor: Actor,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>> {
    let filter = AuditFilter {
        partner_id: query.partner_id,
        resource_type: query.resource_type,
        resource_id: query.resource_id,
        from: query.from,
        to: query.to,
    };
    audit::list(
        &state.db,
        &actor,
        &filter,
        query.limit.unwrap_or(50),
        query.cursor,
    )
    .await
    .map(Json)
}
