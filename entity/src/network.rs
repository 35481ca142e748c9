//! `networks`: Networks: living labs, learning networks, innovation workplaces.

use sea_orm::entity::prelude::*;

/// A row of `networks`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "networks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub summary: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub status: String,
    pub start_year: Option<i32>,
    pub end_year: Option<i32>,
    pub progress_percent: Option<i32>,
    pub project_number: Option<String>,
    pub funder_id: Option<Uuid>,
    pub funding_round: Option<String>,
    pub lead_organization_id: Option<Uuid>,
    pub project_leader: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub meeting_place: Option<String>,
    pub parent_network_id: Option<Uuid>,
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
