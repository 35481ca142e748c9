//! The API's wire types, declared once for every face.
//!
//! Requests (`...Input`) keep every field optional so that the service can report all
//! missing and invalid fields in one answer, and refuse unknown fields
//! (`deny_unknown_fields`) so a typo is a 400 rather than silently ignored. References may be
//! given by id or by natural key (`regionId` or `regionCode`); responses carry both.
//! Entities never appear here: the wire format does not follow the tables.
//!
//! The same types are GraphQL's: responses derive `SimpleObject` (the common fields
//! flattened in), list filters `InputObject`, enums `Enum`. A resource's
//! `#[graphql(complex)]` is its global `id`, added in `crate::graphql::node`, which makes
//! it a `Node`.

pub mod cursor;
mod education;
mod enums;
mod examples;
mod network;
mod practice;
mod region;

pub use education::*;
pub use enums::*;
pub use network::*;
pub use practice::*;
pub use region::*;

use chrono::{DateTime, Utc};

use crate::service::check::Rule;
use serde::Serialize;
use uuid::Uuid;

/// A request type whose fields the service checks by [`Rule`]s.
pub trait Rules: utoipa::ToSchema {
    /// Every field, by its name on the wire, with the rule the service's `Check` applies to
    /// it; the OpenAPI document states each rule in the field's schema.
    const RULES: &'static [(&'static str, Rule)];
}

/// The fields every resource has.
// In GraphQL the id is `rowId`: `id` is the global id of the `Node` interface there, which
// names the type as well. (A plain comment: the doc comment is the OpenAPI description.)
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// UUID v7, assigned by the service.
    #[graphql(name = "rowId")]
    pub id: Uuid,
    /// +1 on every change; the ETag is derived from it.
    pub version: i32,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
    /// The partner that created it.
    pub owner_partner_id: Uuid,
    /// The owner's own id for it, if given.
    pub external_id: Option<String>,
}

/// A resource's representation, which carries its [`Meta`].
pub trait HasMeta {
    /// Its id, version, times and owner.
    fn meta(&self) -> &Meta;
}

macro_rules! has_meta {
    ($($Dto:ty),+ $(,)?) => {
        $(
            impl HasMeta for $Dto {
                fn meta(&self) -> &Meta {
                    &self.meta
                }
            }
        )+
    };
}

has_meta!(
    Region,
    Organization,
    Theme,
    Network,
    Goal,
    Membership,
    Report,
    PracticeExample,
    Initiative,
    Lesson,
    Transfer,
    Programme,
    Assignment,
);

/// Builds the [`Meta`] of any entity row (they all have the common columns).
#[macro_export]
macro_rules! meta {
    ($row:expr) => {
        $crate::dto::Meta {
            id: $row.id,
            version: $row.version,
            created_at: $row.created_at,
            updated_at: $row.updated_at,
            owner_partner_id: $row.owner_partner_id,
            external_id: $row.external_id.clone(),
        }
    };
}
