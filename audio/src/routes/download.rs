use actix_web::http::header::{
    self, ByteRangeSpec, ContentDisposition, DispositionParam, DispositionType, EntityTag,
    HttpDate, IfModifiedSince, IfNoneMatch, IfRange, Range,
};
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use crate::domain::{FileName, RecordingMime};
use crate::error::{ApiError, ErrorBody, Unauthorized};
use crate::identity::Caller;
use crate::state::AppState;
use crate::storage::{BlobMeta, Blobs};

/// The stored file as an attachment
///
/// A user who is not an admin gets only a file of their own recordings (another's is "not
/// found"). One `Range` gets 206, or 416 when it lies past the end.
#[utoipa::path(get, path = "/api/download/{fileName}", operation_id = "download", tag = "recordings",
    params(
        // What `FileName::parse` takes.
        ("fileName" = String, Path, pattern = r"^(?!.*\.\.)[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$"),
        ("Range" = Option<String>, Header),
    ),
    responses(
        (status = 200, description = "The file as an attachment", content_type = "audio/webm"),
        (status = 206, description = "The asked range", content_type = "audio/webm"),
        (status = 400, description = "Not a file name", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 404, description = "No such file", body = ErrorBody),
        (status = 416, description = "Range not satisfiable"),
    ))]
pub async fn download(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let name = FileName::parse(&path.into_inner())?;
    if let Some(owner) = caller.owner_filter() {
        let storage = state.storage.clone();
        let file_name = name.as_str().to_owned();
        let meta = web::block(move || storage.index().by_file_name(&file_name))
            .await
            .map_err(|_| ApiError::Unavailable)??;
        if meta.is_none_or(|meta| meta.user_id.as_deref() != Some(owner)) {
            return Err(ApiError::NotFound("recording file"));
        }
    }
    serve(&req, &state, &name, DispositionType::Attachment).await
}

/// Streams a recording from the recordings' store, a few chunks ahead of the client, never
/// whole into memory: `Range` (one range: 206, or 416 when it lies past the end; several: the
/// whole file), `If-None-Match`/`If-Modified-Since` (304) and `If-Range`, with `ETag`,
/// `Last-Modified`, `Content-Length` and `Accept-Ranges`.
pub async fn serve(
    req: &HttpRequest,
    state: &AppState,
    name: &FileName,
    disposition: DispositionType,
) -> Result<HttpResponse, ApiError> {
    let blobs = state.storage.blobs();
    // Post-processing may replace the object between looking it up and reading it; the read
    // is tied to the entity tag it looked up, and looks again once if that changed.
    for _ in 0..2 {
        let Some(meta) = blobs.head(name).await.map_err(unreachable(blobs))? else {
            return Err(ApiError::NotFound("recording file"));
        };
        let etag = meta.etag.as_deref().map(entity_tag);
        if not_modified(req, etag.as_ref(), &meta) {
            let mut response = HttpResponse::NotModified();
            if let Some(etag) = &etag {
                response.insert_header(header::ETag(etag.clone()));
            }
            return Ok(response.finish());
        }
        let range = match wanted_range(req, etag.as_ref(), &meta) {
            Ok(range) => range,
            Err(()) => {
                return Ok(HttpResponse::build(StatusCode::RANGE_NOT_SATISFIABLE)
                    .insert_header((header::CONTENT_RANGE, format!("bytes */{}", meta.size)))
                    .insert_header((header::ACCEPT_RANGES, "bytes"))
                    .finish())
            }
        };
        let bytes = range.clone().unwrap_or(0..meta.size);
        let Some(body) = blobs
            .read_range(name, bytes.clone(), meta.etag.clone())
            .await
            .map_err(unreachable(blobs))?
        else {
            continue;
        };
        let mut response = HttpResponse::build(if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        });
        let content_type =
            RecordingMime::content_type_for_extension(name.extension().unwrap_or(""));
        response
            .insert_header((header::CONTENT_TYPE, content_type))
            .insert_header(ContentDisposition {
                disposition: disposition.clone(),
                parameters: vec![DispositionParam::Filename(name.as_str().to_owned())],
            })
            .insert_header((header::ACCEPT_RANGES, "bytes"))
            .insert_header(header::LastModified(http_date(&meta)))
            .no_chunking(bytes.end - bytes.start);
        if let Some(etag) = etag {
            response.insert_header(header::ETag(etag));
        }
        if range.is_some() {
            response.insert_header((
                header::CONTENT_RANGE,
                format!(
                    "bytes {}-{}/{}",
                    bytes.start,
                    bytes.end.saturating_sub(1),
                    meta.size
                ),
            ));
        }
        if bytes.is_empty() {
            return Ok(response.finish());
        }
        return Ok(response.streaming(body));
    }
    Err(ApiError::Unavailable)
}

/// The recordings' store failed to answer: a 503 (try again), the reason in the log.
fn unreachable(blobs: &Blobs) -> impl Fn(std::io::Error) -> ApiError + '_ {
    move |err| {
        log::warn!("the recordings' store {} failed: {err}", blobs.describe());
        ApiError::StoreUnreachable
    }
}

/// A strong entity tag from the store's (S3 quotes its own).
fn entity_tag(raw: &str) -> EntityTag {
    EntityTag::new_strong(raw.trim_matches('"').replace('"', ""))
}

fn http_date(meta: &BlobMeta) -> HttpDate {
    HttpDate::from(std::time::SystemTime::from(meta.last_modified))
}

/// Whether the client's copy is current: `If-None-Match` decides when it is sent, else
/// `If-Modified-Since` (to the second, as HTTP dates go).
fn not_modified(req: &HttpRequest, etag: Option<&EntityTag>, meta: &BlobMeta) -> bool {
    match req.get_header::<IfNoneMatch>() {
        Some(IfNoneMatch::Any) => return true,
        Some(IfNoneMatch::Items(tags)) => {
            return etag.is_some_and(|etag| tags.iter().any(|tag| tag.weak_eq(etag)))
        }
        None => {}
    }
    if let Some(IfModifiedSince(since)) = req.get_header::<IfModifiedSince>() {
        let since = std::time::SystemTime::from(since);
        let modified = std::time::SystemTime::from(http_date(meta));
        return modified <= since;
    }
    false
}

/// The one byte range the client asked for, `None` for the whole object, `Err` when it lies
/// wholly past the end (416). Several ranges, or an `If-Range` that no longer matches, get the
/// whole object.
fn wanted_range(
    req: &HttpRequest,
    etag: Option<&EntityTag>,
    meta: &BlobMeta,
) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(Range::Bytes(specs)) = req.get_header::<Range>() else {
        return Ok(None);
    };
    if let Some(condition) = req.get_header::<IfRange>() {
        let current = match condition {
            IfRange::EntityTag(tag) => etag.is_some_and(|etag| tag.strong_eq(etag)),
            IfRange::Date(date) => {
                std::time::SystemTime::from(http_date(meta)) <= std::time::SystemTime::from(date)
            }
        };
        if !current {
            return Ok(None);
        }
    }
    let [spec] = specs.as_slice() else {
        return Ok(None);
    };
    match spec_range(spec, meta.size) {
        Some(range) => Ok(Some(range)),
        None => Err(()),
    }
}

fn spec_range(spec: &ByteRangeSpec, size: u64) -> Option<std::ops::Range<u64>> {
    spec.to_satisfiable_range(size)
        .map(|(first, last)| first..last + 1)
}
