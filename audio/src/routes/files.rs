use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::startup::AppState;
use crate::storage;

/// `GET /api/files`: the original's JSON array of stored file names (newest first).
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let layout = state.layout.clone();
    let names = web::block(move || storage::list_file_names(&layout))
        .await
        .map_err(|_| ApiError::Unavailable)??;
    Ok(HttpResponse::Ok().json(names))
}
