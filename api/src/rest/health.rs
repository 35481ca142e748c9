//! Liveness and readiness, for load balancers and orchestrators. Public.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::Error;
use crate::service;
use crate::state::AppState;

/// `/health/live` and `/health/ready`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

/// The process is up.
async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers.
async fn ready(State(state): State<AppState>) -> Result<Json<Value>, Error> {
    service::db::ping(&state.db).await?;
    Ok(Json(json!({ "status": "ok", "database": "ok" })))
}
