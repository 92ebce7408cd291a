//! `POST /eureka/peerreplication/batch`: a peer's batch of its clients' changes, each applied
//! here as the client's own call would be (and never replicated again), each answered with the
//! status that call would have had.

use actix_web::{web, HttpRequest, HttpResponse};

use super::eureka::ask;
use crate::error::ApiError;
use crate::peers::protocol::{
    Action, ReplicationInstance, ReplicationInstanceResponse, ReplicationList,
    ReplicationListResponse,
};
use crate::registry::{Cancel, OverrideStatus, Register, RegistryError, Renew};
use crate::state::AppState;
use crate::validate::parse_status;

pub async fn batch(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<ReplicationList>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_write(&req)?;
    let mut response_list = Vec::with_capacity(body.replication_list.len());
    for item in body.into_inner().replication_list {
        let status_code = apply(&state, item).await?;
        response_list.push(ReplicationInstanceResponse {
            status_code,
            response_entity: None,
        });
    }
    Ok(HttpResponse::Ok().json(ReplicationListResponse { response_list }))
}

/// One item, as its status code.
async fn apply(state: &AppState, item: ReplicationInstance) -> Result<u16, ApiError> {
    let (app, id) = (item.app_name, item.id);
    let status = || item.status.as_deref().map(parse_status).transpose();
    let outcome = match item.action {
        Action::Register => match item.instance_info {
            Some(instance) => ask(
                state,
                Register {
                    app,
                    instance: *instance,
                },
            )
            .await?
            .map(|_| ()),
            None => return Ok(400),
        },
        Action::Heartbeat => {
            ask(
                state,
                Renew {
                    app,
                    id,
                    last_dirty_timestamp: item.last_dirty_timestamp,
                },
            )
            .await?
        }
        Action::Cancel => ask(state, Cancel { app, id }).await?,
        Action::StatusUpdate => match status() {
            Ok(Some(value)) => ask(
                state,
                OverrideStatus {
                    app,
                    id,
                    value: Some(value),
                    fallback: None,
                },
            )
            .await?
            .map(|_| ()),
            _ => return Ok(400),
        },
        Action::DeleteStatusOverride => match status() {
            Ok(fallback) => ask(
                state,
                OverrideStatus {
                    app,
                    id,
                    value: None,
                    fallback,
                },
            )
            .await?
            .map(|_| ()),
            Err(_) => return Ok(400),
        },
    };
    Ok(match outcome {
        Ok(()) => 200,
        Err(RegistryError::NotFound) => 404,
        Err(RegistryError::Invalid(_)) => 400,
        Err(RegistryError::Full(_)) => 503,
    })
}
