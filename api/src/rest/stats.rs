//! `GET /api/v1/stats/{collection}`: counts for dashboards per region (at a level of the
//! tree), theme or year, under the collection's list filters; JSON, or CSV with
//! `Accept: text/csv`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::*;
use crate::error::{Error, Problem, Result};
use crate::rest::collection::{self, csv_field, updated_since};
use crate::rest::extract::parse_query;
use crate::service::stats::{self, Counted, GroupBy, Stats};
use crate::service::{
    Actor, Assignments, Initiatives, Lessons, Networks, PageRequest, PracticeExamples,
};
use crate::state::AppState;

/// The parameters every stats request has, as read.
#[derive(Debug, Clone, Default)]
struct StatsParams {
    group_by: Option<String>,
    region_level: Option<String>,
    updated_since: Option<chrono::DateTime<chrono::Utc>>,
    q: Option<String>,
}

/// What to count by.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Grouping {
    /// Per region at `regionLevel`.
    Region,
    /// Per theme.
    Theme,
    /// Per year.
    Year,
}

/// What to count by, for collections without themes.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupingWithoutThemes {
    /// Per region at `regionLevel`.
    Region,
    /// Per year.
    Year,
}

/// The parameters of a stats request (documentation; read by [`stats_params`]).
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// What to count by (required).
    pub group_by: Grouping,
    /// For `groupBy=region`: the level of the region tree to count per (default
    /// `municipality`).
    pub region_level: Option<RegionKind>,
    /// Only rows changed at or after this time (RFC 3339).
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
    /// Full-text search, as in lists.
    pub q: Option<String>,
}

/// The parameters of a stats request on a collection without themes (documentation).
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct StatsQueryWithoutThemes {
    /// What to count by (required).
    pub group_by: GroupingWithoutThemes,
    /// For `groupBy=region`: the level of the region tree to count per (default
    /// `municipality`).
    pub region_level: Option<RegionKind>,
    /// Only rows changed at or after this time (RFC 3339).
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
    /// Full-text search, as in lists.
    pub q: Option<String>,
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
}

/// The filter, grouping and list options of a stats request.
fn stats_params<R: Counted>(query: &str) -> Result<(R::Filter, GroupBy, PageRequest)>
where
    R::Filter: DeserializeOwned,
{
    let mut params = StatsParams::default();
    let mut rest = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "groupBy" => params.group_by = Some(value.into_owned()),
            "regionLevel" => params.region_level = Some(value.into_owned()),
            "q" => params.q = Some(value.into_owned()),
            "updatedSince" => params.updated_since = Some(updated_since(&value)?),
            _ => {
                rest.append_pair(&key, &value);
            }
        }
    }
    let filter: R::Filter = parse_query(&rest.finish())?;
    let level: RegionKind = match params.region_level.as_deref() {
        None => RegionKind::Municipality,
        Some(level) => level
            .parse()
            .map_err(|reason: String| Error::invalid("regionLevel", reason))?,
    };
    let group_by = match params.group_by.as_deref() {
        Some("region") => GroupBy::Region(level),
        Some("theme") => GroupBy::Theme,
        Some("year") => GroupBy::Year,
        Some(other) => {
            return Err(Error::invalid(
                "groupBy",
                format!("must be region, theme or year, got {other}"),
            ));
        }
        None => {
            return Err(Error::invalid(
                "groupBy",
                "is required: region, theme or year",
            ));
        }
    };
    let page = PageRequest {
        updated_since: params.updated_since,
        q: params.q,
        ..PageRequest::default()
    };
    Ok((filter, group_by, page))
}

async fn counted<R: Counted>(
    state: &AppState,
    actor: &Actor,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response>
where
    R::Filter: DeserializeOwned,
{
    let (filter, group_by, page) = stats_params::<R>(uri.query().unwrap_or_default())?;
    let result =
        stats::stats_cached::<R>(&state.db, &state.cache, actor, &filter, &page, group_by).await?;
    let csv = wants_csv(headers);
    if !csv && let Some(tag) = collection::not_modified(headers, result.version) {
        return Ok(collection::not_modified_response(&tag));
    }
    let mut response = render(&result.value, csv);
    if !csv {
        collection::versioned(&mut response, result.version);
    }
    Ok(response)
}

fn render(stats: &Stats, csv: bool) -> Response {
    if !csv {
        let mut response = Json(stats).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    }
    let total = stats.total_of.as_deref();
    let mut body = String::from("key,label,count");
    if let Some(total) = total {
        body.push(',');
        body.push_str(total);
    }
    body.push_str("\r\n");
    for group in &stats.groups {
        body.push_str(&csv_field(group.key.as_deref().unwrap_or_default()));
        body.push(',');
        body.push_str(&csv_field(group.label.as_deref().unwrap_or_default()));
        body.push(',');
        body.push_str(&group.count.to_string());
        if total.is_some() {
            body.push(',');
            body.push_str(&group.total.unwrap_or_default().to_string());
        }
        body.push_str("\r\n");
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

macro_rules! stats_handler {
    ($name:ident, $R:ty, $filter:ty, $params:ty, $path:literal, $what:literal, $by:literal) => {
        #[doc = concat!("Counts of ", $what, ".")]
        #[utoipa::path(get, path = $path, tag = "stats",
            summary = concat!("Count ", $what, " per ", $by),
            description = "Under the same filters as the list (and `updatedSince`, `q`). `groupBy=region` counts per region at `regionLevel` (a row counts in the region at that level that its own region lies in); with `Accept: text/csv` the answer is CSV (`key,label,count`).",
            params($params, $filter),
            responses(
                (status = 200, description = "The counts, largest first", body = Stats, content_type = "application/json"),
                (status = 400, description = "An invalid parameter", body = Problem, content_type = "application/problem+json"),
            ),
            security(("bearer" = [])))]
        pub async fn $name(State(state): State<AppState>, actor: Actor, uri: Uri, headers: HeaderMap) -> Result<Response> {
            counted::<$R>(&state, &actor, &uri, &headers).await
        }
    };
}

stats_handler!(
    get_network_stats,
    Networks,
    NetworkFilter,
    StatsQuery,
    "/api/v1/stats/networks",
    "networks",
    "region, theme or year"
);
stats_handler!(
    get_practice_example_stats,
    PracticeExamples,
    PracticeExampleFilter,
    StatsQuery,
    "/api/v1/stats/practice-examples",
    "practice examples",
    "region, theme or year"
);
stats_handler!(
    get_initiative_stats,
    Initiatives,
    InitiativeFilter,
    StatsQuery,
    "/api/v1/stats/initiatives",
    "initiatives (and residents reached)",
    "region, theme or year"
);
stats_handler!(
    get_assignment_stats,
    Assignments,
    AssignmentFilter,
    StatsQueryWithoutThemes,
    "/api/v1/stats/assignments",
    "assignments",
    "region or year"
);
stats_handler!(
    get_lesson_stats,
    Lessons,
    LessonFilter,
    StatsQuery,
    "/api/v1/stats/lessons",
    "lessons",
    "region, theme or year"
);

/// The stats routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_network_stats))
        .routes(routes!(get_practice_example_stats))
        .routes(routes!(get_initiative_stats))
        .routes(routes!(get_assignment_stats))
        .routes(routes!(get_lesson_stats))
}
