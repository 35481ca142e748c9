//! Webhook subscriptions (scope `webhooks:manage`): register, list, delete, and the
//! delivery log with a redeliver action.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{Problem, Result};
use crate::rest::collection::parse_id;
use crate::rest::extract::{JsonBody, Path, from_json};
use crate::service::Actor;
use crate::service::webhooks::{self, Delivery, Webhook, WebhookInput};
use crate::state::AppState;

/// Register a webhook.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    summary = "Register a webhook",
    description = "Every change of the given types (all when left out) that this partner may see is POSTed to `url` as a CloudEvents 1.0 event, signed as `signature` asks. `leernet` (the default): `Leernet-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.\" + body with the secret>`. `standard-webhooks` (https://www.standardwebhooks.com/, whose libraries verify it): the secret is `whsec_` and the base64 of 24 to 64 random bytes, and each delivery carries `webhook-id` (the event `id`, the same in every attempt), `webhook-timestamp` (unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of \"<webhook-id>.<webhook-timestamp>.\" + body, keyed with the decoded secret bytes>`. Receivers should refuse a timestamp older than 300 s and de-duplicate by the event `id`. Loopback, private, link-local and metadata addresses are refused.",
    request_body(content = WebhookInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = Webhook),
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
    let hook =
        webhooks::register(&state.db, &actor, input, state.config.webhook_allow_private).await?;
    Ok((StatusCode::CREATED, Json(hook)).into_response())
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

/// A webhook's deliveries.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    summary = "A webhook's latest deliveries",
    params(("id" = uuid::Uuid, Path, description = "Its id")),
    responses(
        (status = 200, description = "Newest first: attempts, statuses, errors", body = Vec<Delivery>),
        (status = 404, description = "No such webhook of this partner", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<Vec<Delivery>>> {
    Ok(Json(
        webhooks::deliveries(&state.db, &actor, parse_id(&id, "id")?, 100).await?,
    ))
}

/// Send a delivery again.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver", tag = "webhooks",
    summary = "Send a delivery again",
    description = "Makes it due now and re-enables the webhook if it was disabled.",
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
        .map_err(|_| crate::error::Error::invalid("deliveryId", "is not a delivery id"))?;
    Ok(Json(
        webhooks::redeliver(&state.db, &actor, parse_id(&id, "id")?, delivery).await?,
    ))
}

/// The webhook routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(delete_webhook))
        .routes(routes!(list_webhook_deliveries))
        .routes(routes!(create_redelivery))
}
