//! Rows by region, from the index alone.
//!
//! A list or stats filtered to a region's subtree walks the subtree's regions
//! (`region_closure`) and, per region, the live rows in it. With only `(region_id)`
//! indexed, every such row is read from the table to check that it is live and visible,
//! and a practice example is a wide row: a province's 4,000 of them cost more than the
//! page. These indexes hold, per row, its region, its id (the list order), whether it is
//! deleted and what visibility looks at (its owner and, where drafts are hidden, its
//! status), so the matching ids come from the index and only the page's rows are read.
//!
//! They are not partial (`WHERE deleted_at IS NULL`): a partial index whose predicate a
//! query implies is a candidate for every such query, and a statement planned while the
//! table was still empty (a prepared statement's generic plan, kept by its connection)
//! walked the whole index to look up one slug. Each replaces the one-column index on its
//! region column, its prefix.

use sea_orm_migration::prelude::*;

/// See the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, region column, the columns lists and visibility read besides the id).
const TABLES: &[(&str, &str, &[&str])] = &[
    (
        "practice_examples",
        "region_id",
        &["deleted_at", "status", "owner_partner_id"],
    ),
    (
        "assignments",
        "region_id",
        &["deleted_at", "status", "owner_partner_id"],
    ),
    (
        "initiatives",
        "region_id",
        &["deleted_at", "owner_partner_id"],
    ),
    (
        "lessons",
        "origin_region_id",
        &["deleted_at", "owner_partner_id"],
    ),
];

fn name(table: &str) -> String {
    format!("ix_{table}_region_rows")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, region, columns) in TABLES {
            db.execute_unprepared(&format!(
                "CREATE INDEX {} ON {table} ({region}, id, {})",
                name(table),
                columns.join(", ")
            ))
            .await?;
            db.execute_unprepared(&format!("DROP INDEX ix_{table}_{region}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, region, _) in TABLES {
            db.execute_unprepared(&format!(
                "CREATE INDEX ix_{table}_{region} ON {table} ({region})"
            ))
            .await?;
            db.execute_unprepared(&format!("DROP INDEX {}", name(table)))
                .await?;
        }
        Ok(())
    }
}
