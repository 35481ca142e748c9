//! Regions, organizations and themes: the reference data other resources point at.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Meta, OrganizationKind, RegionKind, Rules, Text};
use crate::service::check::{COUNT, Rule};

/// A region in the tree country → province → municipality → area → district → neighbourhood.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
#[schema(example = super::examples::region)]
pub struct Region {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// CBS code (`PV22`, `GM0114`, `WKggggww`, `BUggggwwbb`); null where none exists.
    pub code: Option<String>,
    /// Name, e.g. `Emmen`.
    pub name: String,
    /// Kind of region.
    pub kind: RegionKind,
    /// The parent region.
    pub parent_id: Option<Uuid>,
    /// The parent's CBS code.
    pub parent_code: Option<String>,
    /// Whether it counts as deprived ("kansarm").
    pub deprived: bool,
    /// Number of inhabitants, if known.
    pub population: Option<i32>,
}

/// Create or replace a region.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = super::examples::region_input)]
pub struct RegionInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// CBS code, where one exists.
    pub code: Option<String>,
    /// Name (required).
    #[schema(required, nullable = false)]
    pub name: Option<String>,
    /// Kind (required).
    #[schema(value_type = RegionKind)]
    pub kind: Option<Text<RegionKind>>,
    /// Parent by id.
    pub parent_id: Option<Uuid>,
    /// Parent by CBS code.
    pub parent_code: Option<String>,
    /// Deprived ("kansarm"); default false.
    pub deprived: Option<bool>,
    /// Number of inhabitants.
    pub population: Option<i32>,
}

impl Rules for RegionInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("code", Rule::CbsCode),
        ("name", Rule::Line),
        ("kind", Rule::Enum),
        ("parentId", Rule::Plain),
        ("parentCode", Rule::Key),
        ("deprived", Rule::Plain),
        ("population", Rule::Int(COUNT)),
    ];
}

/// Filters for listing regions.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, async_graphql::InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegionFilter {
    /// Only those in this region or anywhere below it, by CBS code or id (`GM0114` finds
    /// what lies in Bargeres too).
    pub region: Option<String>,
    /// Only this kind.
    pub kind: Option<RegionKind>,
    /// Only direct children of this region.
    pub parent_id: Option<Uuid>,
    /// Only deprived (or only not deprived) regions.
    pub deprived: Option<bool>,
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
#[schema(example = super::examples::organization)]
pub struct Organization {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: OrganizationKind,
    /// Where it is based.
    pub region_id: Option<Uuid>,
    /// The region's CBS code.
    pub region_code: Option<String>,
    /// Website.
    pub website: Option<String>,
}

/// Create or replace an organization.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = super::examples::organization_input)]
pub struct OrganizationInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// Name (required).
    #[schema(required, nullable = false)]
    pub name: Option<String>,
    /// Kind (required).
    #[schema(value_type = OrganizationKind)]
    pub kind: Option<Text<OrganizationKind>>,
    /// Region by id.
    pub region_id: Option<Uuid>,
    /// Region by CBS code.
    pub region_code: Option<String>,
    /// Website (http or https).
    pub website: Option<String>,
}

impl Rules for OrganizationInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("name", Rule::Line),
        ("kind", Rule::Enum),
        ("regionId", Rule::Plain),
        ("regionCode", Rule::Key),
        ("website", Rule::Url),
    ];
}

/// Filters for listing organizations.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, async_graphql::InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrganizationFilter {
    /// Only those in this region or anywhere below it, by CBS code or id (`GM0114` finds
    /// what lies in Bargeres too).
    pub region: Option<String>,
    /// Only this kind.
    pub kind: Option<OrganizationKind>,
    /// Only organizations in this region (exactly).
    pub region_id: Option<Uuid>,
}

/// A theme.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
#[schema(example = super::examples::theme)]
pub struct Theme {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// Slug, e.g. `positieve-gezondheid`.
    pub slug: String,
    /// Name, e.g. `positieve gezondheid`.
    pub name: String,
}

/// Filters for listing themes (none yet).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ThemeFilter {}

/// Create or replace a theme.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = super::examples::theme_input)]
pub struct ThemeInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// Slug; derived from the name or title when left out.
    pub slug: Option<String>,
    /// Name (required).
    #[schema(required, nullable = false)]
    pub name: Option<String>,
}

impl Rules for ThemeInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("slug", Rule::Slug),
        ("name", Rule::Line),
    ];
}
