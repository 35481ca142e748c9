//! Rows by network, from the index alone, in page order.
//!
//! A network's practice examples, assignments, initiatives and lessons are read a page
//! per network (GraphQL's `network { practiceExamples(first: 5) }`, for every network of
//! a page at once). With only `(network_id)` indexed, each network's page read every one
//! of its rows from the table, scattered as they were written, to sort them and keep five.
//! These indexes hold, per row, its network, its id (the default order), whether it is
//! deleted and what visibility looks at, so a network's page is the first entries of its
//! range: the rows read are the page's. Like the indexes by region
//! (`m20261205_000001_region_rows`), they are not partial, and each replaces the
//! one-column index on `network_id`, its prefix.

use sea_orm_migration::prelude::*;

/// See the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, the columns visibility reads besides the id).
const TABLES: &[(&str, &[&str])] = &[
    (
        "practice_examples",
        &["deleted_at", "status", "owner_partner_id"],
    ),
    ("assignments", &["deleted_at", "status", "owner_partner_id"]),
    ("initiatives", &["deleted_at", "owner_partner_id"]),
    ("lessons", &["deleted_at", "owner_partner_id"]),
];

fn name(table: &str) -> String {
    format!("ix_{table}_network_rows")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, columns) in TABLES {
            db.execute_unprepared(&format!(
                "CREATE INDEX {} ON {table} (network_id, id, {})",
                name(table),
                columns.join(", ")
            ))
            .await?;
            db.execute_unprepared(&format!("DROP INDEX ix_{table}_network_id"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, _) in TABLES {
            db.execute_unprepared(&format!(
                "CREATE INDEX ix_{table}_network_id ON {table} (network_id)"
            ))
            .await?;
            db.execute_unprepared(&format!("DROP INDEX {}", name(table)))
                .await?;
        }
        Ok(())
    }
}
