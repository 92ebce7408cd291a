//! One module per route group; `configure` mounts them all. `openapi` derives the REST API's
//! document from the handlers' attributes.

mod download;
mod events;
mod files;
mod health;
mod metrics;
mod openapi;
mod record;
mod recordings;
mod ws;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;

/// 405 with the `Allow` header, for a method a path does not take.
fn only(allow: &'static str) -> actix_web::Route {
    web::to(move || async move {
        HttpResponse::MethodNotAllowed()
            .insert_header(("Allow", allow))
            .json(json!({"error": "method-not-allowed", "message": format!("this path takes {allow}")}))
    })
}

/// How JSON bodies are read: at most `limit` bytes (a `/record/idle` chunk travels as base64 in
/// one, so the WebSocket frame limit bounds it too), and a clear 400 for one that cannot be used.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _| ApiError::BadBody(err.to_string()).into())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|err, _| ApiError::BadQuery(err.to_string()).into()),
    )
    // Resources, so that a method a path does not take is a 405, not a 404.
    .service(
        web::resource("/health")
            .route(web::get().to(health::health))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(metrics::metrics))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/ws/record")
            .route(web::get().to(ws::record))
            .default_service(only("GET")),
    )
    // The original page's path for the same WebSocket (through our gateway or straight here).
    .service(
        web::resource("/ws/audio")
            .route(web::get().to(ws::record))
            .default_service(only("GET")),
    )
    // The original gateway's calls to its audio server, one per frame of its socket.
    .service(
        web::resource("/record/start")
            .route(web::post().to(record::start))
            .default_service(only("POST")),
    )
    .service(
        web::resource("/record/idle")
            .route(web::post().to(record::idle))
            .default_service(only("POST")),
    )
    .service(
        web::resource("/record/end")
            .route(web::post().to(record::end))
            .default_service(only("POST")),
    )
    .service(
        web::resource("/api/events")
            .route(web::get().to(events::stream))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/api/openapi.json")
            .route(web::get().to(openapi::serve))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/api/files")
            .route(web::get().to(files::list))
            .default_service(only("GET")),
    )
    // `{file_name:.*}` takes the rest of the path, so every traversal attempt reaches the
    // file-name parser and gets its clear 400 rather than a routing miss.
    .service(
        web::resource("/api/download/{file_name:.*}")
            .route(web::get().to(download::download))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/api/recordings")
            .route(web::get().to(recordings::list))
            .default_service(only("GET")),
    )
    .service(
        web::resource("/api/recordings/{id}")
            .route(web::get().to(recordings::get))
            .route(web::delete().to(recordings::delete))
            .default_service(only("GET, DELETE")),
    )
    .service(
        web::resource("/api/recordings/{id}/audio")
            .route(web::get().to(recordings::audio))
            .default_service(only("GET")),
    )
    .default_service(web::to(|| async {
        HttpResponse::NotFound().json(json!({"error": "not-found", "message": "no such route"}))
    }));
}
