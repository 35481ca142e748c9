//! Reading the audit log (admins only): who wrote what, when, in which request.

use chrono::{DateTime, Utc};
use entity::audit;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::service::Actor;
use crate::service::db::map_db_err;
use crate::service::resource::check_limit;

/// Which audit entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Written by this partner.
    pub partner_id: Option<Uuid>,
    /// Of this collection (`practice-examples`).
    pub resource_type: Option<String>,
    /// Of this resource.
    pub resource_id: Option<Uuid>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// One audit entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Its position in the log (the keyset cursor).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// The partner that wrote.
    pub partner_id: Option<Uuid>,
    /// `create`, `update` or `delete`.
    pub action: String,
    /// The collection.
    pub resource_type: String,
    /// The resource.
    pub resource_id: Uuid,
    /// Its version after the write.
    pub version: i32,
    /// The request that wrote it.
    pub request_id: Option<String>,
}

/// A page of the audit log, newest last.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    /// The entries.
    pub items: Vec<AuditEntry>,
    /// Continue after this id; `None` on the last page.
    pub next_cursor: Option<i64>,
}

/// Up to `limit` entries after `after`, oldest first. Admins only.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &AuditFilter,
    limit: u64,
    after: Option<i64>,
) -> Result<AuditPage> {
    if !actor.is_admin() {
        return Err(Error::MissingScope("admin".to_owned()));
    }
    check_limit(limit)?;
    let mut query = audit::Entity::find();
    if let Some(partner) = filter.partner_id {
        query = query.filter(audit::Column::PartnerId.eq(partner));
    }
    if let Some(kind) = &filter.resource_type {
        query = query.filter(audit::Column::ResourceType.eq(kind.as_str()));
    }
    if let Some(id) = filter.resource_id {
        query = query.filter(audit::Column::ResourceId.eq(id));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit::Column::At.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit::Column::At.lt(to));
    }
    if let Some(after) = after {
        query = query.filter(audit::Column::Id.gt(after));
    }
    let mut rows = query
        .order_by_asc(audit::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await
        .map_err(map_db_err)?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(AuditPage {
        items: rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: r.at,
                partner_id: r.partner_id,
                action: r.action,
                resource_type: r.resource_type,
                resource_id: r.resource_id,
                version: r.version,
                request_id: r.request_id,
            })
            .collect(),
        next_cursor,
    })
}
