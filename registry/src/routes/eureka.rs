//! Eureka's REST API under `/eureka/`, JSON only.

use actix_web::{web, HttpRequest, HttpResponse, Scope};
use serde::Deserialize;

use crate::error::ApiError;
use crate::model::{ApplicationEnvelope, ApplicationsEnvelope, InstanceEnvelope};
use crate::peers::{ReplicationInstance, REPLICATION_HEADER};
use crate::registry::{Cancel, Lookup, OverrideStatus, Query, Register, Renew, UpdateMetadata};
use crate::state::AppState;
use crate::validate::{parse_status, valid_app_name, valid_instance_id};

pub fn scope() -> Scope {
    web::scope("/eureka")
        .route("/apps", web::get().to(all_apps))
        .route("/apps/", web::get().to(all_apps))
        .route("/apps/delta", web::get().to(delta))
        .route("/apps/{app}", web::post().to(register))
        .route("/apps/{app}", web::get().to(app))
        .route("/apps/{app}/{id}", web::put().to(renew))
        .route("/apps/{app}/{id}", web::delete().to(cancel))
        .route("/apps/{app}/{id}", web::get().to(instance))
        .route("/apps/{app}/{id}/status", web::put().to(set_status))
        .route("/apps/{app}/{id}/status", web::delete().to(remove_status))
        .route("/apps/{app}/{id}/metadata", web::put().to(metadata))
        .route("/instances/{id}", web::get().to(instance_by_id))
        .route("/vips/{vip}", web::get().to(vip))
        // Eureka's own peers post to `peerreplication/batch/`, with the slash.
        .service(batch_resource("/peerreplication/batch"))
        .service(batch_resource("/peerreplication/batch/"))
}

fn batch_resource(path: &str) -> actix_web::Resource {
    web::resource(path)
        // A batch of a full sync holds up to 250 instances.
        .app_data(
            web::JsonConfig::default()
                .limit(16 << 20)
                .content_type_required(false)
                .error_handler(|err, _| ApiError::BadBody(err.to_string()).into()),
        )
        .route(web::post().to(super::replication::batch))
}

/// Whether a call is a peer's replication (applied, never replicated again).
fn replicated(req: &HttpRequest) -> bool {
    req.headers()
        .get(REPLICATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

type Data = web::Data<AppState>;

pub(super) async fn ask<M>(state: &AppState, msg: M) -> Result<M::Result, ApiError>
where
    M: actix::Message + Send + 'static,
    M::Result: Send,
    crate::registry::Registry: actix::Handler<M>,
{
    state
        .registry
        .send(msg)
        .await
        .map_err(|_| ApiError::Unavailable)
}

fn path_ids(path: &(String, String)) -> Result<(String, String), ApiError> {
    let app = valid_app_name(&path.0)?;
    valid_instance_id(&path.1)?;
    Ok((app, path.1.clone()))
}

async fn register(
    req: HttpRequest,
    state: Data,
    app: web::Path<String>,
    body: web::Json<InstanceEnvelope>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_write(&req)?;
    let held = ask(
        &state,
        Register {
            app: app.into_inner(),
            instance: body.into_inner().instance,
        },
    )
    .await??;
    if !replicated(&req) {
        state.peers.replicate(ReplicationInstance::register(*held));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RenewParams {
    last_dirty_timestamp: Option<i64>,
    status: Option<String>,
}

async fn renew(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String)>,
    params: web::Query<RenewParams>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_write(&req)?;
    let (app, id) = path_ids(&path)?;
    ask(
        &state,
        Renew {
            app: app.clone(),
            id: id.clone(),
            last_dirty_timestamp: params.last_dirty_timestamp,
        },
    )
    .await??;
    if !replicated(&req) {
        let params = params.into_inner();
        state.peers.replicate(ReplicationInstance::heartbeat(
            &app,
            &id,
            params.status,
            params.last_dirty_timestamp,
        ));
    }
    Ok(HttpResponse::Ok().finish())
}

async fn cancel(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_write(&req)?;
    let (app, id) = path_ids(&path)?;
    ask(
        &state,
        Cancel {
            app: app.clone(),
            id: id.clone(),
        },
    )
    .await??;
    if !replicated(&req) {
        state
            .peers
            .replicate(ReplicationInstance::cancel(&app, &id));
    }
    Ok(HttpResponse::Ok().finish())
}

#[derive(Deserialize)]
struct StatusParams {
    value: Option<String>,
}

async fn set_status(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String)>,
    params: web::Query<StatusParams>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_write(&req)?;
    let (app, id) = path_ids(&path)?;
    let status = parse_status(params.value.as_deref().unwrap_or(""))?;
    ask(
        &state,
        OverrideStatus {
            app: app.clone(),
            id: id.clone(),
            value: Some(status),
            fallback: None,
        },
    )
    .await??;
    if !replicated(&req) {
        state.peers.replicate(ReplicationInstance::status_update(
            &app,
            &id,
            status.as_str(),
        ));
    }
    Ok(HttpResponse::Ok().finish())
}

async fn remove_status(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String)>,
    params: web::Query<StatusParams>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_write(&req)?;
    let (app, id) = path_ids(&path)?;
    let fallback = params.value.as_deref().map(parse_status).transpose()?;
    ask(
        &state,
        OverrideStatus {
            app: app.clone(),
            id: id.clone(),
            value: None,
            fallback,
        },
    )
    .await??;
    if !replicated(&req) {
        state
            .peers
            .replicate(ReplicationInstance::delete_status_override(
                &app,
                &id,
                fallback.map(|s| s.as_str()),
            ));
    }
    Ok(HttpResponse::Ok().finish())
}

async fn metadata(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String)>,
    params: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_write(&req)?;
    let (app, id) = path_ids(&path)?;
    let held = ask(
        &state,
        UpdateMetadata {
            app,
            id,
            entries: params.into_inner(),
        },
    )
    .await??;
    // Eureka has no replication action for metadata: the instance is registered again with it.
    if !replicated(&req) {
        state.peers.replicate(ReplicationInstance::register(*held));
    }
    Ok(HttpResponse::Ok().finish())
}

fn apps_response(query: Query) -> HttpResponse {
    match query {
        Query::Apps(applications) => HttpResponse::Ok().json(ApplicationsEnvelope { applications }),
        Query::App(Some(application)) => {
            HttpResponse::Ok().json(ApplicationEnvelope { application })
        }
        Query::Instance(Some(instance)) => HttpResponse::Ok().json(InstanceEnvelope {
            instance: *instance,
        }),
        Query::App(None) | Query::Instance(None) => actix_web::ResponseError::error_response(
            &ApiError::Registry(crate::registry::RegistryError::NotFound),
        ),
    }
}

async fn all_apps(req: HttpRequest, state: Data) -> Result<HttpResponse, ApiError> {
    state.tokens.check_read(&req)?;
    Ok(apps_response(ask(&state, Lookup::AllApps).await?))
}

async fn delta(req: HttpRequest, state: Data) -> Result<HttpResponse, ApiError> {
    state.tokens.check_read(&req)?;
    Ok(apps_response(ask(&state, Lookup::Delta).await?))
}

async fn app(
    req: HttpRequest,
    state: Data,
    app: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_read(&req)?;
    let app = valid_app_name(&app)?;
    Ok(apps_response(ask(&state, Lookup::App(app)).await?))
}

async fn instance(
    req: HttpRequest,
    state: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_read(&req)?;
    let (app, id) = path_ids(&path)?;
    Ok(apps_response(
        ask(&state, Lookup::Instance { app: Some(app), id }).await?,
    ))
}

async fn instance_by_id(
    req: HttpRequest,
    state: Data,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_read(&req)?;
    valid_instance_id(&id)?;
    Ok(apps_response(
        ask(
            &state,
            Lookup::Instance {
                app: None,
                id: id.into_inner(),
            },
        )
        .await?,
    ))
}

async fn vip(
    req: HttpRequest,
    state: Data,
    vip: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_read(&req)?;
    Ok(apps_response(
        ask(&state, Lookup::Vip(vip.into_inner())).await?,
    ))
}
