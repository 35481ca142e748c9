//! Webhook subscriptions (scope `webhooks:manage`): register, read (with an `ETag`), list,
//! delete, and the delivery log, both lists paged like every list, with a redeliver action.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{Error, Problem, Result};
use crate::rest::collection::{Page, page_response, parse_id, read_tagged};
use crate::rest::extract::{JsonBody, Path, Query, from_json};
use crate::service::Actor;
use crate::service::webhooks::{self, Delivery, Webhook, WebhookInput};
use crate::state::AppState;

/// Register a webhook.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    summary = "Register a webhook",
    description = "Every change of the given types (all when left out) that this partner may see is POSTed to `url` as a CloudEvents 1.0 event, signed as `signature` asks. `leernet` (the default): `Leernet-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.\" + body with the secret>`. `standard-webhooks` (https://www.standardwebhooks.com/, whose libraries verify it): the secret is `whsec_` and the base64 of 24 to 64 random bytes, and each delivery carries `webhook-id` (the event `id`, the same in every attempt), `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of \"<webhook-id>.<webhook-timestamp>.\" + body, keyed with the decoded secret bytes>`. Receivers should refuse a timestamp older than 300 s and de-duplicate by the event `id`. Loopback, private, link-local and metadata addresses are refused.",
    request_body(content = WebhookInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = Webhook,
            headers(("Location" = String, description = "The new webhook: `/api/v1/webhooks/{id}`"))),
        (status = 400, description = "Invalid fields (or a target that may not be reached)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the scope webhooks:manage", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This partner has as many live webhooks as it may have: delete one first", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_webhook(
    State(state): State<AppState>,
    actor: Actor,
    body: JsonBody,
) -> Result<Response> {
    webhooks::require_manage(&actor)?;
    let input: WebhookInput = from_json(body.value().await?)?;
    let hook = webhooks::register(
        &state.db,
        &actor,
        input,
        state.config.webhook_allow_private,
        state.config.webhook_max_per_partner,
    )
    .await?;
    let location =
        HeaderValue::from_str(&format!("/api/v1/webhooks/{}", hook.id)).map_err(Error::internal)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(hook),
    )
        .into_response())
}

/// This partner's webhooks.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    summary = "List this partner's webhooks",
    description = "A page of this partner's webhooks (an admin's list holds every partner's), oldest first (keyset on the id). Follow `nextCursor` (or the `Link: rel=\"next\"` header) for the next page. Unknown parameters are refused.",
    params(PageQuery),
    responses(
        (status = 200, description = "A page, oldest first", body = Page<Webhook>,
            headers(("Link" = String, description = "`<...>; rel=\"next\"`: the next page, when there is one"))),
        (status = 400, description = "An invalid parameter (`limit` outside 1 to 500, a cursor of another list, an unknown parameter)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the scope webhooks:manage", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    actor: Actor,
    Query(query): Query<PageQuery>,
    uri: Uri,
) -> Result<Response> {
    webhooks::require_manage(&actor)?;
    let limit = query.limit()?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| {
            cursor_key(c, &["webhooks"])
                .and_then(|key| Uuid::try_parse(&key).ok())
                .ok_or_else(|| not_a_cursor("of the webhooks list"))
        })
        .transpose()?;
    let page = webhooks::list(&state.db, &actor, limit, after).await?;
    let next_cursor = page
        .next
        .map(|after| cursor(&["webhooks", &after.to_string()]));
    Ok(page_response(
        page.items,
        next_cursor,
        "/api/v1/webhooks",
        uri.query().unwrap_or_default(),
    ))
}

/// The entity tag of a webhook as it is now: it has no version, so its representation's
/// digest (SHA-256, the first 128 bits in hex), which changes whenever anything shown does
/// (its failure count, its state). Good for `If-None-Match`; webhooks are never changed,
/// only deleted, so no write compares it.
fn webhook_tag(hook: &Webhook) -> Result<String> {
    let bytes = serde_json::to_vec(hook).map_err(Error::internal)?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    Ok(digest
        .as_ref()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// One webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    summary = "Read a webhook",
    description = "A webhook of this partner; an admin reads any partner's. Its `ETag` names the representation (a webhook has no version: the tag changes whenever anything shown does, such as its failure count); `If-None-Match` with it answers 304, and `If-Match` with another is a 412.",
    params(("id" = uuid::Uuid, Path, description = "Its id")),
    responses(
        (status = 200, description = "The webhook (never its secret)", body = Webhook,
            headers(("ETag" = String, description = "The representation's strong entity tag (`\"<hex>\"`, or `\"<hex>-gzip\"` / `\"<hex>-br\"` compressed): send it back in `If-None-Match`"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match",
            headers(("ETag" = String, description = "The tag that matched"))),
        (status = 403, description = "The token lacks the scope webhooks:manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook of this partner", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_webhook(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let hook = webhooks::get(&state.db, &actor, parse_id(&id, "id")?).await?;
    read_tagged(&headers, &hook, &webhook_tag(&hook)?)
}

/// Delete a webhook.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    summary = "Delete a webhook",
    params(("id" = uuid::Uuid, Path, description = "Its id")),
    responses(
        (status = 204, description = "Deleted: no further deliveries"),
        (status = 404, description = "No such webhook of this partner", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response> {
    webhooks::delete(&state.db, &actor, parse_id(&id, "id")?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Query parameters of the webhooks' lists (the webhooks, a webhook's deliveries).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 500 (default 50); anything else is refused, never clamped.
    // Read as text, so that a value that is no number is refused naming `limit`.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 500, default = 50)]
    limit: Option<String>,
    /// Where to continue: the `nextCursor` of the previous page.
    cursor: Option<String>,
}

impl PageQuery {
    /// The page size asked for (50 when none is); the service checks its range.
    fn limit(&self) -> Result<u64> {
        match self.limit.as_deref() {
            None => Ok(50),
            Some(value) => value.parse().map_err(|_| {
                Error::invalid(
                    "limit",
                    format!("must be a number from 1 to 500, got {value}"),
                )
            }),
        }
    }
}

/// The cursor of a page of one of these lists: the base64 of `parts` joined with `:`, the
/// first parts naming the list (`deliveries:<webhook>`) and the last the key to continue
/// from.
fn cursor(parts: &[&str]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(parts.join(":"))
}

/// The key a cursor of the list named by `list` continues from; `None` for any other text.
fn cursor_key(cursor: &str, list: &[&str]) -> Option<String> {
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())?;
    let parts: Vec<&str> = text.split(':').collect();
    match parts.split_last() {
        Some((key, names)) if names == list => Some((*key).to_owned()),
        _ => None,
    }
}

/// The problem of a cursor that is not one of the list's.
fn not_a_cursor(list: &str) -> Error {
    Error::invalid(
        "cursor",
        format!("is not a cursor {list}; pass nextCursor from the previous page as it is"),
    )
}

/// A webhook's deliveries.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    summary = "List a webhook's deliveries",
    description = "A page of deliveries, newest first (keyset on the delivery id): attempts, statuses, the receiver's answers, errors. Follow `nextCursor` (or the `Link: rel=\"next\"` header) for older ones. Unknown parameters are refused.",
    params(("id" = uuid::Uuid, Path, description = "Its id"), PageQuery),
    responses(
        (status = 200, description = "A page, newest first", body = Page<Delivery>,
            headers(("Link" = String, description = "`<...>; rel=\"next\"`: the next page, when there is one"))),
        (status = 400, description = "An invalid parameter (`limit` outside 1 to 500, a cursor of another list, an unknown parameter)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the scope webhooks:manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook of this partner", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
    uri: Uri,
) -> Result<Response> {
    let id = parse_id(&id, "id")?;
    let limit = query.limit()?;
    let webhook = id.to_string();
    let list = ["deliveries", webhook.as_str()];
    let before = query
        .cursor
        .as_deref()
        .map(|c| {
            cursor_key(c, &list)
                .and_then(|key| key.parse::<i64>().ok())
                .filter(|before| *before > 0)
                .ok_or_else(|| not_a_cursor("of this webhook's deliveries"))
        })
        .transpose()?;
    let page = webhooks::deliveries(&state.db, &actor, id, limit, before).await?;
    let next_cursor = page
        .next
        .map(|before| cursor(&[list[0], list[1], &before.to_string()]));
    Ok(page_response(
        page.items,
        next_cursor,
        &format!("/api/v1/webhooks/{id}/deliveries"),
        uri.query().unwrap_or_default(),
    ))
}

/// Send a delivery again.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver", tag = "webhooks",
    summary = "Send a delivery again",
    description = "An action, and the one documented exception to naming paths after resources: sending again is neither creating, reading, changing nor deleting a delivery, so it is a verb under the delivery it acts on, as the API Design Rules allow for such operations. Makes the delivery due now and re-enables the webhook if it was disabled.",
    params(("id" = uuid::Uuid, Path, description = "The webhook"), ("deliveryId" = i64, Path, description = "The delivery")),
    responses(
        (status = 200, description = "Due again", body = Delivery),
        (status = 404, description = "No such delivery", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_redelivery(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Json<Delivery>> {
    let delivery: i64 = delivery
        .parse()
        .map_err(|_| Error::invalid("deliveryId", "is not a delivery id"))?;
    Ok(Json(
        webhooks::redeliver(&state.db, &actor, parse_id(&id, "id")?, delivery).await?,
    ))
}

/// The webhook routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, delete_webhook))
        .routes(routes!(list_webhook_deliveries))
        .routes(routes!(create_redelivery))
}
