//! What networks share: practice examples (with their links and themes), resident
//! initiatives, lessons learned and where those lessons have been carried to (transfers).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{InitiativeStatus, Meta, PracticeExampleStatus, Rules, Text, TransferStatus};
use crate::service::check::{COUNT, Rule, YEARS};

/// A practice example ("praktijkvoorbeeld"), e.g. one submitted to #GemeenteDelers 2023.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
#[schema(example = super::examples::practice_example)]
pub struct PracticeExample {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// Slug, e.g. `legro-lerend-netwerk-groningen`.
    pub slug: String,
    /// Title.
    pub title: String,
    /// The year it is about.
    pub year: Option<i32>,
    /// Where it took place (usually a municipality).
    pub region_id: Option<Uuid>,
    /// The region's CBS code.
    pub region_code: Option<String>,
    /// The network it comes from.
    pub network_id: Option<Uuid>,
    /// The network's slug.
    pub network_slug: Option<String>,
    /// Short summary.
    pub summary: Option<String>,
    /// The context: why it was urgent.
    pub context: Option<String>,
    /// The approach taken.
    pub approach: Option<String>,
    /// Why it works ("waardevol en succesvol").
    pub why_it_works: Option<String>,
    /// How others can apply it ("toepassing door anderen").
    pub how_to_apply: Option<String>,
    /// The (expected) outcome ("(verwachte) uitkomst").
    pub expected_outcome: Option<String>,
    /// Links to read more, in order.
    pub links: Vec<Link>,
    /// The collection it belongs to, e.g. `#GemeenteDelers 2023`.
    pub collection: Option<String>,
    /// Theme slugs.
    #[graphql(name = "themeSlugs")]
    pub themes: Vec<String>,
    /// Publication state.
    pub status: PracticeExampleStatus,
    /// Language (BCP 47), e.g. `nl`.
    pub language: String,
}

/// A link of a practice example.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    /// What it links to.
    pub title: String,
    /// Where (http or https).
    pub url: String,
}

/// A link of a practice example, as sent.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkInput {
    /// Title (required).
    #[schema(required, nullable = false)]
    pub title: Option<String>,
    /// URL, http or https (required).
    #[schema(required, nullable = false)]
    pub url: Option<String>,
}

impl Rules for LinkInput {
    const RULES: &'static [(&'static str, Rule)] = &[("title", Rule::Line), ("url", Rule::Url)];
}

/// Create or replace a practice example.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = super::examples::practice_example_input)]
pub struct PracticeExampleInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// Slug; derived from the name or title when left out.
    pub slug: Option<String>,
    /// Title (required).
    #[schema(required, nullable = false)]
    pub title: Option<String>,
    /// Year.
    pub year: Option<i32>,
    /// Region by id.
    pub region_id: Option<Uuid>,
    /// Region by CBS code.
    pub region_code: Option<String>,
    /// Network by id.
    pub network_id: Option<Uuid>,
    /// Network by slug.
    pub network_slug: Option<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Context (the urgency).
    pub context: Option<String>,
    /// Approach.
    pub approach: Option<String>,
    /// Why it works.
    pub why_it_works: Option<String>,
    /// How others can apply it.
    pub how_to_apply: Option<String>,
    /// (Expected) outcome.
    pub expected_outcome: Option<String>,
    /// Links, in order.
    pub links: Option<Vec<LinkInput>>,
    /// Collection, e.g. `#GemeenteDelers 2023`.
    pub collection: Option<String>,
    /// Theme slugs.
    #[graphql(name = "themeSlugs")]
    pub themes: Option<Vec<String>>,
    /// Status; default `draft`.
    #[schema(value_type = Option<PracticeExampleStatus>)]
    pub status: Option<Text<PracticeExampleStatus>>,
    /// Language (BCP 47); default `nl`.
    pub language: Option<String>,
}

impl Rules for PracticeExampleInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("slug", Rule::Slug),
        ("title", Rule::Line),
        ("year", Rule::Int(YEARS)),
        ("regionId", Rule::Plain),
        ("regionCode", Rule::Key),
        ("networkId", Rule::Plain),
        ("networkSlug", Rule::Key),
        ("summary", Rule::OptText),
        ("context", Rule::OptText),
        ("approach", Rule::OptText),
        ("whyItWorks", Rule::OptText),
        ("howToApply", Rule::OptText),
        ("expectedOutcome", Rule::OptText),
        ("links", Rule::List(&Rule::Plain)),
        ("collection", Rule::OptLine),
        ("themes", Rule::List(&Rule::Key)),
        ("status", Rule::Enum),
        ("language", Rule::Language),
    ];
}

/// Filters for listing practice examples.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, async_graphql::InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PracticeExampleFilter {
    /// Only those in this region or anywhere below it, by CBS code or id (`GM0114` finds
    /// what lies in Bargeres too).
    pub region: Option<String>,
    /// Only those in this region (exactly).
    pub region_id: Option<Uuid>,
    /// Only those of this network.
    pub network_id: Option<Uuid>,
    /// Only this status.
    pub status: Option<PracticeExampleStatus>,
    /// Only those with this theme (slug).
    pub theme: Option<String>,
    /// Only those of this year.
    pub year: Option<i32>,
    /// Only those in this collection (exactly).
    pub collection: Option<String>,
}

/// A resident initiative or activity.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Initiative {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// The network it belongs to.
    pub network_id: Option<Uuid>,
    /// The network's slug.
    pub network_slug: Option<String>,
    /// Where it takes place.
    pub region_id: Option<Uuid>,
    /// The region's CBS code.
    pub region_code: Option<String>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Status.
    pub status: InitiativeStatus,
    /// When it started.
    pub started_on: Option<NaiveDate>,
    /// When it ended.
    pub ended_on: Option<NaiveDate>,
    /// How many residents it reached.
    pub residents_reached: Option<i32>,
    /// Theme slugs.
    #[graphql(name = "themeSlugs")]
    pub themes: Vec<String>,
}

/// Create or replace an initiative.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitiativeInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// Network by id.
    pub network_id: Option<Uuid>,
    /// Network by slug.
    pub network_slug: Option<String>,
    /// Region by id.
    pub region_id: Option<Uuid>,
    /// Region by CBS code.
    pub region_code: Option<String>,
    /// Title (required).
    #[schema(required, nullable = false)]
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Status; default `idea`.
    #[schema(value_type = Option<InitiativeStatus>)]
    pub status: Option<Text<InitiativeStatus>>,
    /// Start date.
    pub started_on: Option<NaiveDate>,
    /// End date (not before the start date).
    pub ended_on: Option<NaiveDate>,
    /// Residents reached.
    pub residents_reached: Option<i32>,
    /// Theme slugs.
    #[graphql(name = "themeSlugs")]
    pub themes: Option<Vec<String>>,
}

impl Rules for InitiativeInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("networkId", Rule::Plain),
        ("networkSlug", Rule::Key),
        ("regionId", Rule::Plain),
        ("regionCode", Rule::Key),
        ("title", Rule::Line),
        ("description", Rule::OptText),
        ("status", Rule::Enum),
        ("startedOn", Rule::Date),
        ("endedOn", Rule::Date),
        ("residentsReached", Rule::Int(COUNT)),
        ("themes", Rule::List(&Rule::Key)),
    ];
}

/// Filters for listing initiatives.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, async_graphql::InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InitiativeFilter {
    /// Only those in this region or anywhere below it, by CBS code or id (`GM0114` finds
    /// what lies in Bargeres too).
    pub region: Option<String>,
    /// Only those of this network.
    pub network_id: Option<Uuid>,
    /// Only those in this region (exactly).
    pub region_id: Option<Uuid>,
    /// Only this status.
    pub status: Option<InitiativeStatus>,
    /// Only those with this theme (slug).
    pub theme: Option<String>,
}

/// A lesson learned.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Lesson {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// The network that learned it.
    pub network_id: Option<Uuid>,
    /// The network's slug.
    pub network_slug: Option<String>,
    /// Where it was learned.
    pub origin_region_id: Option<Uuid>,
    /// The origin region's CBS code.
    pub origin_region_code: Option<String>,
    /// Title.
    pub title: String,
    /// The lesson itself.
    pub body: String,
    /// Theme slugs.
    #[graphql(name = "themeSlugs")]
    pub themes: Vec<String>,
}

/// Create or replace a lesson.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LessonInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// Network by id.
    pub network_id: Option<Uuid>,
    /// Network by slug.
    pub network_slug: Option<String>,
    /// Origin region by id.
    pub origin_region_id: Option<Uuid>,
    /// Origin region by CBS code.
    pub origin_region_code: Option<String>,
    /// Title (required).
    #[schema(required, nullable = false)]
    pub title: Option<String>,
    /// Body (required).
    #[schema(required, nullable = false)]
    pub body: Option<String>,
    /// Theme slugs.
    #[graphql(name = "themeSlugs")]
    pub themes: Option<Vec<String>>,
}

impl Rules for LessonInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("networkId", Rule::Plain),
        ("networkSlug", Rule::Key),
        ("originRegionId", Rule::Plain),
        ("originRegionCode", Rule::Key),
        ("title", Rule::Line),
        ("body", Rule::Text),
        ("themes", Rule::List(&Rule::Key)),
    ];
}

/// Filters for listing lessons.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, async_graphql::InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LessonFilter {
    /// Only those in this region or anywhere below it, by CBS code or id (`GM0114` finds
    /// what lies in Bargeres too).
    pub region: Option<String>,
    /// Only those of this network.
    pub network_id: Option<Uuid>,
    /// Only those learned in this region (exactly).
    pub origin_region_id: Option<Uuid>,
    /// Only those with this theme (slug).
    pub theme: Option<String>,
}

/// Where a lesson has been (or will be) carried to.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Transfer {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// The lesson.
    pub lesson_id: Uuid,
    /// The region it is carried to.
    pub region_id: Uuid,
    /// The region's CBS code.
    pub region_code: Option<String>,
    /// Status.
    pub status: TransferStatus,
    /// Notes.
    pub notes: Option<String>,
}

/// Create or replace a transfer.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransferInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// The lesson (set from the path by REST).
    pub lesson_id: Option<Uuid>,
    /// Region by id (this or `regionCode` is required).
    pub region_id: Option<Uuid>,
    /// Region by CBS code.
    pub region_code: Option<String>,
    /// Status; default `planned`.
    #[schema(value_type = Option<TransferStatus>)]
    pub status: Option<Text<TransferStatus>>,
    /// Notes.
    pub notes: Option<String>,
}

impl Rules for TransferInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("lessonId", Rule::Plain),
        ("regionId", Rule::Plain),
        ("regionCode", Rule::Key),
        ("status", Rule::Enum),
        ("notes", Rule::OptText),
    ];
}

/// Filters for listing transfers.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, async_graphql::InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransferFilter {
    /// Only those of this lesson.
    pub lesson_id: Option<Uuid>,
    /// Only those to this region (exactly).
    pub region_id: Option<Uuid>,
    /// Only this status.
    pub status: Option<TransferStatus>,
}
