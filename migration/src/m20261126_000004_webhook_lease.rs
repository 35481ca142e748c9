//! Webhook deliveries get a lease: an instance that claims a delivery holds it until
//! `lease_until` without keeping a transaction open across the HTTP call; another instance
//! takes it over only after the lease ran out (a crash between send and record may so
//! deliver again: at least once, de-duplicated by the event id).

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
                    .table("webhook_deliveries")
                    .add_column(timestamp_with_time_zone_null("lease_until"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE webhook_deliveries DROP COLUMN lease_until")
            .await?;
        Ok(())
    }
}
