//! Leernet's schema migrations. Each migration is a file `mYYYYMMDD_HHMMSS_<what>.rs` and runs
//! unchanged on SQLite and PostgreSQL; once released, a migration is never edited, only
//! followed by a new one.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_initial;

/// Applies Leernet's migrations in order (`leernet migrate`, and `leernet serve` on start).
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261124_000001_initial::Migration)]
    }
}
