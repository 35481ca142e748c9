//! The change log in commit order, with who may see each entry; explicit confinement of
//! partners; a webhook delivery log that lets the change log be pruned.
//!
//! - `feed_clock`: one row whose counter every write transaction increments as its last
//!   step and holds until it commits. The value is the transaction's feed `position`, so
//!   positions are handed out in commit order on both backends (see `api::service::db`).
//!   This replaces `change_log.tx_id`, PostgreSQL's transaction id, which is not commit
//!   order.
//! - `change_log.position` (entries of one transaction share it; `seq` orders them within),
//!   `audience` (`public`, or `owner` for a draft) and `owner_partner_id`: what the feed
//!   filters on, in SQL, before paging. Entries written before this migration keep their
//!   order: their position is their `seq`.
//! - `partners.unconfined`: a partner writes nowhere unless it is confined to regions or
//!   networks, or marked unconfined (admins, provincial bodies).
//! - Deleting change-log entries (retention) deletes their webhook deliveries.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261124_000001_initial::SYSTEM_PARTNER_ID;
use crate::rebuild::replace_foreign_key;

/// See the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

const NEW_INDEXES: &[(&str, &[&str])] = &[
    ("ix_change_log_position_seq", &["position", "seq"]),
    (
        "ix_change_log_resource_type_position_seq",
        &["resource_type", "position", "seq"],
    ),
    (
        "ix_change_log_audience_position_seq",
        &["audience", "position", "seq"],
    ),
    ("ix_change_log_owner_partner_id", &["owner_partner_id"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        manager
            .create_table(
                Table::create()
                    .table("feed_clock")
                    .col(
                        integer("id")
                            .primary_key()
                            .check(("ck_feed_clock_id", Expr::col("id").eq(1))),
                    )
                    .col(big_integer("n"))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "INSERT INTO feed_clock (id, n) SELECT 1, COALESCE(MAX(seq), 0) FROM change_log",
        )
        .await?;
        for column in [
            big_integer("position").default(0).to_owned(),
            string("audience")
                .default("public")
                .check((
                    "ck_change_log_audience",
                    Expr::col("audience").is_in(["public", "owner"]),
                ))
                .to_owned(),
            uuid_null("owner_partner_id").to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("change_log")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        db.execute_unprepared(
            "UPDATE change_log SET position = seq, owner_partner_id = partner_id",
        )
        .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_change_log_tx_id_seq")
                    .table("change_log")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_change_log_resource_type_seq")
                    .table("change_log")
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared("ALTER TABLE change_log DROP COLUMN tx_id")
            .await?;
        for (name, columns) in NEW_INDEXES {
            let mut index = Index::create();
            index.name(*name).table("change_log");
            for column in *columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("partners")
                    .add_column(boolean("unconfined").default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table("partners")
                    .value("unconfined", true)
                    .and_where(Expr::col("id").eq(SYSTEM_PARTNER_ID))
                    .to_owned(),
            )
            .await?;
        replace_foreign_key(
            manager,
            "fk_webhook_deliveries_change_seq",
            ("webhook_deliveries", "change_seq"),
            ("change_log", "seq"),
            "CASCADE",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        replace_foreign_key(
            manager,
            "fk_webhook_deliveries_change_seq",
            ("webhook_deliveries", "change_seq"),
            ("change_log", "seq"),
            "NO ACTION",
        )
        .await?;
        db.execute_unprepared("ALTER TABLE partners DROP COLUMN unconfined")
            .await?;
        for (name, _) in NEW_INDEXES {
            manager
                .drop_index(Index::drop().name(*name).table("change_log").to_owned())
                .await?;
        }
        for column in ["position", "audience", "owner_partner_id"] {
            db.execute_unprepared(&format!("ALTER TABLE change_log DROP COLUMN {column}"))
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("change_log")
                    .add_column(big_integer_null("tx_id"))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("ix_change_log_tx_id_seq", ["tx_id", "seq"]),
            ("ix_change_log_resource_type_seq", ["resource_type", "seq"]),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table("change_log")
                        .col(columns[0])
                        .col(columns[1])
                        .to_owned(),
                )
                .await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE change_log ALTER COLUMN tx_id SET DEFAULT (pg_current_xact_id()::text::bigint)",
            )
            .await?;
        }
        manager
            .drop_table(Table::drop().table("feed_clock").to_owned())
            .await
    }
}
