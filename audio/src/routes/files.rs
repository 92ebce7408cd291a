use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::startup::AppState;

/// `GET /api/files`: the original's JSON array of stored file names (newest first).
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let storage = state.storage.clone();
    let names = web::block(move || storage.index().finished_file_names())
        .await
        .map_err(|_| ApiError::Unavailable)??;
    Ok(HttpResponse::Ok().json(names))
}
