//! Each webhook's queue head (its oldest pending delivery) is found with one index probe:
//! the claim asks, per webhook, for the smallest pending delivery id, so its cost follows
//! the number of webhooks, not the length of their queues.

use sea_orm_migration::prelude::*;

/// See the module documentation.
#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "ix_webhook_deliveries_webhook_id_status_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table("webhook_deliveries")
                    .col("webhook_id")
                    .col("status")
                    .col("id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(NAME)
                    .table("webhook_deliveries")
                    .to_owned(),
            )
            .await
    }
}
