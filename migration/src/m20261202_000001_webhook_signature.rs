//! Webhooks choose how their deliveries are signed: `leernet` (`Leernet-Signature`, the
//! scheme every existing webhook has, hence the default) or `standard-webhooks` (the
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` headers that the Standard
//! Webhooks libraries verify). A text column with a named CHECK, as every enum of the
//! schema, so a value the service does not know is refused by the database too.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// See the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("webhooks")
                    .add_column(string("signature").default("leernet").check((
                        "ck_webhooks_signature",
                        Expr::col("signature").is_in(["leernet", "standard-webhooks"]),
                    )))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The CHECK belongs to the column: both backends drop it with the column.
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE webhooks DROP COLUMN signature")
            .await?;
        Ok(())
    }
}
