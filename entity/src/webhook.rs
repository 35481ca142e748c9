//! `webhooks`: Webhook subscriptions of partners.

use sea_orm::entity::prelude::*;

/// A row of `webhooks`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub partner_id: Uuid,
    pub url: String,
    #[sea_orm(column_type = "Text")]
    pub types: String,
    pub secret: String,
    /// How deliveries are signed: `leernet` or `standard-webhooks`.
    pub signature: String,
    pub active: bool,
    pub consecutive_failures: i32,
    pub disabled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    /// The scopes of the token that registered it (none: its partner's own).
    #[sea_orm(column_type = "Text", nullable)]
    pub scopes: Option<String>,
}

/// Relations are resolved by the service layer with explicit, batched queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
