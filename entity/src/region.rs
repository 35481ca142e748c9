//! `regions`: The region tree (country → province → municipality → area → district → neighbourhood), with CBS codes where real.

use sea_orm::entity::prelude::*;

/// A row of `regions`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "regions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub code: Option<String>,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<Uuid>,
    pub deprived: bool,
    pub population: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
    pub deleted_at: Option<DateTimeUtc>,
    pub owner_partner_id: Uuid,
    pub external_id: Option<String>,
}

/// Relations are resolved by the service layer with explicit, batched queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
