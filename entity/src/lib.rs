//! Leernet's sea-orm entities: one module per table, nothing else.
//!
//! Entities never leave the service layer; the API's wire types live in `api::dto`. Every
//! partner-data table shares the common columns listed in [`Common`], which lets the service
//! layer version, soft-delete and log writes generically.

use sea_orm::EntityTrait;

pub mod assignment;
pub mod assignment_level;
pub mod assignment_programme;
pub mod audit;
pub mod change;
pub mod client_credential;
pub mod goal;
pub mod idempotency_key;
pub mod initiative;
pub mod initiative_theme;
pub mod lesson;
pub mod lesson_theme;
pub mod membership;
pub mod network;
pub mod network_field;
pub mod network_level;
pub mod network_region;
pub mod network_theme;
pub mod organization;
pub mod partner;
pub mod partner_issuer;
pub mod partner_network;
pub mod partner_region;
pub mod practice_example;
pub mod practice_example_link;
pub mod practice_example_theme;
pub mod programme;
pub mod region;
pub mod report;
pub mod signing_key;
pub mod theme;
pub mod transfer;
pub mod webhook;
pub mod webhook_delivery;

/// The common columns every partner-data table has (`domain.md`: "Every resource has").
pub trait Common: EntityTrait {
    /// The `id` column (UUID v7).
    fn id() -> Self::Column;
    /// The `version` column, +1 on every change.
    fn version() -> Self::Column;
    /// The `created_at` column.
    fn created_at() -> Self::Column;
    /// The `updated_at` column.
    fn updated_at() -> Self::Column;
    /// The `deleted_at` column (soft delete).
    fn deleted_at() -> Self::Column;
    /// The `owner_partner_id` column.
    fn owner_partner_id() -> Self::Column;
    /// The `external_id` column (the owner's own id).
    fn external_id() -> Self::Column;
}

macro_rules! common {
    ($($module:ident),* $(,)?) => {$(
        impl Common for $module::Entity {
            fn id() -> Self::Column { $module::Column::Id }
            fn version() -> Self::Column { $module::Column::Version }
            fn created_at() -> Self::Column { $module::Column::CreatedAt }
            fn updated_at() -> Self::Column { $module::Column::UpdatedAt }
            fn deleted_at() -> Self::Column { $module::Column::DeletedAt }
            fn owner_partner_id() -> Self::Column { $module::Column::OwnerPartnerId }
            fn external_id() -> Self::Column { $module::Column::ExternalId }
        }
    )*};
}

common!(
    region,
    organization,
    theme,
    network,
    goal,
    membership,
    report,
    practice_example,
    initiative,
    lesson,
    transfer,
    programme,
    assignment
);
