//! A webhook remembers the scopes of the token that registered it: its deliveries follow
//! what that token could read from the feed, never more, so a token narrowed to fewer
//! scopes (or an identity provider's binding without admin rights) cannot register a
//! webhook that sees what the token itself may not. Webhooks registered before carry none:
//! they follow their partner's own scopes, as they always did.

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
                    .add_column(text_null("scopes"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE webhooks DROP COLUMN scopes")
            .await?;
        Ok(())
    }
}
