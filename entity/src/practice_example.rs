//! `practice_examples`: Practice examples ("praktijkvoorbeelden").

use sea_orm::entity::prelude::*;

/// A row of `practice_examples`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "practice_examples")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub year: Option<i32>,
    pub region_id: Option<Uuid>,
    pub network_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub summary: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub context: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub approach: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub why_it_works: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub how_to_apply: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub expected_outcome: Option<String>,
    pub collection: Option<String>,
    pub status: String,
    pub language: String,
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
