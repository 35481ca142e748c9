//! Live rows by region, from the index alone.
//!
//! A list or stats filtered to a region's subtree walks the subtree's regions
//! (`region_closure`) and, per region, the live rows in it. With only `(region_id)`
//! indexed, every such row is read from the table to check that it is live and visible,
//! and a practice example is a wide row: a province's 4,000 of them cost more than the
//! page. These partial indexes hold, per live row, its region, its id (the list order) and
//! what visibility looks at (its owner and, where drafts are hidden, its status), so the
//! matching ids come from the index and only the page's rows are read.

use sea_orm_migration::prelude::*;

/// See the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, region column, columns visibility reads).
const TABLES: &[(&str, &str, &[&str])] = &[
    (
        "practice_examples",
        "region_id",
        &["status", "owner_partner_id"],
    ),
    ("assignments", "region_id", &["status", "owner_partner_id"]),
    ("initiatives", "region_id", &["owner_partner_id"]),
    ("lessons", "origin_region_id", &["owner_partner_id"]),
];

fn name(table: &str) -> String {
    format!("ix_{table}_live_region")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, region, visibility) in TABLES {
            db.execute_unprepared(&format!(
                "CREATE INDEX {} ON {table} ({region}, id, {}) WHERE deleted_at IS NULL",
                name(table),
                visibility.join(", ")
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, _, _) in TABLES {
            db.execute_unprepared(&format!("DROP INDEX {}", name(table)))
                .await?;
        }
        Ok(())
    }
}
