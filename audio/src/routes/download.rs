use actix_files::NamedFile;
use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::{FileName, RecordingMime};
use crate::error::ApiError;
use crate::startup::AppState;

/// `GET /api/download/{fileName}`: the stored file as an attachment.
pub async fn download(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name = FileName::parse(&path.into_inner())?;
    serve(&req, &state, &name, DispositionType::Attachment).await
}

/// Streams a recording from disk. `NamedFile` reads it in chunks (never whole into memory) and
/// answers `Range` (206/416), `If-None-Match`/`If-Modified-Since`, with `ETag`,
/// `Last-Modified` and `Content-Length`.
pub async fn serve(
    req: &HttpRequest,
    state: &AppState,
    name: &FileName,
    disposition: DispositionType,
) -> Result<HttpResponse, ApiError> {
    let path = state.storage.layout().recording_file(name);
    let file = match NamedFile::open_async(&path).await {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::NotFound("recording file"))
        }
        Err(err) => return Err(err.into()),
    };
    if !file.metadata().is_file() {
        return Err(ApiError::NotFound("recording file"));
    }
    let content_type = RecordingMime::content_type_for_extension(name.extension().unwrap_or(""));
    let file = file
        .set_content_type(
            content_type
                .parse()
                .unwrap_or(mime::APPLICATION_OCTET_STREAM),
        )
        .set_content_disposition(ContentDisposition {
            disposition,
            parameters: vec![DispositionParam::Filename(name.as_str().to_owned())],
        });
    Ok(file.into_response(req))
}
