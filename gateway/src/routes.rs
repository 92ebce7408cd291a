//! The gateway's own endpoints, and the dispatch of everything else: a route's requests are
//! proxied (WebSocket upgrades to the WebSocket proxy), other paths are the web pages. Swagger UI
//! for the audio service's API (`/swagger-ui/`, and springdoc's `/swagger-ui.html`) reads the
//! document the service derives from its handlers, through this gateway.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::balancer::GetStatus;
use crate::error::GatewayError;
use crate::metrics::Render;
use crate::proxy;
use crate::state::GatewayState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let only_get = || {
        web::to(|| async {
            HttpResponse::MethodNotAllowed()
                .insert_header(("Allow", "GET"))
                .json(json!({"error": "method-not-allowed", "message": "this path takes GET"}))
        })
    };
    cfg.service(
        web::resource("/health")
            .route(web::get().to(health))
            .default_service(only_get()),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(metrics))
            .default_service(only_get()),
    )
    .service(SwaggerUi::new("/swagger-ui/{_:.*}").config(Config::from("/api/openapi.json")))
    .service(
        web::resource(["/swagger-ui", "/swagger-ui.html"]).to(|| async {
            HttpResponse::Found()
                .insert_header(("Location", "/swagger-ui/"))
                .finish()
        }),
    )
    .configure(crate::auth::configure)
    .default_service(web::to(dispatch));
}

async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<GatewayState>,
    client: web::Data<awc::Client>,
) -> Result<HttpResponse, GatewayError> {
    let Some(route) = state.routes.find(req.path()) else {
        return crate::web::serve(&req, state.web_dir.as_ref()).ok_or(GatewayError::NotFound);
    };
    let upgrade = req
        .headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let identity = match state.gate.admit(&req, upgrade).await {
        Ok(identity) => identity,
        Err(err) => {
            // Why, but never the token (nor the query string, which may hold it).
            log::debug!("{} {} refused: {err}", req.method(), req.path());
            return Err(err.into());
        }
    };
    let vouched = state.gate.vouch(identity.as_ref());
    if upgrade {
        proxy::websocket::forward(req, &state, &client, route, vouched).await
    } else {
        proxy::http::forward(req, payload, &state, &client, route, vouched).await
    }
}

/// `GET /health`: the gateway, and what it knows of each upstream.
async fn health(state: web::Data<GatewayState>) -> Result<HttpResponse, GatewayError> {
    let status = state
        .balancer
        .send(GetStatus)
        .await
        .map_err(|_| GatewayError::Unavailable)?;
    let snapshot = state
        .discovery
        .send(registry_client::GetSnapshot)
        .await
        .map_err(|_| GatewayError::Unavailable)?;
    Ok(HttpResponse::Ok().json(json!({
        "status": "UP",
        "service": "GATEWAY",
        "upstreams": status.services,
        "ejectionsTotal": status.ejections_total,
        "registryCopyAgeMs": snapshot.age.map(|age| age.as_millis() as u64),
    })))
}

/// `GET /metrics`: Prometheus text.
async fn metrics(state: web::Data<GatewayState>) -> Result<HttpResponse, GatewayError> {
    let status = state
        .balancer
        .send(GetStatus)
        .await
        .map_err(|_| GatewayError::Unavailable)?;
    let text = state
        .metrics
        .send(Render {
            ejections_total: status.ejections_total,
            websockets_max: state.relays.max(),
        })
        .await
        .map_err(|_| GatewayError::Unavailable)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text))
}
