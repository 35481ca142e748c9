//! `partner_issuers`: which partner an external identity provider's token may act as. A
//! token from a configured issuer names a subject (the value of the issuer's partner claim,
//! e.g. `azp`); only a stored binding of (issuer, subject) to a partner lets it act, and
//! only with admin rights when the binding grants them. Without a binding an external
//! token acts as nobody.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// See the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("partner_issuers")
                    .col(string("issuer"))
                    .col(string("subject"))
                    .col(uuid("partner_id"))
                    .col(boolean("admin").default(false))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("issuer").col("subject"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_partner_issuers_partner_id")
                            .from("partner_issuers", "partner_id")
                            .to("partners", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_partner_issuers_partner_id")
                    .table("partner_issuers")
                    .col("partner_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("partner_issuers").to_owned())
            .await
    }
}
