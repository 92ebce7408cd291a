use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::identity::Caller;
use crate::state::AppState;

/// `GET /api/files`: the original's JSON array of stored file names (newest first), the
/// caller's own unless they are an admin.
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let storage = state.storage.clone();
    let owner = caller.owner_filter().map(str::to_owned);
    let names = web::block(move || storage.index().finished_file_names(owner.as_deref()))
        .await
        .map_err(|_| ApiError::Unavailable)??;
    Ok(HttpResponse::Ok().json(names))
}
