//! `POST /record/start|idle|end`: the calls the original's gateway makes to its audio server,
//! one per WebSocket frame it receives, each naming the browser's socket by `sessionId`. The
//! original answers each with an empty 200; these answer 200 with JSON saying where the
//! recording stands (the original's words in `message`), and 4xx JSON for a body they cannot
//! use. See `docs/api.md`.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{with_decoded_chunk, SessionKey};
use crate::error::{ApiError, ErrorBody, Unauthorized};
use crate::identity::Caller;
use crate::protocol::{ErrorCode, MetaData};
use crate::session::{HttpChunk, HttpEnd, HttpStart, Progress, Refusal, StartRefused};
use crate::state::AppState;

/// `POST /record/start`: `{action, metaId, metaData: {userId}, sessionId, connectionId}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RecordStart)]
pub struct StartBody {
    #[schema(value_type = Option<String>, pattern = "^record-start$")]
    action: Option<String>,
    /// The original gateway's id of the browser's socket; keys the session.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    session_id: String,
    /// Names the file; empty or absent: the sessionId does.
    #[schema(pattern = "^[A-Za-z0-9_-]{0,64}$")]
    meta_id: Option<String>,
    #[serde(default)]
    meta_data: MetaData,
    #[schema(value_type = Option<MimeType>)]
    mime_type: Option<String>,
    // `connectionId` (the original gateway's socket id) is accepted and not read: sessions
    // are keyed by `sessionId` alone.
}

/// The containers a recording may declare, as `RecordingMime` parses them. A name for the
/// document only: the bodies keep the string as sent.
#[derive(ToSchema)]
#[allow(dead_code)]
enum MimeType {
    #[schema(rename = "audio/webm")]
    Webm,
    #[schema(rename = "audio/webm;codecs=opus")]
    WebmOpus,
    #[schema(rename = "audio/ogg")]
    Ogg,
    #[schema(rename = "audio/mp4")]
    Mp4,
    #[schema(rename = "audio/wav")]
    Wav,
    #[schema(rename = "audio/mpeg")]
    Mpeg,
}

/// `POST /record/idle`: `{action, metaId, chunk: "data:audio/webm;...;base64,...", sessionId}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RecordIdle)]
pub struct IdleBody {
    #[schema(value_type = Option<String>, pattern = "^record-idle$")]
    action: Option<String>,
    /// The original gateway's id of the browser's socket; keys the session.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    session_id: String,
    /// A data URL (`data:audio/webm;codecs=opus;base64,...`) or bare base64 (padded).
    #[schema(
        pattern = "^(data:[A-Za-z0-9/;=.+-]*;base64,)?([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$"
    )]
    chunk: String,
    /// Optional, as on the WebSocket: a client that numbers its chunks is finished at once on
    /// record-end.
    #[schema(maximum = 9007199254740991.0)]
    #[serde(default, deserialize_with = "whole_number")]
    seq: Option<u64>,
}

/// A JSON number that is whole (`7` or `7.0`: JSON does not tell them apart), up to 2^53 - 1,
/// the largest a JavaScript client can count to exactly.
fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    const MAX: f64 = 9_007_199_254_740_991.0;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(whole) = number.as_u64() {
        return Ok(Some(whole));
    }
    match number.as_f64() {
        Some(x) if (0.0..=MAX).contains(&x) && x.fract() == 0.0 => Ok(Some(x as u64)),
        _ => Err(serde::de::Error::custom(format!(
            "seq must be a whole number from 0, not {number}"
        ))),
    }
}

/// `POST /record/end`: `{sessionId}` (the original also sends it when a socket closes).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RecordEnd)]
pub struct EndBody {
    #[schema(value_type = Option<String>, pattern = "^record-end$")]
    action: Option<String>,
    /// The original gateway's id of the browser's socket; keys the session.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    session_id: String,
}

/// The answer to an end for a session with no recording in progress.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NothingToEnd<'a> {
    session_id: &'a str,
    status: &'static str,
    message: &'static str,
}

/// A body's `action`, when it names one, must be the path's.
fn check_action(action: &Option<String>, expected: &str) -> Result<(), ApiError> {
    match action.as_deref() {
        None => Ok(()),
        Some(action) if action == expected => Ok(()),
        Some(action) => Err(ApiError::Session(Refusal::new(
            ErrorCode::BadMessage,
            format!(
                "action {:?} posted to /record/{}",
                action.chars().take(64).collect::<String>(),
                expected.trim_start_matches("record-")
            ),
        ))),
    }
}

fn session_key(raw: &str) -> Result<SessionKey, ApiError> {
    SessionKey::parse(raw)
        .map_err(|err| ApiError::Session(Refusal::new(ErrorCode::BadMessage, err.to_string())))
}

/// Starts a recording for the gateway's sessionId
#[utoipa::path(post, path = "/record/start", operation_id = "recordStart", tag = "original-gateway",
    request_body = StartBody,
    responses(
        (status = 200, description = "Where the recording stands (the original answered an empty 200)", body = Progress),
        (status = 400, description = "A body that cannot be used", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 409, description = "The sessionId is another user's, or already recorded", body = ErrorBody),
        (status = 503, description = "Too many sessions, or shutting down", body = ErrorBody),
    ))]
pub async fn start(
    body: web::Json<StartBody>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    check_action(&body.action, "record-start")?;
    let key = session_key(&body.session_id)?;
    let session = state
        .http_sessions
        .get_or_start(&key, caller.subject(), &state.supervisor, &state.session)
        .await
        .map_err(|refused| match refused {
            StartRefused::Full(max) => ApiError::TooManySessions(max),
            StartRefused::Unavailable => ApiError::Unavailable,
            StartRefused::OtherUsers => ApiError::Session(Refusal::new(
                ErrorCode::AlreadyStarted,
                "this sessionId is in use by another user's session",
            )),
        })?;
    let progress = session
        .send(HttpStart {
            meta_id: body.meta_id,
            // A signed-in user records as themselves, whatever `metaData.userId` says.
            user_id: caller.recording_user(body.meta_data.user_id),
            mime_type: body.mime_type,
        })
        .await
        .map_err(|_| ApiError::Unavailable)?
        .map_err(ApiError::Session)?;
    Ok(HttpResponse::Ok().json(progress))
}

/// Appends one chunk to the sessionId's recording
#[utoipa::path(post, path = "/record/idle", operation_id = "recordIdle", tag = "original-gateway",
    request_body = IdleBody,
    responses(
        (status = 200, description = "Where the recording stands (the original answered an empty 200)", body = Progress),
        (status = 400, description = "A body that cannot be used", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 409, description = "No recording started for this sessionId", body = ErrorBody),
        (status = 413, description = "The recording would pass its size limit", body = ErrorBody),
    ))]
pub async fn idle(
    body: web::Json<IdleBody>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    check_action(&body.action, "record-idle")?;
    let key = session_key(&body.session_id)?;
    let bytes = with_decoded_chunk(&body.chunk, bytes::Bytes::copy_from_slice)
        .map_err(|err| ApiError::Session(Refusal::new(ErrorCode::BadBase64, err.to_string())))?;
    let session = state
        .http_sessions
        .get(&key, caller.subject())
        .ok_or_else(|| ApiError::Session(crate::session::not_started()))?;
    let progress = session
        .send(HttpChunk {
            bytes,
            seq: body.seq,
        })
        .await
        .map_err(|_| ApiError::Session(crate::session::not_started()))?
        .map_err(ApiError::Session)?;
    Ok(HttpResponse::Ok().json(progress))
}

/// Ends the sessionId's recording
///
/// After the end grace, for a client that numbers no chunk (its last chunk may still come).
#[utoipa::path(post, path = "/record/end", operation_id = "recordEnd", tag = "original-gateway",
    request_body = EndBody,
    responses(
        (status = 200, description = "Where the recording stands (the original answered an empty 200)", body = Progress),
        (status = 400, description = "A body that cannot be used", body = ErrorBody),
        (status = 401, response = Unauthorized),
    ))]
pub async fn end(
    body: web::Json<EndBody>,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    check_action(&body.action, "record-end")?;
    let key = session_key(&body.session_id)?;
    let ended = match state.http_sessions.get(&key, caller.subject()) {
        Some(session) => session
            .send(HttpEnd)
            .await
            .map_err(|_| ApiError::Unavailable)?
            .map_err(ApiError::Session)?,
        None => None,
    };
    // Ending a session with no recording is not an error: the original gateway sends an end
    // for every socket that closes, recorded or not.
    Ok(match ended {
        Some(progress) => HttpResponse::Ok().json(progress),
        None => HttpResponse::Ok().json(NothingToEnd {
            session_id: key.as_str(),
            status: "idle",
            message: "no recording in progress for this session",
        }),
    })
}
