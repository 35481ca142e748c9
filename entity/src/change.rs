//! `change_log`: The change feed: one entry per changed resource, written in the same transaction as the change.

use sea_orm::entity::prelude::*;

/// A row of `change_log`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "change_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The feed position: the committing transaction's tick of `feed_clock`.
    pub position: i64,
    pub resource_type: String,
    pub resource_id: Uuid,
    pub op: String,
    pub version: i32,
    pub changed_at: DateTimeUtc,
    pub partner_id: Option<Uuid>,
    /// The changed row's owner.
    pub owner_partner_id: Option<Uuid>,
    /// `public`, or `owner` (a draft: its owner and admins only).
    pub audience: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Option<Json>,
}

/// Relations are resolved by the service layer with explicit, batched queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
