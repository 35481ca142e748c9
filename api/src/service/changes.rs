//! The write side of the change feed and the audit log.
//!
//! Every write in the service layer calls [`record`] inside its transaction, so an entry
//! exists exactly when the write committed. The feed's read side (ordering by the writer's
//! transaction id on PostgreSQL, see `sync.md`) lives with the sync code.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, NotSet};
use uuid::Uuid;

use crate::error::Result;
use crate::service::Actor;
use crate::service::db::map_db_err;

/// What a write did, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new resource.
    Create,
    /// A changed resource.
    Update,
    /// A soft-deleted resource.
    Delete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// One committed change of one resource.
pub struct Change<'a> {
    /// The collection, e.g. `practice-examples`.
    pub resource_type: &'static str,
    /// The resource.
    pub resource_id: Uuid,
    /// What happened.
    pub action: Action,
    /// The resource's version after the write.
    pub version: i32,
    /// When.
    pub at: DateTime<Utc>,
    /// The resource as a GET returns it; `None` for deletes.
    pub data: Option<serde_json::Value>,
    /// Who.
    pub actor: &'a Actor,
}

/// Appends the change-log entry and the audit entry of one write, in the caller's transaction.
pub async fn record<C: ConnectionTrait>(conn: &C, change: Change<'_>) -> Result<()> {
    let op = if change.action == Action::Delete {
        "delete"
    } else {
        "upsert"
    };
    entity::change::ActiveModel {
        seq: NotSet,
        tx_id: NotSet,
        resource_type: Set(change.resource_type.to_owned()),
        resource_id: Set(change.resource_id),
        op: Set(op.to_owned()),
        version: Set(change.version),
        changed_at: Set(change.at),
        partner_id: Set(Some(change.actor.partner_id)),
        data: Set(change.data),
    }
    .insert(conn)
    .await
    .map_err(map_db_err)?;
    entity::audit::ActiveModel {
        id: NotSet,
        at: Set(change.at),
        partner_id: Set(Some(change.actor.partner_id)),
        action: Set(change.action.as_str().to_owned()),
        resource_type: Set(change.resource_type.to_owned()),
        resource_id: Set(change.resource_id),
        version: Set(change.version),
        request_id: Set(change.actor.request_id.clone()),
    }
    .insert(conn)
    .await
    .map_err(map_db_err)?;
    Ok(())
}
