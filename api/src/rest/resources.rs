//! The REST collections of `api.md`: for each, list, create, read (by id or natural key),
//! full replace (PUT), merge patch (PATCH), soft delete and upsert by the caller's own id.
//! Each handler is one call into [`super::collection`], declared by a macro so that every
//! collection has the same operations, documented the same way in the OpenAPI document
//! (`utoipa-axum`: a route cannot exist without its documentation).

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::*;
use crate::error::{Problem, Result};
use crate::rest::collection::{self, BulkRequest, BulkResult, Page, PageParams, Scope};
use crate::rest::extract::{JsonBody, Path};
use crate::service::{
    Actor, Assignments, Goals, Initiatives, Lessons, Memberships, Networks, Organizations,
    PracticeExamples, Programmes, Regions, Reports, Themes, Transfers,
};
use crate::state::AppState;

/// Declares the seven handlers of a top-level collection.
macro_rules! top_level {
    (
        resource: $R:ty, dto: $Dto:ty, input: $Input:ty, filter: $Filter:ty,
        collection: $coll:literal, tag: $tag:literal, key: $key:literal,
        list: $list:ident = $list_path:literal,
        create: $create:ident,
        get: $get:ident = $item_path:literal,
        replace: $replace:ident, patch: $patch:ident, delete: $delete:ident,
        upsert: $upsert:ident = $external_path:literal,
        read_external: $read_external:ident,
        bulk: $bulk:ident = $bulk_path:literal $(,)?
    ) => {
        #[doc = concat!("Read one of the ", $coll, " by your own id.")]
        #[utoipa::path(get, path = $external_path, tag = $tag,
            summary = concat!("Read one of the ", $coll, " by your own id"),
            description = "The live resource this partner created or last wrote under its own `externalId`, with its `ETag` (`If-None-Match` answers 304).",
            params(("externalId" = String, Path, description = "Your own id for it: 1 to 200 characters")),
            responses(
                (status = 200, description = "The resource, with its `ETag`", body = $Dto),
                (status = 304, description = "Not modified since the ETag in If-None-Match"),
                (status = 404, description = "None of yours has this externalId", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $read_external(State(state): State<AppState>, actor: Actor, Path(external_id): Path<String>, headers: HeaderMap) -> Result<Response> {
            collection::get_external::<$R>(&state, &actor, &external_id, &headers, &Scope::top($coll)).await
        }

        #[doc = concat!("Upsert many ", $coll, " at once.")]
        #[utoipa::path(post, path = $bulk_path, tag = $tag,
            summary = concat!("Upsert up to 1000 ", $coll, " by their externalId"),
            description = "One transaction, all or nothing: every item is created or replaced by its `externalId`; when any is refused, nothing is written and every refused item is reported (`items[3].title`).",
            request_body(content = BulkRequest<$Input>, content_type = "application/json"),
            responses(
                (status = 200, description = "Every item, in request order", body = BulkResult),
                (status = 400, description = "Refused items, each with its index", body = Problem, content_type = "application/problem+json"),
                (status = 403, description = "Lacks the write scope", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $bulk(State(state): State<AppState>, actor: Actor, body: JsonBody) -> Result<Response> {
            collection::bulk::<$R>(&state, &actor, body).await
        }

        #[doc = concat!("List ", $coll, ".")]
        #[utoipa::path(get, path = $list_path, tag = $tag,
            summary = concat!("List ", $coll),
            description = "A page of live rows, oldest first, with the filters below; follow `nextCursor` (or the `Link: rel=\"next\"` header) for the next page. Unknown parameters are refused.",
            params(PageParams, $Filter),
            responses(
                (status = 200, description = "A page; with `Accept: text/csv`, every row under the filters as CSV (a header row, RFC 4180 quoting, lists joined with `;`), streamed", body = Page<$Dto>),
                (status = 400, description = "An invalid parameter", body = Problem, content_type = "application/problem+json"),
                (status = 403, description = "The token lacks the scope read", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $list(State(state): State<AppState>, actor: Actor, uri: Uri, headers: HeaderMap) -> Result<Response> {
            collection::list::<$R>(&state, &actor, &uri, &headers, &Scope::top($coll)).await
        }

        #[doc = concat!("Create one of the ", $coll, ".")]
        #[utoipa::path(post, path = $list_path, tag = $tag,
            summary = concat!("Create one of the ", $coll),
            description = "Every invalid field is reported at once (`invalidParams`). References may be given by id or by natural key. With an `Idempotency-Key`, the same request again within 24 hours gets the first response (`Idempotent-Replayed: true`) and creates nothing; the key with another body is a 422.",
            params(("Idempotency-Key" = Option<String>, Header, description = "Your key for this create, 1 to 255 characters")),
            request_body(content = $Input, content_type = "application/json"),
            responses(
                (status = 201, description = "Created; `Location` and `ETag` name it", body = $Dto),
                (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
                (status = 403, description = "Lacks the write scope, or outside this partner's regions and networks", body = Problem, content_type = "application/problem+json"),
                (status = 422, description = "The Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $create(State(state): State<AppState>, actor: Actor, headers: HeaderMap, body: JsonBody) -> Result<Response> {
            collection::create::<$R>(&state, &actor, &headers, body, &Scope::top($coll)).await
        }

        #[doc = concat!("Read one of the ", $coll, ".")]
        #[utoipa::path(get, path = $item_path, tag = $tag,
            summary = concat!("Read one of the ", $coll),
            description = "With `If-None-Match` naming the current `ETag`, 304 without a body.",
            params(("id" = String, Path, description = $key)),
            responses(
                (status = 200, description = "The resource, with its `ETag`", body = $Dto),
                (status = 304, description = "Not modified since the ETag in If-None-Match"),
                (status = 403, description = "The token lacks the scope read", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such resource (or deleted, or a draft of another partner)", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $get(State(state): State<AppState>, actor: Actor, Path(id): Path<String>, headers: HeaderMap) -> Result<Response> {
            collection::get::<$R>(&state, &actor, &id, &headers, &Scope::top($coll)).await
        }

        #[doc = concat!("Replace one of the ", $coll, ".")]
        #[utoipa::path(put, path = $item_path, tag = $tag,
            summary = concat!("Replace one of the ", $coll),
            description = "A full replacement: fields left out are cleared. With `If-Match`, refused (412) unless it names the current version. The same content again changes nothing.",
            params(("id" = uuid::Uuid, Path, description = "Its id")),
            request_body(content = $Input, content_type = "application/json"),
            responses(
                (status = 200, description = "The resource as it is now", body = $Dto),
                (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
                (status = 403, description = "Not the owner, lacks the write scope, or outside this partner's territory", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such resource", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "A natural key others show cannot change", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "If-Match names another version", body = Problem, content_type = "application/problem+json"),
                (status = 428, description = "This partner must send If-Match", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $replace(State(state): State<AppState>, actor: Actor, Path(id): Path<String>, headers: HeaderMap, body: JsonBody) -> Result<Response> {
            collection::replace::<$R>(&state, &actor, &id, &headers, body, &Scope::top($coll)).await
        }

        #[doc = concat!("Change some fields of one of the ", $coll, ".")]
        #[utoipa::path(patch, path = $item_path, tag = $tag,
            summary = concat!("Change fields of one of the ", $coll),
            description = "A JSON merge patch (RFC 7396): the fields given replace the current ones, `null` clears one; the result is validated like a PUT.",
            params(("id" = uuid::Uuid, Path, description = "Its id")),
            request_body(content = serde_json::Value, content_type = "application/merge-patch+json"),
            responses(
                (status = 200, description = "The resource as it is now", body = $Dto),
                (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such resource", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "Changed while the patch was applied (send it again), or a natural key others show cannot change", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "If-Match names another version", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $patch(State(state): State<AppState>, actor: Actor, Path(id): Path<String>, headers: HeaderMap, body: JsonBody) -> Result<Response> {
            collection::patch::<$R>(&state, &actor, &id, &headers, body, &Scope::top($coll)).await
        }

        #[doc = concat!("Delete one of the ", $coll, ".")]
        #[utoipa::path(delete, path = $item_path, tag = $tag,
            summary = concat!("Delete one of the ", $coll),
            description = "A soft delete: gone from reads and lists, a tombstone in the change feed. Refused (409) while live rows refer to it.",
            params(("id" = uuid::Uuid, Path, description = "Its id")),
            responses(
                (status = 204, description = "Deleted"),
                (status = 403, description = "Not the owner, or lacks the write scope", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such resource", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "Live rows still refer to it", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "If-Match names another version", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $delete(State(state): State<AppState>, actor: Actor, Path(id): Path<String>, headers: HeaderMap) -> Result<Response> {
            collection::delete::<$R>(&state, &actor, &id, &headers, &Scope::top($coll)).await
        }

        #[doc = concat!("Create or replace one of the ", $coll, " by your own id.")]
        #[utoipa::path(put, path = $external_path, tag = $tag,
            summary = concat!("Create or replace one of the ", $coll, " by your own id"),
            description = "Idempotent: the same content twice is one version and one change. A deleted resource is revived.",
            params(("externalId" = String, Path, description = "Your own id for it: 1 to 200 characters")),
            request_body(content = $Input, content_type = "application/json"),
            responses(
                (status = 200, description = "Replaced (or unchanged)", body = $Dto),
                (status = 201, description = "Created", body = $Dto),
                (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "A natural key others show cannot change", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "If-Match names another version", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $upsert(State(state): State<AppState>, actor: Actor, Path(external_id): Path<String>, headers: HeaderMap, body: JsonBody) -> Result<Response> {
            collection::upsert::<$R>(&state, &actor, &external_id, &headers, body, &Scope::top($coll)).await
        }
    };
}

/// Declares the seven handlers of a sub-collection (`/networks/{networkId}/goals`).
macro_rules! nested {
    (
        resource: $R:ty, dto: $Dto:ty, input: $Input:ty, filter: $Filter:ty,
        parent: $parent:literal, parent_param: $pp:literal, field: $field:literal,
        collection: $coll:literal, tag: $tag:literal,
        list: $list:ident = $list_path:literal,
        create: $create:ident,
        get: $get:ident = $item_path:literal,
        replace: $replace:ident, patch: $patch:ident, delete: $delete:ident,
        upsert: $upsert:ident = $external_path:literal,
        read_external: $read_external:ident $(,)?
    ) => {
        #[doc = concat!("Read one of the ", $coll, " by your own id.")]
        #[utoipa::path(get, path = $external_path, tag = $tag,
            summary = concat!("Read one of the ", $coll, " by your own id"),
            description = "The live resource this partner created or last wrote under its own `externalId`, under this parent, with its `ETag`.",
            params(("parentId" = uuid::Uuid, Path, description = "The parent's id"), ("externalId" = String, Path, description = "Your own id for it")),
            responses(
                (status = 200, description = "The resource, with its `ETag`", body = $Dto),
                (status = 304, description = "Not modified since the ETag in If-None-Match"),
                (status = 404, description = "None of yours has this externalId under this parent", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $read_external(State(state): State<AppState>, actor: Actor, Path((parent, external_id)): Path<(String, String)>, headers: HeaderMap) -> Result<Response> {
            let scope = Scope::under($parent, &parent, $coll, $field)?;
            collection::get_external::<$R>(&state, &actor, &external_id, &headers, &scope).await
        }

        #[doc = concat!("List the ", $coll, " of one of the ", $parent, ".")]
        #[utoipa::path(get, path = $list_path, tag = $tag,
            summary = concat!("List the ", $coll, " of one of the ", $parent),
            params(("parentId" = uuid::Uuid, Path, description = "The parent's id"), PageParams),
            responses(
                (status = 200, description = "A page", body = Page<$Dto>),
                (status = 400, description = "An invalid parameter", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $list(State(state): State<AppState>, actor: Actor, Path(parent): Path<String>, uri: Uri, headers: HeaderMap) -> Result<Response> {
            let scope = Scope::under($parent, &parent, $coll, $field)?;
            collection::list::<$R>(&state, &actor, &uri, &headers, &scope).await
        }

        #[doc = concat!("Add one of the ", $coll, ".")]
        #[utoipa::path(post, path = $list_path, tag = $tag,
            summary = concat!("Add to the ", $coll, " of one of the ", $parent),
            description = "Written under the parent's rules: its owner (or an admin), inside its regions and networks.",
            params(("parentId" = uuid::Uuid, Path, description = "The parent's id")),
            request_body(content = $Input, content_type = "application/json"),
            responses(
                (status = 201, description = "Created", body = $Dto),
                (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
                (status = 403, description = "Not the parent's owner, or outside its territory", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $create(State(state): State<AppState>, actor: Actor, Path(parent): Path<String>, headers: HeaderMap, body: JsonBody) -> Result<Response> {
            let scope = Scope::under($parent, &parent, $coll, $field)?;
            collection::create::<$R>(&state, &actor, &headers, body, &scope).await
        }

        #[doc = concat!("Read one of the ", $coll, ".")]
        #[utoipa::path(get, path = $item_path, tag = $tag,
            summary = concat!("Read one of the ", $coll),
            params(("parentId" = uuid::Uuid, Path, description = "The parent's id"), ("id" = uuid::Uuid, Path, description = "Its id")),
            responses(
                (status = 200, description = "The resource, with its `ETag`", body = $Dto),
                (status = 304, description = "Not modified"),
                (status = 404, description = "No such resource under this parent", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $get(State(state): State<AppState>, actor: Actor, Path((parent, id)): Path<(String, String)>, headers: HeaderMap) -> Result<Response> {
            let scope = Scope::under($parent, &parent, $coll, $field)?;
            collection::parse_id(&id, "id")?;
            collection::get::<$R>(&state, &actor, &id, &headers, &scope).await
        }

        #[doc = concat!("Replace one of the ", $coll, ".")]
        #[utoipa::path(put, path = $item_path, tag = $tag,
            summary = concat!("Replace one of the ", $coll),
            params(("parentId" = uuid::Uuid, Path, description = "The parent's id"), ("id" = uuid::Uuid, Path, description = "Its id")),
            request_body(content = $Input, content_type = "application/json"),
            responses(
                (status = 200, description = "The resource as it is now", body = $Dto),
                (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such resource under this parent", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "If-Match names another version", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $replace(State(state): State<AppState>, actor: Actor, Path((parent, id)): Path<(String, String)>, headers: HeaderMap, body: JsonBody) -> Result<Response> {
            let scope = Scope::under($parent, &parent, $coll, $field)?;
            collection::replace::<$R>(&state, &actor, &id, &headers, body, &scope).await
        }

        #[doc = concat!("Change fields of one of the ", $coll, ".")]
        #[utoipa::path(patch, path = $item_path, tag = $tag,
            summary = concat!("Change fields of one of the ", $coll),
            params(("parentId" = uuid::Uuid, Path, description = "The parent's id"), ("id" = uuid::Uuid, Path, description = "Its id")),
            request_body(content = serde_json::Value, content_type = "application/merge-patch+json"),
            responses(
                (status = 200, description = "The resource as it is now", body = $Dto),
                (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
                (status = 404, description = "No such resource under this parent", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $patch(State(state): State<AppState>, actor: Actor, Path((parent, id)): Path<(String, String)>, headers: HeaderMap, body: JsonBody) -> Result<Response> {
            let scope = Scope::under($parent, &parent, $coll, $field)?;
            collection::patch::<$R>(&state, &actor, &id, &headers, body, &scope).await
        }

        #[doc = concat!("Delete one of the ", $coll, ".")]
        #[utoipa::path(delete, path = $item_path, tag = $tag,
            summary = concat!("Delete one of the ", $coll),
            params(("parentId" = uuid::Uuid, Path, description = "The parent's id"), ("id" = uuid::Uuid, Path, description = "Its id")),
            responses(
                (status = 204, description = "Deleted"),
                (status = 404, description = "No such resource under this parent", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $delete(State(state): State<AppState>, actor: Actor, Path((parent, id)): Path<(String, String)>, headers: HeaderMap) -> Result<Response> {
            let scope = Scope::under($parent, &parent, $coll, $field)?;
            collection::delete::<$R>(&state, &actor, &id, &headers, &scope).await
        }

        #[doc = concat!("Create or replace one of the ", $coll, " by your own id.")]
        #[utoipa::path(put, path = $external_path, tag = $tag,
            summary = concat!("Create or replace one of the ", $coll, " by your own id"),
            params(("parentId" = uuid::Uuid, Path, description = "The parent's id"), ("externalId" = String, Path, description = "Your own id for it")),
            request_body(content = $Input, content_type = "application/json"),
            responses(
                (status = 200, description = "Replaced (or unchanged)", body = $Dto),
                (status = 201, description = "Created", body = $Dto),
                (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $upsert(State(state): State<AppState>, actor: Actor, Path((parent, external_id)): Path<(String, String)>, headers: HeaderMap, body: JsonBody) -> Result<Response> {
            let scope = Scope::under($parent, &parent, $coll, $field)?;
            collection::upsert::<$R>(&state, &actor, &external_id, &headers, body, &scope).await
        }
    };
}

top_level!(resource: Regions, dto: Region, input: RegionInput, filter: RegionFilter,
    collection: "regions", tag: "regions", key: "Its id, or its CBS code (GM0114)",
    list: list_regions = "/api/v1/regions", create: create_region,
    get: get_region = "/api/v1/regions/{id}", replace: replace_region, patch: patch_region,
    delete: delete_region, upsert: upsert_region = "/api/v1/regions/external/{externalId}", read_external: get_region_by_external_id,
    bulk: bulk_region = "/api/v1/regions/bulk");
top_level!(resource: Organizations, dto: Organization, input: OrganizationInput, filter: OrganizationFilter,
    collection: "organizations", tag: "organizations", key: "Its id",
    list: list_organizations = "/api/v1/organizations", create: create_organization,
    get: get_organization = "/api/v1/organizations/{id}", replace: replace_organization,
    patch: patch_organization, delete: delete_organization,
    upsert: upsert_organization = "/api/v1/organizations/external/{externalId}", read_external: get_organization_by_external_id,
    bulk: bulk_organization = "/api/v1/organizations/bulk");
top_level!(resource: Themes, dto: Theme, input: ThemeInput, filter: ThemeFilter,
    collection: "themes", tag: "themes", key: "Its id, or its slug (voeding)",
    list: list_themes = "/api/v1/themes", create: create_theme,
    get: get_theme = "/api/v1/themes/{id}", replace: replace_theme, patch: patch_theme,
    delete: delete_theme, upsert: upsert_theme = "/api/v1/themes/external/{externalId}", read_external: get_theme_by_external_id,
    bulk: bulk_theme = "/api/v1/themes/bulk");
top_level!(resource: Networks, dto: Network, input: NetworkInput, filter: NetworkFilter,
    collection: "networks", tag: "networks", key: "Its id, or its slug (legro)",
    list: list_networks = "/api/v1/networks", create: create_network,
    get: get_network = "/api/v1/networks/{id}", replace: replace_network, patch: patch_network,
    delete: delete_network, upsert: upsert_network = "/api/v1/networks/external/{externalId}", read_external: get_network_by_external_id,
    bulk: bulk_network = "/api/v1/networks/bulk");
top_level!(resource: PracticeExamples, dto: PracticeExample, input: PracticeExampleInput,
    filter: PracticeExampleFilter,
    collection: "practice-examples", tag: "practice-examples", key: "Its id, or its slug",
    list: list_practice_examples = "/api/v1/practice-examples", create: create_practice_example,
    get: get_practice_example = "/api/v1/practice-examples/{id}",
    replace: replace_practice_example, patch: patch_practice_example,
    delete: delete_practice_example,
    upsert: upsert_practice_example = "/api/v1/practice-examples/external/{externalId}", read_external: get_practice_example_by_external_id,
    bulk: bulk_practice_example = "/api/v1/practice-examples/bulk");
top_level!(resource: Initiatives, dto: Initiative, input: InitiativeInput, filter: InitiativeFilter,
    collection: "initiatives", tag: "initiatives", key: "Its id",
    list: list_initiatives = "/api/v1/initiatives", create: create_initiative,
    get: get_initiative = "/api/v1/initiatives/{id}", replace: replace_initiative,
    patch: patch_initiative, delete: delete_initiative,
    upsert: upsert_initiative = "/api/v1/initiatives/external/{externalId}", read_external: get_initiative_by_external_id,
    bulk: bulk_initiative = "/api/v1/initiatives/bulk");
top_level!(resource: Lessons, dto: Lesson, input: LessonInput, filter: LessonFilter,
    collection: "lessons", tag: "lessons", key: "Its id",
    list: list_lessons = "/api/v1/lessons", create: create_lesson,
    get: get_lesson = "/api/v1/lessons/{id}", replace: replace_lesson, patch: patch_lesson,
    delete: delete_lesson, upsert: upsert_lesson = "/api/v1/lessons/external/{externalId}", read_external: get_lesson_by_external_id,
    bulk: bulk_lesson = "/api/v1/lessons/bulk");
top_level!(resource: Programmes, dto: Programme, input: ProgrammeInput, filter: ProgrammeFilter,
    collection: "programmes", tag: "programmes", key: "Its id",
    list: list_programmes = "/api/v1/programmes", create: create_programme,
    get: get_programme = "/api/v1/programmes/{id}", replace: replace_programme,
    patch: patch_programme, delete: delete_programme,
    upsert: upsert_programme = "/api/v1/programmes/external/{externalId}", read_external: get_programme_by_external_id,
    bulk: bulk_programme = "/api/v1/programmes/bulk");
top_level!(resource: Assignments, dto: Assignment, input: AssignmentInput, filter: AssignmentFilter,
    collection: "assignments", tag: "assignments", key: "Its id",
    list: list_assignments = "/api/v1/assignments", create: create_assignment,
    get: get_assignment = "/api/v1/assignments/{id}", replace: replace_assignment,
    patch: patch_assignment, delete: delete_assignment,
    upsert: upsert_assignment = "/api/v1/assignments/external/{externalId}", read_external: get_assignment_by_external_id,
    bulk: bulk_assignment = "/api/v1/assignments/bulk");

nested!(resource: Goals, dto: Goal, input: GoalInput, filter: NetworkChildFilter,
    parent: "networks", parent_param: "parentId", field: "networkId",
    collection: "goals", tag: "networks",
    list: list_goals = "/api/v1/networks/{parentId}/goals", create: create_goal,
    get: get_goal = "/api/v1/networks/{parentId}/goals/{id}", replace: replace_goal,
    patch: patch_goal, delete: delete_goal,
    upsert: upsert_goal = "/api/v1/networks/{parentId}/goals/external/{externalId}", read_external: get_goal_by_external_id);
nested!(resource: Memberships, dto: Membership, input: MembershipInput, filter: NetworkChildFilter,
    parent: "networks", parent_param: "parentId", field: "networkId",
    collection: "members", tag: "networks",
    list: list_members = "/api/v1/networks/{parentId}/members", create: create_member,
    get: get_member = "/api/v1/networks/{parentId}/members/{id}", replace: replace_member,
    patch: patch_member, delete: delete_member,
    upsert: upsert_member = "/api/v1/networks/{parentId}/members/external/{externalId}", read_external: get_member_by_external_id);
nested!(resource: Reports, dto: Report, input: ReportInput, filter: NetworkChildFilter,
    parent: "networks", parent_param: "parentId", field: "networkId",
    collection: "reports", tag: "networks",
    list: list_reports = "/api/v1/networks/{parentId}/reports", create: create_report,
    get: get_report = "/api/v1/networks/{parentId}/reports/{id}", replace: replace_report,
    patch: patch_report, delete: delete_report,
    upsert: upsert_report = "/api/v1/networks/{parentId}/reports/external/{externalId}", read_external: get_report_by_external_id);
nested!(resource: Transfers, dto: Transfer, input: TransferInput, filter: TransferFilter,
    parent: "lessons", parent_param: "parentId", field: "lessonId",
    collection: "transfers", tag: "lessons",
    list: list_transfers = "/api/v1/lessons/{parentId}/transfers", create: create_transfer,
    get: get_transfer = "/api/v1/lessons/{parentId}/transfers/{id}", replace: replace_transfer,
    patch: patch_transfer, delete: delete_transfer,
    upsert: upsert_transfer = "/api/v1/lessons/{parentId}/transfers/external/{externalId}", read_external: get_transfer_by_external_id);

/// Every collection's routes, with their documentation; bulk requests may be
/// `bulk_body_limit` bytes.
pub fn routes(bulk_body_limit: usize) -> OpenApiRouter<AppState> {
    let bulk = OpenApiRouter::new()
        .routes(routes!(bulk_region))
        .routes(routes!(bulk_organization))
        .routes(routes!(bulk_theme))
        .routes(routes!(bulk_network))
        .routes(routes!(bulk_practice_example))
        .routes(routes!(bulk_initiative))
        .routes(routes!(bulk_lesson))
        .routes(routes!(bulk_programme))
        .routes(routes!(bulk_assignment))
        .layer(axum::extract::DefaultBodyLimit::max(bulk_body_limit))
        .layer(axum::Extension(crate::rest::extract::BodyLimit(
            bulk_body_limit,
        )));
    OpenApiRouter::new()
        .merge(bulk)
        .routes(routes!(list_regions, create_region))
        .routes(routes!(
            get_region,
            replace_region,
            patch_region,
            delete_region
        ))
        .routes(routes!(get_region_by_external_id, upsert_region))
        .routes(routes!(list_organizations, create_organization))
        .routes(routes!(
            get_organization,
            replace_organization,
            patch_organization,
            delete_organization
        ))
        .routes(routes!(
            get_organization_by_external_id,
            upsert_organization
        ))
        .routes(routes!(list_themes, create_theme))
        .routes(routes!(get_theme, replace_theme, patch_theme, delete_theme))
        .routes(routes!(get_theme_by_external_id, upsert_theme))
        .routes(routes!(list_networks, create_network))
        .routes(routes!(
            get_network,
            replace_network,
            patch_network,
            delete_network
        ))
        .routes(routes!(get_network_by_external_id, upsert_network))
        .routes(routes!(list_practice_examples, create_practice_example))
        .routes(routes!(
            get_practice_example,
            replace_practice_example,
            patch_practice_example,
            delete_practice_example
        ))
        .routes(routes!(
            get_practice_example_by_external_id,
            upsert_practice_example
        ))
        .routes(routes!(list_initiatives, create_initiative))
        .routes(routes!(
            get_initiative,
            replace_initiative,
            patch_initiative,
            delete_initiative
        ))
        .routes(routes!(get_initiative_by_external_id, upsert_initiative))
        .routes(routes!(list_lessons, create_lesson))
        .routes(routes!(
            get_lesson,
            replace_lesson,
            patch_lesson,
            delete_lesson
        ))
        .routes(routes!(get_lesson_by_external_id, upsert_lesson))
        .routes(routes!(list_programmes, create_programme))
        .routes(routes!(
            get_programme,
            replace_programme,
            patch_programme,
            delete_programme
        ))
        .routes(routes!(get_programme_by_external_id, upsert_programme))
        .routes(routes!(list_assignments, create_assignment))
        .routes(routes!(
            get_assignment,
            replace_assignment,
            patch_assignment,
            delete_assignment
        ))
        .routes(routes!(get_assignment_by_external_id, upsert_assignment))
        .routes(routes!(list_goals, create_goal))
        .routes(routes!(get_goal, replace_goal, patch_goal, delete_goal))
        .routes(routes!(get_goal_by_external_id, upsert_goal))
        .routes(routes!(list_members, create_member))
        .routes(routes!(
            get_member,
            replace_member,
            patch_member,
            delete_member
        ))
        .routes(routes!(get_member_by_external_id, upsert_member))
        .routes(routes!(list_reports, create_report))
        .routes(routes!(
            get_report,
            replace_report,
            patch_report,
            delete_report
        ))
        .routes(routes!(get_report_by_external_id, upsert_report))
        .routes(routes!(list_transfers, create_transfer))
        .routes(routes!(
            get_transfer,
            replace_transfer,
            patch_transfer,
            delete_transfer
        ))
        .routes(routes!(get_transfer_by_external_id, upsert_transfer))
}
