//! One module per route group; `configure` mounts them all.

mod download;
mod events;
mod files;
mod health;
mod recordings;
mod ws;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|err, _| ApiError::BadQuery(err.to_string()).into()),
    )
    .route("/health", web::get().to(health::health))
    .route("/ws/record", web::get().to(ws::record))
    .route("/api/events", web::get().to(events::stream))
    .route("/api/files", web::get().to(files::list))
    // `{file_name:.*}` takes the rest of the path, so every traversal attempt reaches the
    // file-name parser and gets its clear 400 rather than a routing miss.
    .route(
        "/api/download/{file_name:.*}",
        web::get().to(download::download),
    )
    .route("/api/recordings", web::get().to(recordings::list))
    .route("/api/recordings/{id}", web::get().to(recordings::get))
    .route("/api/recordings/{id}", web::delete().to(recordings::delete))
    .route(
        "/api/recordings/{id}/audio",
        web::get().to(recordings::audio),
    )
    .default_service(web::to(|| async {
        HttpResponse::NotFound().json(json!({"error": "not-found", "message": "no such route"}))
    }));
}
