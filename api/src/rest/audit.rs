//! `GET /api/v1/audit`: the audit log, for admins.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{Problem, Result};
use crate::rest::extract::Query;
use crate::service::Actor;
use crate::service::audit::{self, AuditFilter, AuditPage};
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// Query parameters of `GET /api/v1/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Written by this partner.
    partner_id: Option<Uuid>,
    /// Of this collection (`practice-examples`, `webhooks`, ...).
    resource_type: Option<String>,
    /// Of this resource.
    resource_id: Option<Uuid>,
    /// At or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// Entries per page: 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u64>,
    /// Continue after this entry (`nextCursor` of the previous page).
    cursor: Option<i64>,
}

/// The audit log.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    summary = "Read the audit log",
    description = "Who wrote what and when, oldest first: every write of every partner with its action, resource, version and request id. Admins only (scope `admin`).",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries; follow `nextCursor`", body = AuditPage),
        (status = 403, description = "The token lacks the scope admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_audit(
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
