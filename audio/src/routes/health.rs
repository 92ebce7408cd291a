use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;
use crate::supervisor::{GetStats, SupervisorStats};

/// What `/health` answers. Through the gateway, `/health` is the gateway's own (`service`
/// `GATEWAY`, its upstreams instead of `sessions`), hence `sessions` not required.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `UP` when the service answers.
    #[schema(value_type = String, pattern = "^UP$")]
    status: &'static str,
    service: &'static str,
    /// Live sessions and recordings, the limit, and what has been done since the start.
    #[schema(value_type = Object, required = false)]
    sessions: SupervisorStats,
}

/// Whether the service is up, with its live figures.
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "service",
    responses((status = 200, description = "Up", body = Health)))]
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stats = state
        .supervisor
        .send(GetStats)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(HttpResponse::Ok().json(Health {
        status: "UP",
        service: "AUDIO-SERVICE",
        sessions: stats,
    }))
}
