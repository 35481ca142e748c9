//! Leernet's schema migrations. Each migration is a file `mYYYYMMDD_HHMMSS_<what>.rs` and runs
//! unchanged on SQLite and PostgreSQL; once released, a migration is never edited, only
//! followed by a new one.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_initial;
mod m20261126_000001_feed_position;
mod m20261126_000002_search_indexes;
mod m20261126_000003_feed_retention;
mod m20261126_000004_webhook_lease;
mod m20261126_000005_webhook_queue_head;
mod m20261201_000001_partner_issuers;
mod m20261202_000001_webhook_signature;
mod m20261202_000002_webhook_scopes;
mod m20261203_000001_read_path;
mod m20261204_000001_feed_sequencer;
mod m20261205_000001_region_rows;
mod m20261207_000001_network_rows;
pub mod rebuild;
pub mod search;

/// Applies Leernet's migrations in order (`leernet migrate`, and `leernet serve` on start).
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_initial::Migration),
            Box::new(m20261126_000001_feed_position::Migration),
            Box::new(m20261126_000002_search_indexes::Migration),
            Box::new(m20261126_000003_feed_retention::Migration),
            Box::new(m20261126_000004_webhook_lease::Migration),
            Box::new(m20261126_000005_webhook_queue_head::Migration),
            Box::new(m20261201_000001_partner_issuers::Migration),
            Box::new(m20261202_000001_webhook_signature::Migration),
            Box::new(m20261202_000002_webhook_scopes::Migration),
            Box::new(m20261203_000001_read_path::Migration),
            Box::new(m20261204_000001_feed_sequencer::Migration),
            Box::new(m20261205_000001_region_rows::Migration),
            Box::new(m20261207_000001_network_rows::Migration),
        ]
    }
}
