//! The feed's positions are stamped after commit (PostgreSQL).
//!
//! A write transaction inserts its change-log entries without a position and commits;
//! a stamping transaction then gives every committed, unstamped entry the next position
//! (`api::service::changes`), so that writers no longer queue behind one another on the
//! feed clock until their commits. `position` may therefore be NULL for a moment, and a
//! partial index finds the entries that wait for one. SQLite, whose writers run one at a
//! time anyway, still stamps inside the write and is left as it is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// See the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        // No default either: an entry without a position is one that waits for it.
        db.execute_unprepared(
            "ALTER TABLE change_log ALTER COLUMN position DROP NOT NULL, \
               ALTER COLUMN position DROP DEFAULT",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX ix_change_log_unstamped ON change_log (resource_type, seq) \
             WHERE position IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        // Entries still waiting get one position of their own, after every other.
        db.execute_unprepared(
            "WITH c AS (UPDATE feed_clock SET n = n + 1 WHERE id = 1 \
               AND EXISTS (SELECT 1 FROM change_log WHERE position IS NULL) RETURNING n) \
             UPDATE change_log SET position = c.n FROM c WHERE change_log.position IS NULL",
        )
        .await?;
        db.execute_unprepared("DROP INDEX ix_change_log_unstamped")
            .await?;
        db.execute_unprepared(
            "ALTER TABLE change_log ALTER COLUMN position SET NOT NULL, \
               ALTER COLUMN position SET DEFAULT 0",
        )
        .await?;
        Ok(())
    }
}
