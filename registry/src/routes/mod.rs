mod dashboard;
mod eureka;
mod health;
mod metrics;
mod replication;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(64 * 1024)
            // Eureka clients do not always send a JSON content type.
            .content_type_required(false)
            .error_handler(|err, _| ApiError::BadBody(err.to_string()).into()),
    )
    .route("/", web::get().to(dashboard::dashboard))
    .route("/health", web::get().to(health::health))
    .route("/metrics", web::get().to(metrics::metrics))
    .service(eureka::scope())
    .default_service(web::to(|| async {
        HttpResponse::NotFound().json(json!({"error": "not-found", "message": "no such route"}))
    }));
}
