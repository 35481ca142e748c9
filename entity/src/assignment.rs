//! `assignments`: Student assignments, as LMSs pull them.

use sea_orm::entity::prelude::*;

/// A row of `assignments`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "assignments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub learning_outcomes: Option<String>,
    pub network_id: Option<Uuid>,
    pub initiative_id: Option<Uuid>,
    pub region_id: Option<Uuid>,
    pub host_organization_id: Option<Uuid>,
    pub ects: Option<f64>,
    pub hours_estimate: Option<i32>,
    pub starts_on: Option<Date>,
    pub ends_on: Option<Date>,
    pub application_deadline: Option<Date>,
    pub capacity: Option<i32>,
    pub status: String,
    pub contact: Option<String>,
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
