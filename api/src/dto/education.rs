//! What schools offer in the networks: education programmes and student assignments (what
//! LMSs pull).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AssignmentStatus, Field, Level, Meta, Rules, Text};
use crate::service::assignments::{CAPACITY, ECTS, HOURS};
use crate::service::check::Rule;

/// An education programme of a school (MBO, bachelor or master).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Programme {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// The school offering it.
    pub organization_id: Uuid,
    /// Name.
    pub name: String,
    /// Level.
    pub level: Level,
    /// Field.
    pub field: Field,
}

/// Create or replace a programme.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProgrammeInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// The school by id (required).
    #[schema(required, nullable = false)]
    pub organization_id: Option<Uuid>,
    /// Name (required).
    #[schema(required, nullable = false)]
    pub name: Option<String>,
    /// Level (required).
    #[schema(value_type = Level)]
    pub level: Option<Text<Level>>,
    /// Field (required).
    #[schema(value_type = Field)]
    pub field: Option<Text<Field>>,
}

impl Rules for ProgrammeInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("organizationId", Rule::Plain),
        ("name", Rule::Line),
        ("level", Rule::Enum),
        ("field", Rule::Enum),
    ];
}

/// Filters for listing programmes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, async_graphql::InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProgrammeFilter {
    /// Only those of this school.
    pub organization_id: Option<Uuid>,
    /// Only this level.
    pub level: Option<Level>,
    /// Only this field.
    pub field: Option<Field>,
}

/// A student assignment.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, async_graphql::SimpleObject)]
#[graphql(complex)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    /// Common fields.
    #[serde(flatten)]
    #[graphql(flatten)]
    pub meta: Meta,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// What students learn.
    pub learning_outcomes: Option<String>,
    /// The network it is part of.
    pub network_id: Option<Uuid>,
    /// The network's slug.
    pub network_slug: Option<String>,
    /// The initiative it is part of.
    pub initiative_id: Option<Uuid>,
    /// Where it takes place.
    pub region_id: Option<Uuid>,
    /// The region's CBS code.
    pub region_code: Option<String>,
    /// The organization hosting the students.
    pub host_organization_id: Option<Uuid>,
    /// Education levels it is open to.
    pub levels: Vec<Level>,
    /// Programmes it is meant for.
    pub programme_ids: Vec<Uuid>,
    /// Study credits.
    pub ects: Option<f64>,
    /// Estimated hours of work.
    pub hours_estimate: Option<i32>,
    /// First day.
    pub starts_on: Option<NaiveDate>,
    /// Last day.
    pub ends_on: Option<NaiveDate>,
    /// Last day to apply.
    pub application_deadline: Option<NaiveDate>,
    /// How many students it takes.
    pub capacity: Option<i32>,
    /// Status.
    pub status: AssignmentStatus,
    /// Whom to contact.
    pub contact: Option<String>,
    /// Language (BCP 47), e.g. `nl`.
    pub language: String,
}

/// Create or replace a student assignment.
#[derive(
    Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema, async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignmentInput {
    /// Your own id for it.
    pub external_id: Option<String>,
    /// Title (required).
    #[schema(required, nullable = false)]
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Learning outcomes.
    pub learning_outcomes: Option<String>,
    /// Network by id.
    pub network_id: Option<Uuid>,
    /// Network by slug.
    pub network_slug: Option<String>,
    /// Initiative by id.
    pub initiative_id: Option<Uuid>,
    /// Region by id.
    pub region_id: Option<Uuid>,
    /// Region by CBS code.
    pub region_code: Option<String>,
    /// Host organization by id.
    pub host_organization_id: Option<Uuid>,
    /// Education levels.
    #[schema(value_type = Option<Vec<Level>>)]
    pub levels: Option<Vec<Text<Level>>>,
    /// Programme ids.
    pub programme_ids: Option<Vec<Uuid>>,
    /// Study credits.
    pub ects: Option<f64>,
    /// Estimated hours.
    pub hours_estimate: Option<i32>,
    /// First day.
    pub starts_on: Option<NaiveDate>,
    /// Last day (not before the first).
    pub ends_on: Option<NaiveDate>,
    /// Last day to apply.
    pub application_deadline: Option<NaiveDate>,
    /// Number of students.
    pub capacity: Option<i32>,
    /// Status; default `draft`.
    #[schema(value_type = Option<AssignmentStatus>)]
    pub status: Option<Text<AssignmentStatus>>,
    /// Contact.
    pub contact: Option<String>,
    /// Language (BCP 47); default `nl`.
    pub language: Option<String>,
}

impl Rules for AssignmentInput {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("externalId", Rule::ExternalId),
        ("title", Rule::Line),
        ("description", Rule::OptText),
        ("learningOutcomes", Rule::OptText),
        ("networkId", Rule::Plain),
        ("networkSlug", Rule::Key),
        ("initiativeId", Rule::Plain),
        ("regionId", Rule::Plain),
        ("regionCode", Rule::Key),
        ("hostOrganizationId", Rule::Plain),
        ("levels", Rule::List(&Rule::Enum)),
        ("programmeIds", Rule::List(&Rule::Plain)),
        ("ects", Rule::Number(ECTS)),
        ("hoursEstimate", Rule::Int(HOURS)),
        ("startsOn", Rule::Date),
        ("endsOn", Rule::Date),
        ("applicationDeadline", Rule::Date),
        ("capacity", Rule::Int(CAPACITY)),
        ("status", Rule::Enum),
        ("contact", Rule::OptLine),
        ("language", Rule::Language),
    ];
}

/// Filters for listing student assignments.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, async_graphql::InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssignmentFilter {
    /// Only those in this region or anywhere below it, by CBS code or id (`GM0114` finds
    /// what lies in Bargeres too).
    pub region: Option<String>,
    /// Only those of this network.
    pub network_id: Option<Uuid>,
    /// Only those in this region (exactly).
    pub region_id: Option<Uuid>,
    /// Only this status.
    pub status: Option<AssignmentStatus>,
    /// Only those open to this level.
    pub level: Option<Level>,
    /// Only those meant for this programme.
    pub programme_id: Option<Uuid>,
    /// Only those hosted by this organization.
    pub host_organization_id: Option<Uuid>,
    /// Only those meant for a programme in this field.
    pub field: Option<Field>,
    /// Only those starting on or after this date.
    pub starts_after: Option<NaiveDate>,
    /// Only those ending on or before this date.
    pub ends_before: Option<NaiveDate>,
}
