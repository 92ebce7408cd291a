//! The REST API's OpenAPI document, derived from the handlers' `#[utoipa::path]` attributes
//! and the types they read and answer, so it cannot drift from them. Served at
//! `/api/openapi.json` (through the gateway too, which serves Swagger UI for it at
//! `/swagger-ui/`). The recording WebSocket is described in `docs/protocol.md`.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::OpenApi;

use super::{download, files, health, record, recordings};
use crate::error::Unauthorized;

const DESCRIPTION: &str = "Recordings: list, metadata, playback, download, delete; and the \
original gateway's calls (POST /record/start|idle|end, served by each audio instance, not routed \
by the gateway). The recording WebSocket (GET /ws/record, or /ws/audio as the original's page \
calls it) and the live event stream (GET /api/events) are described in docs/protocol.md and \
docs/events.md. Every error is JSON {\"error\": code, \"message\": text}. Users \
(docs/security.md): with AUDIO_IDENTITY_SECRET set, every path but /health, /metrics and this \
document needs the X-Gateway-Identity header the gateway signs for the user it verified (401 \
without it), and each user sees only their own recordings (another's is a 404), unless their \
roles hold admin.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Audio service", version = "1.0.0", description = DESCRIPTION),
    paths(
        health::health,
        files::list,
        download::download,
        recordings::list,
        recordings::get,
        recordings::delete,
        recordings::audio,
        record::start,
        record::idle,
        record::end,
    ),
    components(responses(Unauthorized)),
    tags(
        (name = "recordings", description = "What users list, play, download and delete"),
        (name = "original-gateway", description = "The original gateway's calls to its audio server"),
        (name = "service", description = "The instance itself"),
    )
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`: the document, rendered once.
pub async fn serve() -> HttpResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.as_str())
}
