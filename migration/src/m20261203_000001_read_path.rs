//! The read path at scale: every list, search and stats query can start from an index.
//!
//! - `region_closure`: one row per (ancestor, descendant) pair of the region tree, a region
//!   being its own ancestor at depth 0. A subtree is one index range (`ancestor_id = ?`),
//!   and a region's ancestors another (`descendant_id = ?`), where reads used to walk the
//!   tree recursively. The service keeps it in the same transaction as the region write
//!   that changes the tree (`api::service::regions`).
//! - Link tables get an index from the linked side to the parent (`theme_id,
//!   practice_example_id`, ...), so that a theme filter reads its rows from the index alone;
//!   the one-column indexes they replace are their prefixes.
//! - Full-text search: on PostgreSQL a stored generated `search` column (the Dutch text
//!   search vector of the text columns in [`crate::search::SEARCHED`]) with a GIN index,
//!   replacing the expression indexes (a row's vector is computed when it is written, not
//!   for every row a query looks at); on SQLite an FTS5 index `<table>_search` with the
//!   trigram tokenizer over the same text, kept by triggers in the writing transaction
//!   (external content: the text is read from the view `<table>_search_doc`, not stored
//!   twice).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::search::{SEARCHED, document, fts_table};

/// See the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// (old index, link table, linked column, parent column).
const LINKS: &[(&str, &str, &str, &str)] = &[
    (
        "ix_practice_example_themes_theme_id",
        "practice_example_themes",
        "theme_id",
        "practice_example_id",
    ),
    (
        "ix_network_themes_theme_id",
        "network_themes",
        "theme_id",
        "network_id",
    ),
    (
        "ix_initiative_themes_theme_id",
        "initiative_themes",
        "theme_id",
        "initiative_id",
    ),
    (
        "ix_lesson_themes_theme_id",
        "lesson_themes",
        "theme_id",
        "lesson_id",
    ),
    (
        "ix_network_regions_region_id",
        "network_regions",
        "region_id",
        "network_id",
    ),
    (
        "ix_network_levels_level",
        "network_levels",
        "level",
        "network_id",
    ),
    (
        "ix_network_fields_field",
        "network_fields",
        "field",
        "network_id",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        manager
            .create_table(
                Table::create()
                    .table("region_closure")
                    .col(uuid("ancestor_id"))
                    .col(uuid("descendant_id"))
                    .col(integer("depth"))
                    .primary_key(Index::create().col("ancestor_id").col("descendant_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_region_closure_ancestor_id")
                            .from("region_closure", "ancestor_id")
                            .to("regions", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_region_closure_descendant_id")
                            .from("region_closure", "descendant_id")
                            .to("regions", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_region_closure_descendant_id_ancestor_id")
                    .table("region_closure")
                    .col("descendant_id")
                    .col("ancestor_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "INSERT INTO region_closure (ancestor_id, descendant_id, depth) \
             WITH RECURSIVE down(ancestor_id, descendant_id, depth) AS ( \
               SELECT id, id, 0 FROM regions \
               UNION ALL SELECT d.ancestor_id, r.id, d.depth + 1 \
               FROM regions r JOIN down d ON r.parent_id = d.descendant_id) \
             SELECT ancestor_id, descendant_id, depth FROM down",
        )
        .await?;

        for (old, table, linked, parent) in LINKS {
            manager
                .drop_index(Index::drop().name(*old).table(*table).to_owned())
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("ix_{table}_{linked}_{parent}"))
                        .table(*table)
                        .col(*linked)
                        .col(*parent)
                        .to_owned(),
                )
                .await?;
        }

        for (table, columns) in SEARCHED {
            if postgres {
                for sql in [
                    format!("DROP INDEX IF EXISTS ix_{table}_search"),
                    format!(
                        "ALTER TABLE {table} ADD COLUMN search tsvector GENERATED ALWAYS AS \
                         (to_tsvector('dutch'::regconfig, {})) STORED",
                        document(columns, "")
                    ),
                    format!("CREATE INDEX ix_{table}_search ON {table} USING GIN (search)"),
                ] {
                    db.execute_unprepared(&sql).await?;
                }
            } else {
                let fts = fts_table(table);
                let names = columns.join(", ");
                for sql in [
                    format!(
                        "CREATE VIEW {fts}_doc AS SELECT rowid AS rid, {} AS doc FROM {table}",
                        document(columns, "")
                    ),
                    format!(
                        "CREATE VIRTUAL TABLE {fts} USING fts5(doc, content='{fts}_doc', \
                         content_rowid='rid', tokenize='trigram')"
                    ),
                    format!(
                        "CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN \
                         INSERT INTO {fts} (rowid, doc) VALUES (new.rowid, {}); END",
                        document(columns, "new.")
                    ),
                    format!(
                        "CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN \
                         INSERT INTO {fts} ({fts}, rowid, doc) VALUES ('delete', old.rowid, {}); END",
                        document(columns, "old.")
                    ),
                    format!(
                        "CREATE TRIGGER {fts}_update AFTER UPDATE OF {names} ON {table} BEGIN \
                         INSERT INTO {fts} ({fts}, rowid, doc) VALUES ('delete', old.rowid, {}); \
                         INSERT INTO {fts} (rowid, doc) VALUES (new.rowid, {}); END",
                        document(columns, "old."),
                        document(columns, "new.")
                    ),
                    format!("INSERT INTO {fts} ({fts}) VALUES ('rebuild')"),
                ] {
                    db.execute_unprepared(&sql).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        for (table, columns) in SEARCHED {
            if postgres {
                db.execute_unprepared(&format!("DROP INDEX IF EXISTS ix_{table}_search"))
                    .await?;
                db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN search"))
                    .await?;
                db.execute_unprepared(&format!(
                    "CREATE INDEX ix_{table}_search ON {table} USING GIN (to_tsvector('dutch', {}))",
                    document(columns, "")
                ))
                .await?;
            } else {
                let fts = fts_table(table);
                for sql in [
                    format!("DROP TRIGGER IF EXISTS {fts}_insert"),
                    format!("DROP TRIGGER IF EXISTS {fts}_delete"),
                    format!("DROP TRIGGER IF EXISTS {fts}_update"),
                    format!("DROP TABLE IF EXISTS {fts}"),
                    format!("DROP VIEW IF EXISTS {fts}_doc"),
                ] {
                    db.execute_unprepared(&sql).await?;
                }
            }
        }
        for (old, table, linked, parent) in LINKS {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("ix_{table}_{linked}_{parent}"))
                        .table(*table)
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(*old)
                        .table(*table)
                        .col(*linked)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table("region_closure").to_owned())
            .await
    }
}
