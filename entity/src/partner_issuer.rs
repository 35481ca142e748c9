//! `partner_issuers`: the partner an external identity provider's subject may act as.

use sea_orm::entity::prelude::*;

/// A row of `partner_issuers`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_issuers")]
pub struct Model {
    /// The issuer (`iss`) as configured.
    #[sea_orm(primary_key, auto_increment = false)]
    pub issuer: String,
    /// The value of the issuer's partner claim.
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    pub partner_id: Uuid,
    /// Whether tokens through this binding may use the partner's `admin` scope.
    pub admin: bool,
    pub created_at: DateTimeUtc,
}

/// Relations are resolved by the service layer with explicit, batched queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
