use actix_web::http::header::DispositionType;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::download::serve;
use crate::domain::{FileName, RecordingId};
use crate::error::{ApiError, ErrorBody, Unauthorized};
use crate::events::deleted_event;
use crate::identity::Caller;
use crate::state::AppState;
use crate::storage::{self, Processing, RecordingMeta, RecordingQuery, RecordingState};

/// A recording as the API shows it (the resume token's digest stays on disk).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Recording)]
pub struct RecordingView {
    #[schema(value_type = String, format = "uuid")]
    pub id: RecordingId,
    pub file_name: String,
    pub meta_id: Option<String>,
    pub user_id: Option<String>,
    pub session_id: String,
    pub mime_type: String,
    pub size: u64,
    pub chunks: u64,
    pub status: RecordingState,
    pub ended_as: Option<RecordingState>,
    #[serde(flatten)]
    pub processing: Processing,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<RecordingMeta> for RecordingView {
    fn from(meta: RecordingMeta) -> Self {
        Self {
            id: meta.id,
            file_name: meta.file_name,
            meta_id: meta.meta_id,
            user_id: meta.user_id,
            session_id: meta.session_id,
            mime_type: meta.mime_type,
            size: meta.size,
            chunks: meta.chunks,
            status: meta.status,
            ended_as: meta.ended_as,
            processing: meta.processing,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
            completed_at: meta.completed_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// From 1.
    #[param(minimum = 1, maximum = 1000000000)]
    page: Option<usize>,
    /// Recordings a page, 1 to 200 (50 unless given).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    /// A case-insensitive prefix of file name, metaId or userId.
    q: Option<String>,
}

const MAX_LIMIT: usize = 200;
const MAX_PAGE: usize = 1_000_000_000;

/// One page of recordings, newest first
///
/// The caller's own recordings only, unless they are an admin (or the service is open).
#[utoipa::path(get, path = "/api/recordings", operation_id = "listRecordings", tag = "recordings",
    params(ListParams),
    responses(
        (status = 200, description = "One page, newest first", body = storage::Page<RecordingView>),
        (status = 400, description = "A page or limit out of range", body = ErrorBody),
        (status = 401, response = Unauthorized),
    ))]
pub async fn list(
    params: web::Query<ListParams>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let page = params.page.unwrap_or(1);
    let limit = params.limit.unwrap_or(50);
    if page == 0 || page > MAX_PAGE || limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadQuery(format!(
            "page starts at 1 and limit must be 1 to {MAX_LIMIT}"
        )));
    }
    let query = RecordingQuery {
        page,
        limit,
        search: params.q.filter(|q| !q.trim().is_empty()),
        owner: caller.owner_filter().map(str::to_owned),
    };
    let storage = state.storage.clone();
    let page = web::block(move || storage.index().page(&query))
        .await
        .map_err(|_| ApiError::Unavailable)??;
    Ok(HttpResponse::Ok().json(storage::Page {
        items: page
            .items
            .into_iter()
            .map(RecordingView::from)
            .collect::<Vec<_>>(),
        page: page.page,
        limit: page.limit,
        total: page.total,
        next_page: page.next_page,
    }))
}

/// One recording
#[utoipa::path(get, path = "/api/recordings/{id}", operation_id = "getRecording", tag = "recordings",
    params(("id" = String, Path, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")),
    responses(
        (status = 200, description = "The recording", body = RecordingView),
        (status = 400, description = "Not a recording id", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such recording (or another user's)", body = ErrorBody),
    ))]
pub async fn get(
    path: web::Path<String>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let meta = load(&path, &state, &caller).await?;
    Ok(HttpResponse::Ok().json(RecordingView::from(meta)))
}

/// The finished file, inline, for an `<audio>` element
#[utoipa::path(get, path = "/api/recordings/{id}/audio", operation_id = "playRecording", tag = "recordings",
    params(("id" = String, Path, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")),
    responses(
        (status = 200, description = "The file, inline", content_type = "audio/webm"),
        (status = 400, description = "Not a recording id", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such recording (or another user's)", body = ErrorBody),
        (status = 409, description = "Still in progress", body = ErrorBody),
    ))]
pub async fn audio(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let meta = load(&path, &state, &caller).await?;
    if in_progress(&meta) {
        return Err(ApiError::InProgress);
    }
    let name = FileName::parse(&meta.file_name)?;
    serve(&req, &state, &name, DispositionType::Inline).await
}

/// Removes a recording: its file and its record
///
/// A recording still in progress (or resumable) is refused with 409.
#[utoipa::path(delete, path = "/api/recordings/{id}", operation_id = "deleteRecording", tag = "recordings",
    params(("id" = String, Path, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a recording id", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such recording (or another user's)", body = ErrorBody),
        (status = 409, description = "Still in progress", body = ErrorBody),
    ))]
pub async fn delete(
    path: web::Path<String>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let meta = load(&path, &state, &caller).await?;
    if in_progress(&meta) {
        return Err(ApiError::InProgress);
    }
    let name = FileName::parse(&meta.file_name)?;
    let storage = state.storage.clone();
    let event = deleted_event(&meta);
    web::block(move || -> std::io::Result<()> {
        // The file goes first: a crash in between leaves a record pointing at nothing, which a
        // second DELETE cleans up, rather than a file no record knows about.
        storage.blobs().delete(&name)?;
        storage.index().delete(meta.id).map(|_| ())
    })
    .await
    .map_err(|_| ApiError::Unavailable)??;
    log::info!("recording {} deleted", meta.id);
    if let Err(err) =
        kafka_core::publish_durably(&state.outbox, &state.publisher, &event, None).await
    {
        log::error!(
            "recording {} deleted, but its event was not written: {err}",
            meta.id
        );
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The recording `raw_id`, if the caller may see it: another user's is "not found", as one
/// that does not exist (its existence is not theirs to learn either).
async fn load(raw_id: &str, state: &AppState, caller: &Caller) -> Result<RecordingMeta, ApiError> {
    let id: RecordingId = raw_id.parse()?;
    let storage = state.storage.clone();
    web::block(move || storage.index().get(id))
        .await
        .map_err(|_| ApiError::Unavailable)??
        .filter(|meta| caller.may_see(meta.user_id.as_deref()))
        .ok_or(ApiError::NotFound("recording"))
}

/// Still being recorded, or ended and waiting for the recordings' store: not in the store yet.
fn in_progress(meta: &RecordingMeta) -> bool {
    matches!(
        meta.status,
        RecordingState::Recording | RecordingState::Storing
    )
}
