use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;
use crate::supervisor::GetStats;

/// `GET /health`: whether the service is up, with its live figures.
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stats = state
        .supervisor
        .send(GetStats)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(HttpResponse::Ok().json(json!({
        "status": "UP",
        "service": "AUDIO-SERVICE",
        "sessions": stats,
    })))
}
