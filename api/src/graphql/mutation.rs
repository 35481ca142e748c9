//! The root mutation: for every collection `create`, `update` (the fields given, with
//! `expectedVersion`), `delete`, `upsert` by `externalId` and `bulkUpsert`, each one call
//! into the service's write as REST's handlers make it: the same validation, authorization,
//! audit (the partner and the request id) and change feed.
//!
//! A payload holds the resource and `userErrors`: what the caller can correct in its input
//! (invalid fields, a stale `expectedVersion`, a conflict), each with the input field, the
//! message and REST's problem code. Everything else (no write scope, not found, rate
//! limited) is an error of the answer with its `extensions.code` ([`super::error`]).

use async_graphql::{Context, ErrorExtensions, ID, MergedObject, Object, SimpleObject};
use serde::Serialize;
use uuid::Uuid;

use crate::dto::*;
use crate::error::Error;
use crate::graphql::error::Resolved;
use crate::graphql::node::{global_id, parse_global_id};
use crate::service::idempotency::{self, Outcome};
use crate::service::resource;
use crate::service::{
    self, Actor, Assignments, Goals, Initiatives, Lessons, Memberships, Networks, Organizations,
    PracticeExamples, Programmes, Regions, Reports, Resource, Themes, Transfers,
};
use crate::state::AppState;

/// What a write costs against the query's complexity (and so the rate limit), beside what
/// its payload selects: ten, as a write does more than a read of one field.
const WRITE_COST: usize = 10;

/// What each item of a bulk upsert adds: a bulk of 1,000 costs 5,000 (50 calls), so that a
/// request cannot carry many bulks for the price of one call.
const BULK_ITEM_COST: usize = 5;

/// The `Idempotency-Key` of the HTTP request, if it has one.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub String);

/// Something the caller can correct in what it sent.
#[derive(Debug, Clone, SimpleObject)]
pub struct UserError {
    /// The argument or input field at fault (`input.title`, `items[3].externalId`,
    /// `expectedVersion`), or null when it is no single field.
    pub field: Option<String>,
    /// What is wrong, for a person.
    pub message: String,
    /// The code of REST's problem for the same failure: `validation_failed`,
    /// `precondition_failed` (a stale `expectedVersion`), `precondition_required`,
    /// `conflict`, `idempotency_key_reused`.
    pub code: String,
}

/// `error` as the payload's user errors when the caller can correct it in its input (the
/// invalid fields named under `argument`: `input.title`), or as the answer's error.
fn user_errors(error: Error, argument: &str) -> async_graphql::Result<Vec<UserError>> {
    let code = error.code().to_owned();
    match error {
        Error::Validation(params) => Ok(params
            .into_iter()
            .map(|param| UserError {
                field: Some(field_name(argument, &param.name)),
                message: param.reason,
                code: code.clone(),
            })
            .collect()),
        Error::PreconditionFailed { .. }
        | Error::PreconditionNeverMet(_)
        | Error::PreconditionRequired => Ok(vec![UserError {
            field: Some("expectedVersion".to_owned()),
            message: error.problem().detail,
            code,
        }]),
        Error::Conflict(_) | Error::Unprocessable(_) => Ok(vec![UserError {
            field: None,
            message: error.problem().detail,
            code,
        }]),
        other => Err(other.extend()),
    }
}

/// A field the service (and REST) names otherwise than GraphQL: the theme slugs a resource
/// holds are `themes` there and `themeSlugs` here, where `themes` is the connection.
const RENAMED: &[(&str, &str)] = &[("themes", "themeSlugs")];

/// The GraphQL name of the service's input field `name` (only the first segment of a path
/// such as `themes[2]` is renamed).
fn graphql_name(name: &str) -> String {
    for (service, graphql) in RENAMED {
        if let Some(rest) = name.strip_prefix(service)
            && (rest.is_empty() || rest.starts_with('[') || rest.starts_with('.'))
        {
            return format!("{graphql}{rest}");
        }
    }
    name.to_owned()
}

/// The service's name of an input field as GraphQL names it, under its argument.
fn field_name(argument: &str, name: &str) -> String {
    let name = graphql_name(name);
    match (argument, name.as_str()) {
        ("", name) => name.to_owned(),
        (argument, "body") => argument.to_owned(),
        (argument, name) => format!("{argument}.{name}"),
    }
}

/// The row a global id names, when it names one of `R`'s.
fn row_of(id: &ID, type_name: &str) -> Result<Uuid, Error> {
    match parse_global_id(id) {
        Some((named, row)) if named == type_name => Ok(row),
        Some((named, _)) => Err(Error::invalid(
            "id",
            format!("is the global id of a {named}, not of a {type_name}"),
        )),
        None => Err(Error::invalid(
            "id",
            "is not a global id of this API (the id of a node, not its rowId)",
        )),
    }
}

/// The fields of `input` that the mutation's `input` argument names (given a value or
/// `null`), as the JSON merge patch they make: an update changes those and keeps the rest.
fn given_fields<T: Serialize>(
    ctx: &Context<'_>,
    input: &T,
) -> async_graphql::Result<serde_json::Value> {
    let typed = serde_json::to_value(input).map_err(|e| Error::internal(e).extend())?;
    // As written: a field given a variable the request does not provide (and that has no
    // default) is not given (GraphQL's input coercion), where the resolved argument holds
    // it as null, which would clear the field.
    let provided = |variable: &async_graphql::Name| {
        let env = &ctx.query_env;
        env.variables.contains_key(variable)
            || env
                .operation
                .node
                .variable_definitions
                .iter()
                .any(|d| d.node.name.node == *variable && d.node.default_value.is_some())
    };
    let given: Vec<String> = match ctx.item.node.get_argument("input").map(|v| &v.node) {
        Some(async_graphql_value::Value::Object(fields)) => fields
            .iter()
            .filter(|(_, value)| match value {
                async_graphql_value::Value::Variable(variable) => provided(variable),
                _ => true,
            })
            .map(|(name, _)| name.to_string())
            .collect(),
        // The whole input as one variable: the fields it holds.
        _ => ctx
            .field()
            .arguments()?
            .iter()
            .find(|(name, _)| name.as_str() == "input")
            .and_then(|(_, value)| match value {
                async_graphql::Value::Object(fields) => {
                    Some(fields.keys().map(|k| k.to_string()).collect())
                }
                _ => None,
            })
            .unwrap_or_default(),
    };
    let mut patch = serde_json::Map::new();
    if let serde_json::Value::Object(fields) = typed {
        for (name, value) in fields {
            let graphql = graphql_name(&name);
            if given.contains(&graphql) {
                patch.insert(name, value);
            }
        }
    }
    Ok(serde_json::Value::Object(patch))
}

/// A deleted resource's ids.
#[derive(Debug, Clone, SimpleObject)]
pub struct DeletePayload {
    /// The global id of what was deleted; null when it was not.
    pub deleted_id: Option<ID>,
    /// Its row id.
    pub deleted_row_id: Option<Uuid>,
    /// What the caller can correct (a stale `expectedVersion`, dependents that still refer
    /// to it); empty when it was deleted.
    pub user_errors: Vec<UserError>,
}

/// What a bulk upsert did to one item.
#[derive(Debug, Clone, SimpleObject)]
pub struct BulkUpserted {
    /// The item's position in `items`.
    pub index: i32,
    /// Its `externalId`.
    pub external_id: String,
    /// Its global id.
    pub id: ID,
    /// Its row id.
    pub row_id: Uuid,
    /// Its version now (unchanged when the content was the same).
    pub version: i32,
    /// Whether it was created.
    pub created: bool,
}

/// What a bulk upsert did: all items or none.
#[derive(Debug, Clone, SimpleObject)]
pub struct BulkUpsertPayload {
    /// One entry per item, in order; empty when the caller must correct something.
    pub items: Vec<BulkUpserted>,
    /// Every item's problems together (`items[3].title`); nothing was written if any.
    pub user_errors: Vec<UserError>,
}

/// The service and caller of a resolver.
fn parts<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<(&'a AppState, &'a Actor)> {
    Ok((ctx.data::<AppState>()?, ctx.data::<Actor>()?))
}

/// Creates, with the HTTP request's `Idempotency-Key` when it has one: the same request
/// again within the key's lifetime gets the resource first created, and creates nothing.
/// The key is the request's and each create field's own (by its response key), so one
/// request may hold several creates.
async fn create<R: Resource>(
    ctx: &Context<'_>,
    input: R::Input,
) -> async_graphql::Result<Result<(R::Dto, bool), Error>>
where
    R::Input: Serialize,
{
    let (state, actor) = parts(ctx)?;
    let Some(IdempotencyKey(key)) = ctx.data_opt::<IdempotencyKey>() else {
        return Ok(service::create::<R>(&state.db, actor, input)
            .await
            .map(|dto| (dto, false)));
    };
    let field = ctx
        .path_node
        .map(|node| node.field_name().to_owned())
        .unwrap_or_default();
    if let Err(error) = idempotency::check_key(key) {
        return Err(error.extend());
    }
    let body = serde_json::to_string(&input).map_err(|e| Error::internal(e).extend())?;
    let stored_key = format!(
        "graphql:{}",
        idempotency::digest(&format!("{field}\n{key}"))
    );
    let hash = idempotency::digest(&format!("graphql {} {field}\n{body}", R::TYPE));
    match idempotency::create_once::<R>(&state.db, actor, &stored_key, &hash, input).await {
        Ok(Outcome::Created(dto)) => Ok(Ok((dto, false))),
        // The first answer's resource, as it is now (the caller's own: no read scope needed).
        Ok(Outcome::Replayed(_, first)) => {
            let row = first["id"]
                .as_str()
                .and_then(|id| Uuid::try_parse(id).ok())
                .ok_or_else(|| {
                    Error::internal(anyhow::anyhow!("a remembered answer without an id")).extend()
                })?;
            Ok(resource::get_own::<R>(&state.db, actor, row)
                .await
                .map(|dto| (dto, true)))
        }
        Err(error) => Ok(Err(error)),
    }
}

/// Declares each collection's mutations and payload.
macro_rules! mutations {
    ($(
        $Object:ident, $Payload:ident: $R:ty, $Dto:ident, $Input:ident, $field:literal,
        [$create:literal, $update:literal, $delete:literal, $upsert:literal, $bulk:literal];
    )*) => {
        $(
            #[doc = concat!("What a mutation of a ", stringify!($Dto), " did.")]
            #[derive(Debug, Clone, SimpleObject)]
            pub struct $Payload {
                #[doc = concat!("The ", stringify!($Dto), " as it is now; null when the caller must correct something.")]
                #[graphql(name = $field)]
                pub resource: Option<$Dto>,
                /// Whether it was created (by `create`, or by an `upsert` that found none).
                pub created: bool,
                /// Whether this answer repeats the first one to the request's `Idempotency-Key`:
                /// the resource was created then, and nothing now.
                pub replayed: bool,
                /// What the caller can correct; empty when the mutation was done.
                pub user_errors: Vec<UserError>,
            }

            impl $Payload {
                fn of(result: Result<($Dto, bool, bool), Error>, argument: &str) -> async_graphql::Result<Self> {
                    Ok(match result {
                        Ok((dto, created, replayed)) => Self { resource: Some(dto), created, replayed, user_errors: Vec::new() },
                        Err(error) => Self { resource: None, created: false, replayed: false, user_errors: user_errors(error, argument)? },
                    })
                }
            }

            #[doc = concat!("The mutations of ", stringify!($Dto), ".")]
            #[derive(Default)]
            pub struct $Object;

            #[Object]
            impl $Object {
                #[doc = concat!("Creates a ", stringify!($Dto), " owned by the caller. With the request's `Idempotency-Key` the same request again creates nothing and answers the first one's.")]
                #[graphql(name = $create, complexity = "WRITE_COST + child_complexity")]
                async fn create(&self, ctx: &Context<'_>, input: $Input) -> async_graphql::Result<$Payload> {
                    let result = create::<$R>(ctx, input).await?;
                    $Payload::of(result.map(|(dto, replayed)| (dto, true, replayed)), "input")
                }

                #[doc = concat!("Changes the fields of a ", stringify!($Dto), " that `input` gives (`null` clears one) and keeps the others, validated like a new one. With `expectedVersion`, only if that is still its version.")]
                #[graphql(name = $update, complexity = "WRITE_COST + child_complexity")]
                async fn update(
                    &self,
                    ctx: &Context<'_>,
                    #[graphql(desc = "Its global id.")] id: ID,
                    input: $Input,
                    #[graphql(desc = "The version the change is meant for: a `precondition_failed` user error when it is no longer current.")]
                    expected_version: Option<i32>,
                ) -> async_graphql::Result<$Payload> {
                    let (state, actor) = parts(ctx)?;
                    let row = row_of(&id, stringify!($Dto)).resolved()?;
                    let patch = given_fields(ctx, &input)?;
                    let result = resource::patch::<$R>(&state.db, actor, row, &patch, expected_version, None).await;
                    $Payload::of(result.map(|dto| (dto, false, false)), "input")
                }

                #[doc = concat!("Deletes a ", stringify!($Dto), ": gone from reads and lists, a tombstone in the change feed. With `expectedVersion`, only if that is still its version.")]
                #[graphql(name = $delete, complexity = "WRITE_COST + child_complexity")]
                async fn delete(
                    &self,
                    ctx: &Context<'_>,
                    #[graphql(desc = "Its global id.")] id: ID,
                    #[graphql(desc = "The version the deletion is meant for.")]
                    expected_version: Option<i32>,
                ) -> async_graphql::Result<DeletePayload> {
                    let (state, actor) = parts(ctx)?;
                    let row = row_of(&id, stringify!($Dto)).resolved()?;
                    Ok(match service::delete::<$R>(&state.db, actor, row, expected_version).await {
                        Ok(()) => DeletePayload { deleted_id: Some(id), deleted_row_id: Some(row), user_errors: Vec::new() },
                        Err(error) => DeletePayload { deleted_id: None, deleted_row_id: None, user_errors: user_errors(error, "")? },
                    })
                }

                #[doc = concat!("Creates or replaces (all fields) the ", stringify!($Dto), " the caller knows by `externalId`: the same content again changes nothing; a deleted one is revived.")]
                #[graphql(name = $upsert, complexity = "WRITE_COST + child_complexity")]
                async fn upsert(
                    &self,
                    ctx: &Context<'_>,
                    #[graphql(desc = "The caller's own id for it.")] external_id: String,
                    input: $Input,
                    #[graphql(desc = "The version the replacement is meant for (none when creating).")]
                    expected_version: Option<i32>,
                ) -> async_graphql::Result<$Payload> {
                    let (state, actor) = parts(ctx)?;
                    let result = service::upsert::<$R>(&state.db, actor, &external_id, input, expected_version).await;
                    $Payload::of(result.map(|(dto, created)| (dto, created, false)), "input")
                }

                #[doc = concat!("Upserts up to 1000 items of ", stringify!($Dto), ", each by its `externalId`, in one transaction: all or none.")]
                #[graphql(name = $bulk, complexity = "WRITE_COST + BULK_ITEM_COST.saturating_mul(items.len()) + child_complexity")]
                async fn bulk_upsert(
                    &self,
                    ctx: &Context<'_>,
                    #[graphql(desc = "The items, each with its `externalId`.")] items: Vec<$Input>,
                ) -> async_graphql::Result<BulkUpsertPayload> {
                    let (state, actor) = parts(ctx)?;
                    let items: Vec<(Option<String>, $Input)> = items
                        .into_iter()
                        .map(|input| (<$R as Resource>::external_id(&input).map(str::to_owned), input))
                        .collect();
                    Ok(match resource::bulk_upsert::<$R>(&state.db, actor, &items).await {
                        Ok(done) => BulkUpsertPayload {
                            items: done
                                .into_iter()
                                .map(|item| BulkUpserted {
                                    index: i32::try_from(item.index).unwrap_or(i32::MAX),
                                    external_id: item.external_id,
                                    id: global_id(stringify!($Dto), item.id),
                                    row_id: item.id,
                                    version: item.version,
                                    created: item.created,
                                })
                                .collect(),
                            user_errors: Vec::new(),
                        },
                        Err(error) => BulkUpsertPayload { items: Vec::new(), user_errors: user_errors(error, "")? },
                    })
                }
            }
        )*

        /// The root mutation: every collection's mutations.
        #[derive(MergedObject, Default)]
        pub struct Mutation($($Object),*);
    };
}

mutations! {
    RegionMutation, RegionPayload: Regions, Region, RegionInput, "region",
        ["createRegion", "updateRegion", "deleteRegion", "upsertRegion", "bulkUpsertRegions"];
    OrganizationMutation, OrganizationPayload: Organizations, Organization, OrganizationInput, "organization",
        ["createOrganization", "updateOrganization", "deleteOrganization", "upsertOrganization", "bulkUpsertOrganizations"];
    ThemeMutation, ThemePayload: Themes, Theme, ThemeInput, "theme",
        ["createTheme", "updateTheme", "deleteTheme", "upsertTheme", "bulkUpsertThemes"];
    NetworkMutation, NetworkPayload: Networks, Network, NetworkInput, "network",
        ["createNetwork", "updateNetwork", "deleteNetwork", "upsertNetwork", "bulkUpsertNetworks"];
    GoalMutation, GoalPayload: Goals, Goal, GoalInput, "goal",
        ["createGoal", "updateGoal", "deleteGoal", "upsertGoal", "bulkUpsertGoals"];
    MembershipMutation, MembershipPayload: Memberships, Membership, MembershipInput, "membership",
        ["createMembership", "updateMembership", "deleteMembership", "upsertMembership", "bulkUpsertMemberships"];
    ReportMutation, ReportPayload: Reports, Report, ReportInput, "report",
        ["createReport", "updateReport", "deleteReport", "upsertReport", "bulkUpsertReports"];
    PracticeExampleMutation, PracticeExamplePayload: PracticeExamples, PracticeExample, PracticeExampleInput, "practiceExample",
        ["createPracticeExample", "updatePracticeExample", "deletePracticeExample", "upsertPracticeExample", "bulkUpsertPracticeExamples"];
    InitiativeMutation, InitiativePayload: Initiatives, Initiative, InitiativeInput, "initiative",
        ["createInitiative", "updateInitiative", "deleteInitiative", "upsertInitiative", "bulkUpsertInitiatives"];
    LessonMutation, LessonPayload: Lessons, Lesson, LessonInput, "lesson",
        ["createLesson", "updateLesson", "deleteLesson", "upsertLesson", "bulkUpsertLessons"];
    TransferMutation, TransferPayload: Transfers, Transfer, TransferInput, "transfer",
        ["createTransfer", "updateTransfer", "deleteTransfer", "upsertTransfer", "bulkUpsertTransfers"];
    ProgrammeMutation, ProgrammePayload: Programmes, Programme, ProgrammeInput, "programme",
        ["createProgramme", "updateProgramme", "deleteProgramme", "upsertProgramme", "bulkUpsertProgrammes"];
    AssignmentMutation, AssignmentPayload: Assignments, Assignment, AssignmentInput, "assignment",
        ["createAssignment", "updateAssignment", "deleteAssignment", "upsertAssignment", "bulkUpsertAssignments"];
}
