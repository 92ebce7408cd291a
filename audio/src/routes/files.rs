use actix_web::{web, HttpResponse};

use crate::error::{ApiError, Unauthorized};
use crate::identity::Caller;
use crate::state::AppState;

/// The original's list: finished file names, newest first
///
/// The caller's own, unless they are an admin.
#[utoipa::path(get, path = "/api/files", operation_id = "listFiles", tag = "recordings",
    responses(
        (status = 200, description = "File names", body = Vec<String>),
        (status = 401, response = Unauthorized),
    ))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let storage = state.storage.clone();
    let owner = caller.owner_filter().map(str::to_owned);
    let names = web::block(move || storage.index().finished_file_names(owner.as_deref()))
        .await
        .map_err(|_| ApiError::Unavailable)??;
    Ok(HttpResponse::Ok().json(names))
}
