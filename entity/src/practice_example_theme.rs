//! `practice_example_themes`: Themes of a practice example.

use sea_orm::entity::prelude::*;

/// A row of `practice_example_themes`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "practice_example_themes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub practice_example_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub theme_id: Uuid,
}

/// Relations are resolved by the service layer with explicit, batched queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
