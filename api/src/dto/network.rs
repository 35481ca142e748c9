//! Networks and what hangs off them: regions (with a role), themes, education levels and
//! fields, goals, memberships and reports.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    Field, GoalStatus, Level, MembershipRole, Meta, NetworkKind, NetworkStatus, RegionRole, Rules,
    Text,
};
use crate::service::check::{PERCENT, Rule, YEARS};
use crate::service::networks::POSITIONS;

/// A network: a living lab, a learning network, an innovation workplace, ...
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
#[schema(example = super::examples::network)]
pub struct Network {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// Slug, e.g. `living-lab-m-en-gezond`.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: NetworkKind,
    /// Short summary.
    pub summary: Option<String>,
    /// Full description.
    pub description: Option<String>,
    /// Status.
    pub status: NetworkStatus,
    /// First year.
    pub start_year: Option<i32>,
    /// Last year.
    pub end_year: Option<i32>,
    /// Progress, 0 to 100.
    pub progress_percent: Option<i32>,
    /// The funder's project number.
    pub project_number: Option<String>,
    /// Funding organization.
    pub funder_id: Option<Uuid>,
    /// Funding round.
    pub funding_round: Option<String>,
    /// Responsible organization.
    pub lead_organization_id: Option<Uuid>,
    /// Project leader (a name).
    pub project_leader: Option<String>,
    /// Where the network meets.
    pub meeting_place: Option<String>,
    /// The network this one belongs to.
    pub parent_network_id: Option<Uuid>,
    /// The parent network's slug.
    pub parent_network_slug: Option<String>,
    /// Theme slugs.
    #[graphql(name = "themeSlugs")]
    pub themes: Vec<String>,
    /// Regions with their role.
    pub regions: Vec<NetworkRegion>,
    /// Education levels taking part.
    pub education_levels: Vec<Level>,
    /// Education fields taking part.
    pub education_fields: Vec<Field>,
}

/// A region of a network, with its role.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRegion {
    /// The region.
    pub region_id: Uuid,
    /// Its CBS code.
    pub region_code: Option<String>,
    /// Its role in the network.
    pub role: RegionRole,
}

/// A region of a network, as sent: by id or CBS code, with a role (default `focus`).
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkRegionInput {
    /// Region by id.
    pub region_id: Option<Uuid>,
    /// Region by CBS code.
    pub region_code: Option<String>,
    /// Role; default `focus`.
    #[schema(value_type = Option<RegionRole>)]
    pub role: Option<Text<RegionRole>>,
}

impl Rules for NetworkRegionInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("regionId", Rule::Plain),
        ("regionCode", Rule::Key),
        ("role", Rule::Enum),
    ];
}

/// Create or replace a network.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = super::examples::network_input)]
pub struct NetworkInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// Slug; derived from the name or title when left out.
    pub slug: Option<String>,
    /// Name (required).
    #[schema(required, nullable = false)]
    pub name: Option<String>,
    /// Kind (required).
    #[schema(value_type = NetworkKind)]
    pub kind: Option<Text<NetworkKind>>,
    /// Summary.
    pub summary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Status; default `active`.
    #[schema(value_type = Option<NetworkStatus>)]
    pub status: Option<Text<NetworkStatus>>,
    /// First year.
    pub start_year: Option<i32>,
    /// Last year (not before the first).
    pub end_year: Option<i32>,
    /// Progress in percent.
    pub progress_percent: Option<i32>,
    /// Project number.
    pub project_number: Option<String>,
    /// Funder by id.
    pub funder_id: Option<Uuid>,
    /// Funding round.
    pub funding_round: Option<String>,
    /// Lead organization by id.
    pub lead_organization_id: Option<Uuid>,
    /// Project leader.
    pub project_leader: Option<String>,
    /// Meeting place.
    pub meeting_place: Option<String>,
    /// Parent network by id.
    pub parent_network_id: Option<Uuid>,
    /// Parent network by slug.
    pub parent_network_slug: Option<String>,
    /// Theme slugs.
    #[graphql(name = "themeSlugs")]
    pub themes: Option<Vec<String>>,
    /// Regions with roles.
    pub regions: Option<Vec<NetworkRegionInput>>,
    /// Education levels.
    #[schema(value_type = Option<Vec<Level>>)]
    pub education_levels: Option<Vec<Text<Level>>>,
    /// Education fields.
    #[schema(value_type = Option<Vec<Field>>)]
    pub education_fields: Option<Vec<Text<Field>>>,
}

impl Rules for NetworkInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("slug", Rule::Slug),
        ("name", Rule::Line),
        ("kind", Rule::Enum),
        ("summary", Rule::OptText),
        ("description", Rule::OptText),
        ("status", Rule::Enum),
        ("startYear", Rule::Int(YEARS)),
        ("endYear", Rule::Int(YEARS)),
        ("progressPercent", Rule::Int(PERCENT)),
        ("projectNumber", Rule::OptLine),
        ("funderId", Rule::Plain),
        ("fundingRound", Rule::OptLine),
        ("leadOrganizationId", Rule::Plain),
        ("projectLeader", Rule::OptLine),
        ("meetingPlace", Rule::OptText),
        ("parentNetworkId", Rule::Plain),
        ("parentNetworkSlug", Rule::Key),
        ("themes", Rule::List(&Rule::Key)),
        ("regions", Rule::List(&Rule::Plain)),
        ("educationLevels", Rule::List(&Rule::Enum)),
        ("educationFields", Rule::List(&Rule::Enum)),
    ];
}

/// Filters for listing networks.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, async_graphql::InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NetworkFilter {
    /// Only those in this region or anywhere below it, by CBS code or id (`GM0114` finds
    /// what lies in Bargeres too).
    pub region: Option<String>,
    /// Only this kind.
    pub kind: Option<NetworkKind>,
    /// Only this status.
    pub status: Option<NetworkStatus>,
    /// Only networks with this theme (slug).
    pub theme: Option<String>,
    /// Only networks linked to this region (exactly).
    pub region_id: Option<Uuid>,
    /// Only children of this network.
    pub parent_network_id: Option<Uuid>,
}

/// A goal of a network.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
#[schema(example = super::examples::goal)]
pub struct Goal {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// The network.
    pub network_id: Uuid,
    /// Order among the network's goals (1, 2, ...).
    pub position: i32,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Status.
    pub status: GoalStatus,
    /// Progress, 0 to 100.
    pub progress_percent: Option<i32>,
    /// Target date.
    pub target_date: Option<NaiveDate>,
}

/// Create or replace a goal.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = super::examples::goal_input)]
pub struct GoalInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// The network (set from the path by REST).
    pub network_id: Option<Uuid>,
    /// Position (required).
    #[schema(required, nullable = false)]
    pub position: Option<i32>,
    /// Title (required).
    #[schema(required, nullable = false)]
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Status; default `planned`.
    #[schema(value_type = Option<GoalStatus>)]
    pub status: Option<Text<GoalStatus>>,
    /// Progress in percent.
    pub progress_percent: Option<i32>,
    /// Target date.
    pub target_date: Option<NaiveDate>,
}

impl Rules for GoalInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("networkId", Rule::Plain),
        ("position", Rule::Int(POSITIONS)),
        ("title", Rule::Line),
        ("description", Rule::OptText),
        ("status", Rule::Enum),
        ("progressPercent", Rule::Int(PERCENT)),
        ("targetDate", Rule::Date),
    ];
}

/// Filters for listing the sub-resources of a network.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, async_graphql::InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NetworkChildFilter {
    /// Only those of this network.
    pub network_id: Option<Uuid>,
}

/// An organization's membership of a network.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
#[schema(example = super::examples::membership)]
pub struct Membership {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// The network.
    pub network_id: Uuid,
    /// The organization.
    pub organization_id: Uuid,
    /// Its role.
    pub role: MembershipRole,
    /// Member since.
    pub since: Option<NaiveDate>,
}

/// Create or replace a membership.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = super::examples::membership_input)]
pub struct MembershipInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// The network (set from the path by REST).
    pub network_id: Option<Uuid>,
    /// The organization (required).
    #[schema(required, nullable = false)]
    pub organization_id: Option<Uuid>,
    /// Role; default `partner`.
    #[schema(value_type = Option<MembershipRole>)]
    pub role: Option<Text<MembershipRole>>,
    /// Member since.
    pub since: Option<NaiveDate>,
}

impl Rules for MembershipInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("networkId", Rule::Plain),
        ("organizationId", Rule::Plain),
        ("role", Rule::Enum),
        ("since", Rule::Date),
    ];
}

/// A report ("verslag") of a network.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// The network.
    pub network_id: Uuid,
    /// Title.
    pub title: String,
    /// Publication date.
    pub published_on: Option<NaiveDate>,
    /// Where to read it.
    pub url: Option<String>,
}

/// Create or replace a report.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReportInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// The network (set from the path by REST).
    pub network_id: Option<Uuid>,
    /// Title (required).
    #[schema(required, nullable = false)]
    pub title: Option<String>,
    /// Publication date.
    pub published_on: Option<NaiveDate>,
    /// URL (http or https).
    pub url: Option<String>,
}

impl Rules for ReportInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("networkId", Rule::Plain),
        ("title", Rule::Line),
        ("publishedOn", Rule::Date),
        ("url", Rule::Url),
    ];
}
