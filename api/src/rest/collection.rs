//! What every collection's handlers do, once: translate HTTP to the service's generic life
//! cycle ([`crate::service::resource`]) and back. The per-collection handlers in
//! [`super::resources`] are one-line calls into these, annotated for the OpenAPI document.
//!
//! - `ETag` is the resource's version (`"3"`); `If-None-Match` answers 304, `If-Match` on
//!   PUT, PATCH and DELETE is the expected version (412 when stale, 428 for partners that
//!   must always send it).
//! - PATCH is a JSON merge patch (RFC 7396) applied to the current representation, then
//!   validated exactly like a PUT.
//! - A sub-collection (`/networks/{networkId}/goals`) takes its parent from the path: the
//!   body may leave the parent out, and a row of another parent is not found there.
//! - Lists page by an opaque cursor and say where the next page is in `nextCursor` and a
//!   `Link: <...>; rel="next"` header.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::dto::cursor;
use crate::error::{Error, Result};
use crate::rest::extract::{JsonBody, from_json, from_json_str, parse_query};
use crate::service::idempotency::{self, Outcome};
use crate::service::resource::Sort;
use crate::service::{self, Actor, PageRequest, Resource};
use crate::state::AppState;

/// Where a collection lives: its path, and for a sub-collection its parent.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The collection's path, e.g. `/api/v1/networks/<id>/goals`.
    pub base: String,
    /// For a sub-collection: the body and filter field naming the parent, and its id.
    pub parent: Option<(&'static str, Uuid)>,
}

impl Scope {
    /// A top-level collection.
    pub fn top(collection: &str) -> Self {
        Self {
            base: format!("/api/v1/{collection}"),
            parent: None,
        }
    }

    /// A sub-collection of parent `parent_id` (`networks`), its rows naming it in `field`.
    pub fn under(
        parent: &str,
        parent_id: &str,
        collection: &str,
        field: &'static str,
    ) -> Result<Self> {
        let id = parse_id(parent_id, field)?;
        Ok(Self {
            base: format!("/api/v1/{parent}/{id}/{collection}"),
            parent: Some((field, id)),
        })
    }
}

/// A page of a collection, as sent.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items, in the list's order (a collection's `sort`, oldest first by default).
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The list parameters every collection has.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 500 (default 50); anything else is refused, never clamped.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// Where to continue: the `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// The order: `createdAt` (default), `updatedAt`, or the collection's name or title
    /// field; `-` in front for descending (`-updatedAt`).
    pub sort: Option<String>,
    /// Only rows changed at or after this time (RFC 3339).
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
    /// Full-text search in the collection's text fields (Dutch-aware on PostgreSQL: `wijken`
    /// finds `wijk`).
    pub q: Option<String>,
}

/// Parses an id from a path, naming the parameter when it is not one.
pub fn parse_id(value: &str, name: &str) -> Result<Uuid> {
    Uuid::try_parse(value).map_err(|_| Error::invalid(name, "is not an id (a UUID)"))
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn version_of(dto: &Value) -> i64 {
    dto["version"].as_i64().unwrap_or_default()
}

/// Content codings a representation may be sent in, each with its own strong entity tag
/// (`"3"`, `"3-gzip"`, `"3-br"`, as Apache does), since the bytes differ.
pub const CODINGS: &[&str] = &["gzip", "br"];

/// One entity tag: whether it is weak, and the version it names if it is one of ours
/// (`"3"`, `"3-gzip"`, `"3-br"`, exactly as sent: `"03"` names none); `None` when the text
/// is not an entity tag at all.
fn parse_tag(tag: &str) -> Option<(bool, Option<i64>)> {
    let tag = tag.trim();
    let (weak, tag) = match tag.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    };
    let inner = tag.strip_prefix('"')?.strip_suffix('"')?;
    let version = match inner.split_once('-') {
        Some((version, coding)) if CODINGS.contains(&coding) => version,
        Some(_) => return Some((weak, None)),
        None => inner,
    };
    let named = version
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 1 && v.to_string() == version);
    Some((weak, named))
}

/// The version `If-Match` names; `None` without the header or for `*`. `If-Match`
/// compares strongly (RFC 9110 §13.1.1): a weak tag matches nothing, nor does a tag this
/// API did not send, so one without a strong tag of ours is a 412.
fn if_match(headers: &HeaderMap) -> Result<Option<i32>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| Error::invalid("If-Match", "is not an ETag"))?
        .trim();
    if text == "*" {
        return Ok(None);
    }
    let mut strong = None;
    for tag in text.split(',') {
        let (weak, version) = parse_tag(tag)
            .ok_or_else(|| Error::invalid("If-Match", "must be ETags as sent, e.g. \"3\""))?;
        if !weak && strong.is_none() {
            strong = version;
        }
    }
    match strong {
        Some(version) => i32::try_from(version)
            .map(Some)
            .map_err(|_| Error::invalid("If-Match", "names no version")),
        None => Err(Error::PreconditionNeverMet(
            "If-Match compares strongly: it names no version of this resource as its ETag was sent (a weak W/\"...\" tag never matches)".to_owned(),
        )),
    }
}

/// The tag of `If-None-Match` that names the current version (compared weakly), in its
/// strong form, or `*`.
pub fn not_modified(headers: &HeaderMap, version: i64) -> Option<String> {
    let value = headers.get(header::IF_NONE_MATCH)?.to_str().ok()?;
    value.split(',').find_map(|tag| {
        let tag = tag.trim();
        if tag == "*" {
            return Some(format!("\"{version}\""));
        }
        let (_, named) = parse_tag(tag)?;
        (named == Some(version)).then(|| tag.trim_start_matches("W/").to_owned())
    })
}

/// A 304 with what the 200 would have carried: the entity tag, `Cache-Control` and `Vary`.
pub fn not_modified_response(tag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    let headers = response.headers_mut();
    if let Ok(tag) = HeaderValue::from_str(tag) {
        headers.insert(header::ETAG, tag);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// Whether `sent` (one entity tag of a header, `W/` removed) names the representation
/// tagged `"<tag>"` in any of its codings.
fn names_tag(sent: &str, tag: &str) -> bool {
    let Some(inner) = sent.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return false;
    };
    inner == tag
        || inner
            .strip_prefix(tag)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|coding| CODINGS.contains(&coding))
}

/// A read of a resource that has no version, whose representation is tagged `"<tag>"`
/// (opaque, without a `-`: a compressed representation appends its coding, `"<tag>-gzip"`):
/// `If-Match` compared strongly (412 unless it names this representation), `If-None-Match`
/// weakly (304); else 200 with the body and its `ETag`.
pub fn read_tagged<T: Serialize>(headers: &HeaderMap, body: &T, tag: &str) -> Result<Response> {
    let tags = |name: header::HeaderName| -> Result<Option<Vec<String>>> {
        let Some(value) = headers.get(&name) else {
            return Ok(None);
        };
        let text = value
            .to_str()
            .map_err(|_| Error::invalid(name.as_str(), "is not an ETag"))?;
        let tags: Vec<String> = text.split(',').map(|t| t.trim().to_owned()).collect();
        if tags.iter().any(|t| t != "*" && parse_tag(t).is_none()) {
            return Err(Error::invalid(
                name.as_str(),
                "must be ETags as sent, e.g. \"3\"",
            ));
        }
        Ok(Some(tags))
    };
    if let Some(sent) = tags(header::IF_MATCH)?
        && !sent
            .iter()
            .any(|t| t == "*" || (!t.starts_with("W/") && names_tag(t, tag)))
    {
        return Err(Error::PreconditionNeverMet(
            "If-Match names no representation of this resource as it is now (compared strongly: a weak W/\"...\" tag never matches); read it again".to_owned(),
        ));
    }
    if let Some(sent) = tags(header::IF_NONE_MATCH)? {
        let matched = sent.iter().find_map(|t| {
            let strong = t.trim_start_matches("W/");
            if t == "*" {
                Some(format!("\"{tag}\""))
            } else {
                names_tag(strong, tag).then(|| strong.to_owned())
            }
        });
        if let Some(matched) = matched {
            return Ok(not_modified_response(&matched));
        }
    }
    let mut response = (StatusCode::OK, Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{tag}\"")) {
        headers.insert(header::ETAG, tag);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Ok(response)
}

/// One resource as a response, with its `ETag`.
fn one(status: StatusCode, dto: &Value, location: Option<String>) -> Response {
    let mut response = (status, Json(dto)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag(version_of(dto)));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    response
}

fn to_value<T: Serialize>(dto: &T) -> Result<Value> {
    serde_json::to_value(dto).map_err(Error::internal)
}

/// The body with the scope's parent filled in (or checked when given).
fn with_parent(scope: &Scope, mut body: Value) -> Result<Value> {
    if let (Some((field, id)), Some(object)) = (scope.parent, body.as_object_mut()) {
        match object.get(field) {
            None | Some(Value::Null) => {
                object.insert(field.to_owned(), Value::String(id.to_string()));
            }
            Some(given) if given.as_str() == Some(id.to_string().as_str()) => {}
            Some(_) => {
                return Err(Error::invalid(
                    field,
                    "must be the parent in the path (or be left out)",
                ));
            }
        }
    }
    Ok(body)
}

/// The filter, page size and cursor of a list request. The parent of a sub-collection is
/// the path's; `limit` and `cursor` are the page's; every other parameter must be a filter
/// of the collection.
fn list_params<R: Resource>(query: &str, scope: &Scope) -> Result<(R::Filter, PageRequest)>
where
    R::Filter: DeserializeOwned,
{
    let mut page = PageParams::default();
    let mut rest = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "limit" => {
                page.limit = Some(value.parse().map_err(|_| {
                    Error::invalid(
                        "limit",
                        format!("must be a number from 1 to 500, got {value}"),
                    )
                })?);
            }
            "cursor" => page.cursor = Some(value.into_owned()),
            "sort" => page.sort = Some(value.into_owned()),
            "q" => page.q = Some(value.into_owned()),
            "updatedSince" => page.updated_since = Some(updated_since(&value)?),
            k if scope.parent.is_some_and(|(field, _)| field == k) => {
                return Err(Error::invalid(k, "is given by the path"));
            }
            _ => {
                rest.append_pair(&key, &value);
            }
        }
    }
    if let Some((field, id)) = scope.parent {
        rest.append_pair(field, &id.to_string());
    }
    let filter: R::Filter = parse_query(&rest.finish())?;
    let sort = page.sort.as_deref().map(Sort::parse).unwrap_or_default();
    let after = page
        .cursor
        .as_deref()
        .map(|c| cursor::decode(R::TYPE, &sort, c))
        .transpose()?;
    Ok((
        filter,
        PageRequest {
            limit: page.limit.unwrap_or(50),
            after,
            sort,
            updated_since: page.updated_since,
            q: page.q,
        },
    ))
}

/// The `updatedSince` parameter of lists and stats: an RFC 3339 time.
pub fn updated_since(value: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            Error::invalid(
                "updatedSince",
                format!("must be an RFC 3339 time such as 2024-01-31T12:00:00Z, got {value}"),
            )
        })
}

/// The `Link` header pointing at the page after `cursor`, keeping the other parameters.
pub fn next_link(base: &str, query: &str, cursor: &str) -> String {
    let mut next = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key != "cursor" {
            next.append_pair(&key, &value);
        }
    }
    next.append_pair("cursor", cursor);
    format!("<{base}?{}>; rel=\"next\"", next.finish())
}

/// One value as a CSV cell: text as it is, lists joined with `;` (objects in a list as
/// their values joined with `:`), nothing for null; RFC 4180 quoting.
fn csv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => csv_field(s),
        Value::Array(items) => csv_field(
            &items
                .iter()
                .map(|item| match item {
                    Value::Object(fields) => fields
                        .values()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(":"),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(";"),
        ),
        // Numbers and booleans: never quoted, never a formula.
        other => other.to_string(),
    }
}

/// One CSV field of text: RFC 4180 quoting, and text a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) prefixed with `'`, so that
/// a title like `=HYPERLINK(...)` stays text (OWASP: CSV injection).
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Rows of `items` as CSV lines (with the header row of `columns` when `header`).
fn csv_rows(columns: &[String], items: &[Value], header: bool) -> String {
    let mut out = String::new();
    if header {
        out.push_str(&columns.join(","));
        out.push_str("\r\n");
    }
    for item in items {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| csv_cell(&item[c.as_str()]))
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The whole list as CSV, streamed page by page (500 rows a page): a dashboard or a
/// spreadsheet gets every row under the filters without holding them all in memory.
async fn list_csv<R: Resource>(
    state: &AppState,
    actor: &Actor,
    filter: R::Filter,
    mut request: PageRequest,
) -> Result<Response>
where
    R::Filter: Send + Sync + 'static,
{
    request.limit = service::resource::MAX_PAGE_SIZE;
    let first = service::list::<R>(&state.db, actor, &filter, request.clone()).await?;
    let items: Vec<Value> = first.items.iter().map(to_value).collect::<Result<_>>()?;
    let columns: Vec<String> = items
        .first()
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let head = csv_rows(&columns, &items, !columns.is_empty());
    request.after = first.next;
    let rest = futures_util::stream::unfold(
        request
            .after
            .is_some()
            .then(|| (state.clone(), actor.clone(), filter, request, columns)),
        |next| async move {
            let (state, actor, filter, mut request, columns) = next?;
            let page = match service::list::<R>(&state.db, &actor, &filter, request.clone()).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "a CSV export stopped midway");
                    return Some((Err(std::io::Error::other("the export stopped")), None));
                }
            };
            let items: Vec<Value> = page
                .items
                .iter()
                .filter_map(|d| serde_json::to_value(d).ok())
                .collect();
            let chunk = csv_rows(&columns, &items, false);
            request.after = page.next;
            let next = request
                .after
                .is_some()
                .then_some((state, actor, filter, request, columns));
            Some((
                Ok::<_, std::io::Error>(axum::body::Bytes::from(chunk)),
                next,
            ))
        },
    );
    // Fused: a body may be polled again after its end (the compression layer does), and
    // an `unfold` that has ended must never be polled again.
    let stream = futures_util::stream::once(async move {
        Ok::<_, std::io::Error>(axum::body::Bytes::from(head))
    })
    .chain(rest)
    .fuse();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// `GET` a collection: JSON pages, or the whole list as CSV with `Accept: text/csv`.
pub async fn list<R: Resource>(
    state: &AppState,
    actor: &Actor,
    uri: &Uri,
    headers: &HeaderMap,
    scope: &Scope,
) -> Result<Response>
where
    R::Filter: DeserializeOwned,
{
    let query = uri.query().unwrap_or_default();
    let (filter, request) = list_params::<R>(query, scope)?;
    if headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
    {
        return list_csv::<R>(state, actor, filter, request).await;
    }
    let sort = request.sort.clone();
    let result =
        service::list_cached::<R>(&state.db, &state.cache, actor, &filter, request).await?;
    if let Some(tag) = not_modified(headers, result.version) {
        return Ok(not_modified_response(&tag));
    }
    let page = &result.value;
    let next_cursor = page
        .next
        .as_ref()
        .map(|after| cursor::encode(R::TYPE, &sort, after));
    let link = next_cursor
        .as_ref()
        .map(|cursor| next_link(&scope.base, query, cursor));
    let mut response = Json(PageView {
        items: &page.items,
        next_cursor,
    })
    .into_response();
    versioned(&mut response, result.version);
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// A page as [`Page`] serializes it, borrowing its items (from the read cache).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageView<'a, T> {
    items: &'a [T],
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// A collection's answer carries its version (the newest feed position among what it
/// shows) as its `ETag`, revalidated on each use: `If-None-Match` with it is a 304 until a
/// write changes what the answer could show.
pub fn versioned(response: &mut Response, version: i64) {
    let headers = response.headers_mut();
    if version > 0 {
        headers.insert(header::ETAG, etag(version));
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    // JSON or CSV by `Accept`, compressed or not by `Accept-Encoding`.
    headers.insert(
        header::VARY,
        HeaderValue::from_static("accept, accept-encoding"),
    );
}

/// A page as a response: `{items, nextCursor}`, never cached, with a `Link: rel="next"` to
/// `base` with `query` and the next cursor when there is one.
pub fn page_response<T: Serialize>(
    items: Vec<T>,
    next_cursor: Option<String>,
    base: &str,
    query: &str,
) -> Response {
    let link = next_cursor
        .as_ref()
        .map(|cursor| next_link(base, query, cursor));
    let mut response = Json(Page { items, next_cursor }).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

/// `GET` one resource by id, or by natural key where the collection has one.
pub async fn get<R: Resource>(
    state: &AppState,
    actor: &Actor,
    key: &str,
    headers: &HeaderMap,
    scope: &Scope,
) -> Result<Response> {
    let dto = match Uuid::try_parse(key) {
        Ok(id) => service::resource::get_under::<R>(&state.db, actor, id, scope.parent)
            .await
            .map_err(|e| keyed(e, key))?,
        Err(_) if R::natural_key().is_some() => {
            service::get_by_key::<R>(&state.db, actor, key).await?
        }
        Err(_) => return Err(Error::invalid("id", "is not an id (a UUID)")),
    };
    read_one::<R>(&dto, headers)
}

/// `GET .../external/{externalId}`: the row the caller pushed under its own id.
pub async fn get_external<R: Resource>(
    state: &AppState,
    actor: &Actor,
    external_id: &str,
    headers: &HeaderMap,
    scope: &Scope,
) -> Result<Response> {
    let dto =
        service::resource::get_external_under::<R>(&state.db, actor, external_id, scope.parent)
            .await?;
    read_one::<R>(&dto, headers)
}

/// A read resource with its `ETag`, or 304 when `If-None-Match` names its version.
fn read_one<R: Resource>(dto: &R::Dto, headers: &HeaderMap) -> Result<Response> {
    let dto = to_value(dto)?;
    let version = version_of(&dto);
    if let Some(expected) = if_match(headers)?
        && i64::from(expected) != version
    {
        return Err(Error::PreconditionFailed {
            expected,
            current: i32::try_from(version).unwrap_or_default(),
        });
    }
    if let Some(tag) = not_modified(headers, version) {
        return Ok(not_modified_response(&tag));
    }
    Ok(one(StatusCode::OK, &dto, None))
}

/// `POST` a new resource: 201 with `Location` and `ETag`. With `Idempotency-Key`, the same
/// request again within 24 hours gets the first response (`Idempotent-Replayed: true`).
pub async fn create<R: Resource>(
    state: &AppState,
    actor: &Actor,
    headers: &HeaderMap,
    body: JsonBody,
    scope: &Scope,
) -> Result<Response>
where
    R::Input: DeserializeOwned,
{
    // The scope first: a caller that may not write here gets its 403 before its body is read.
    actor.require_write(R::SCOPE)?;
    let body = body.value().await?;
    let body = with_parent(scope, body)?;
    let key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| Error::invalid("Idempotency-Key", "must be visible ASCII"))
        })
        .transpose()?;
    let hash = idempotency::digest(&format!("POST {}\n{}", scope.base, body));
    let input: R::Input = from_json(body)?;
    let (status, dto, replayed) = match key {
        None => (
            StatusCode::CREATED,
            to_value(&service::create::<R>(&state.db, actor, input).await?)?,
            false,
        ),
        Some(key) => {
            match idempotency::create_once::<R>(&state.db, actor, &key, &hash, input).await? {
                Outcome::Created(dto) => (StatusCode::CREATED, to_value(&dto)?, false),
                Outcome::Replayed(status, dto) => (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED),
                    dto,
                    true,
                ),
            }
        }
    };
    let location = format!("{}/{}", scope.base, dto["id"].as_str().unwrap_or_default());
    let mut response = one(status, &dto, Some(location));
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// A bulk request: up to 1000 items, each with its `externalId`.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct BulkRequest<T> {
    /// The items, each upserted by its `externalId`.
    pub items: Vec<T>,
}

/// A bulk request as read: its items as slices of the body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody<'a> {
    #[serde(borrow)]
    items: Option<Vec<&'a serde_json::value::RawValue>>,
}

/// What a bulk request did, item by item, in request order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkResult {
    /// One entry per item.
    pub items: Vec<service::resource::BulkItem>,
}

/// `POST .../bulk`: every item upserted by its `externalId` in one transaction, all or
/// nothing; refused items are reported together (`items[3].title`).
pub async fn bulk<R: Resource>(state: &AppState, actor: &Actor, body: JsonBody) -> Result<Response>
where
    R::Input: DeserializeOwned,
{
    // The scope first: a caller that may not write here gets its 403 before its body is read.
    actor.require_write(R::SCOPE)?;
    let bytes = body.bytes().await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::invalid("body", "is not valid JSON: not UTF-8"))?;
    // The items are kept as slices of the body and each read straight into its input type,
    // so that a large bulk never becomes a tree of JSON values as well.
    let request: BulkBody<'_> = from_json_str(text)?;
    let Some(items) = request.items else {
        return Err(Error::invalid(
            "items",
            "is required: a list of up to 1000 items",
        ));
    };
    if items.len() > service::resource::MAX_BULK {
        return Err(Error::invalid(
            "items",
            format!(
                "must hold at most {} items, got {}",
                service::resource::MAX_BULK,
                items.len()
            ),
        ));
    }
    let mut parsed = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match from_json_str::<R::Input>(item.get()) {
            Ok(input) => parsed.push((R::external_id(&input).map(str::to_owned), input)),
            Err(Error::Validation(params)) => problems.extend(params.into_iter().map(|p| {
                crate::error::InvalidParam::new(format!("items[{index}].{}", p.name), p.reason)
            })),
            Err(other) => return Err(other),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Validation(problems));
    }
    let items = service::resource::bulk_upsert::<R>(&state.db, actor, &parsed).await?;
    let mut response = Json(BulkResult { items }).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A service error about the row `key` named (a not-found names the key as sent).
fn keyed(error: Error, key: &str) -> Error {
    match error {
        Error::NotFound { resource, .. } => Error::NotFound {
            resource,
            key: key.to_owned(),
        },
        other => other,
    }
}

/// `PUT` a full replacement.
pub async fn replace<R: Resource>(
    state: &AppState,
    actor: &Actor,
    id: &str,
    headers: &HeaderMap,
    body: JsonBody,
    scope: &Scope,
) -> Result<Response>
where
    R::Input: DeserializeOwned,
{
    // The scope first: a caller that may not write here gets its 403 before its body is read.
    actor.require_write(R::SCOPE)?;
    let body = body.value().await?;
    let expected = if_match(headers)?;
    let uuid = parse_id(id, "id")?;
    let input: R::Input = from_json(with_parent(scope, body)?)?;
    let dto =
        service::resource::update_under::<R>(&state.db, actor, uuid, input, expected, scope.parent)
            .await
            .map_err(|e| keyed(e, id))?;
    let dto = to_value(&dto)?;
    Ok(one(StatusCode::OK, &dto, None))
}

/// `PATCH` with a JSON merge patch ([`service::resource::patch`]).
pub async fn patch<R: Resource>(
    state: &AppState,
    actor: &Actor,
    id: &str,
    headers: &HeaderMap,
    body: JsonBody,
    scope: &Scope,
) -> Result<Response>
where
    R::Input: DeserializeOwned,
{
    // The scope first: a caller that may not write here gets its 403 before its body is read.
    actor.require_write(R::SCOPE)?;
    let body = body.value().await?;
    let expected = if_match(headers)?;
    let uuid = parse_id(id, "id")?;
    let dto = service::resource::patch::<R>(&state.db, actor, uuid, &body, expected, scope.parent)
        .await
        .map_err(|e| keyed(e, id))?;
    Ok(one(StatusCode::OK, &to_value(&dto)?, None))
}

/// `DELETE` (soft): 204.
pub async fn delete<R: Resource>(
    state: &AppState,
    actor: &Actor,
    id: &str,
    headers: &HeaderMap,
    scope: &Scope,
) -> Result<Response> {
    let expected = if_match(headers)?;
    let uuid = parse_id(id, "id")?;
    service::resource::delete_under::<R>(&state.db, actor, uuid, expected, scope.parent)
        .await
        .map_err(|e| keyed(e, id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT .../external/{externalId}`: create or replace by the caller's own id; 201 when
/// created, 200 when replaced (or unchanged).
pub async fn upsert<R: Resource>(
    state: &AppState,
    actor: &Actor,
    external_id: &str,
    headers: &HeaderMap,
    body: JsonBody,
    scope: &Scope,
) -> Result<Response>
where
    R::Input: DeserializeOwned,
{
    // The scope first: a caller that may not write here gets its 403 before its body is read.
    actor.require_write(R::SCOPE)?;
    let body = body.value().await?;
    let expected = if_match(headers)?;
    let input: R::Input = from_json(with_parent(scope, body)?)?;
    let (dto, created) =
        service::upsert::<R>(&state.db, actor, external_id, input, expected).await?;
    let dto = to_value(&dto)?;
    let location = format!("{}/{}", scope.base, dto["id"].as_str().unwrap_or_default());
    Ok(if created {
        one(StatusCode::CREATED, &dto, Some(location))
    } else {
        one(StatusCode::OK, &dto, None)
    })
}
