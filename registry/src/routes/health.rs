use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::registry::GetStatus;
use crate::state::AppState;

/// `GET /health`: up, with the registry's figures and whether self-preservation holds evictions.
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let status = state
        .registry
        .send(GetStatus)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let peers = state.peers.status().await;
    Ok(HttpResponse::Ok()
        .json(json!({"status": "UP", "service": "REGISTRY", "registry": status, "peers": peers})))
}
