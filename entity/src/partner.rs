//! `partners`: API clients (machines): kind, scopes, and whether they must send `If-Match`.

use sea_orm::entity::prelude::*;

/// A row of `partners`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "partners")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub scopes: String,
    pub require_if_match: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// Writes anywhere its scopes allow; otherwise only inside its regions and networks.
    pub unconfined: bool,
}

/// Relations are resolved by the service layer with explicit, batched queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
