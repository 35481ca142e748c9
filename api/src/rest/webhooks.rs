//! Webhook subscriptions (scope `webhooks:manage`): register, read, list, delete, and the
//! delivery log, paged like every list, with a redeliver action.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{Error, Problem, Result};
use crate::rest::collection::{Page, page_response, parse_id};
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
    responses(
        (status = 200, description = "The webhooks", body = Vec<Webhook>),
        (status = 403, description = "The token lacks the scope webhooks:manage", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<Json<Vec<Webhook>>> {
    Ok(Json(webhooks::list(&state.db, &actor).await?))
}

/// One webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    summary = "Read a webhook",
    description = "A webhook of this partner; an admin reads any partner's.",
    params(("id" = uuid::Uuid, Path, description = "Its id")),
    responses(
        (status = 200, description = "The webhook (never its secret)", body = Webhook),
        (status = 403, description = "The token lacks the scope webhooks:manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such webhook of this partner", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_webhook(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<Webhook>> {
    Ok(Json(
        webhooks::get(&state.db, &actor, parse_id(&id, "id")?).await?,
    ))
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

/// Query parameters of `GET /api/v1/webhooks/{id}/deliveries`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Deliveries per page, 1 to 500 (default 50); anything else is refused, never clamped.
    // Read as text, so that a value that is no number is refused naming `limit`.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 500, default = 50)]
    limit: Option<String>,
    /// Where to continue: the `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// The cursor of a deliveries page: continue below delivery `before` of webhook `webhook`.
fn delivery_cursor(webhook: Uuid, before: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("deliveries:{webhook}:{before}"))
}

/// The delivery id a cursor of `webhook`'s deliveries continues below.
fn delivery_cursor_from(webhook: Uuid, cursor: &str) -> Result<i64> {
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let mut parts = text.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("deliveries"), Some(hook), Some(before), None)
            if Uuid::try_parse(hook).ok() == Some(webhook) =>
        {
            before.parse::<i64>().ok().filter(|b| *b > 0)
        }
        _ => None,
    }
    .ok_or_else(|| {
        Error::invalid(
            "cursor",
            "is not a cursor of this webhook's deliveries; pass nextCursor from the previous page as it is",
        )
    })
}

/// A webhook's deliveries.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    summary = "List a webhook's deliveries",
    description = "A page of deliveries, newest first (keyset on the delivery id): attempts, statuses, the receiver's answers, errors. Follow `nextCursor` (or the `Link: rel=\"next\"` header) for older ones. Unknown parameters are refused.",
    params(("id" = uuid::Uuid, Path, description = "Its id"), DeliveriesQuery),
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
    Query(query): Query<DeliveriesQuery>,
    uri: Uri,
) -> Result<Response> {
    let id = parse_id(&id, "id")?;
    let limit = match query.limit.as_deref() {
        None => 50,
        Some(value) => value.parse().map_err(|_| {
            Error::invalid(
                "limit",
                format!("must be a number from 1 to 500, got {value}"),
            )
        })?,
    };
    let before = query
        .cursor
        .as_deref()
        .map(|c| delivery_cursor_from(id, c))
        .transpose()?;
    let page = webhooks::deliveries(&state.db, &actor, id, limit, before).await?;
    let next_cursor = page.next.map(|before| delivery_cursor(id, before));
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
