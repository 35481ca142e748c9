//! Retention of the change log: `feed_clock` remembers the last entry pruned (its position
//! and seq), so that a reader whose cursor lies before it is told to resync (410) rather
//! than silently missing what was pruned.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// See the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["pruned_position", "pruned_seq"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("feed_clock")
                        .add_column(big_integer(column).default(0))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["pruned_position", "pruned_seq"] {
            manager
                .get_connection()
                .execute_unprepared(&format!("ALTER TABLE feed_clock DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}
