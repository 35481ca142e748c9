//! Full-text search on PostgreSQL: a GIN index per searchable table on the Dutch text
//! search vector of its text columns, the same expression the service's `q` filter uses
//! (`to_tsvector('dutch', coalesce(a, '') || ' ' || coalesce(b, '') ...)`). SQLite searches
//! by substring and needs no index for it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::search::SEARCHED;

/// See the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for (table, columns) in SEARCHED {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX ix_{table}_search ON {table} USING GIN (to_tsvector('dutch', {}))",
                    crate::search::document(columns, "")
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for (table, _) in SEARCHED {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS ix_{table}_search"))
                .await?;
        }
        Ok(())
    }
}
