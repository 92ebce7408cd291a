//! `POST /record/start|idle|end`: the calls the original's gateway makes to its audio server,
//! one per WebSocket frame it receives, each naming the browser's socket by `sessionId`. The
//! original answers each with an empty 200; these answer 200 with JSON saying where the
//! recording stands (the original's words in `message`), and 4xx JSON for a body they cannot
//! use. See `docs/api.md`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::domain::{with_decoded_chunk, SessionKey};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::protocol::{ErrorCode, MetaData};
use crate::session::{HttpChunk, HttpEnd, HttpStart, Refusal, StartRefused};
use crate::state::AppState;

/// `POST /record/start`: `{action, metaId, metaData: {userId}, sessionId, connectionId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartBody {
    action: Option<String>,
    session_id: String,
    meta_id: Option<String>,
    #[serde(default)]
    meta_data: MetaData,
    mime_type: Option<String>,
    // `connectionId` (the original gateway's socket id) is accepted and not read: sessions
    // are keyed by `sessionId` alone.
}

/// `POST /record/idle`: `{action, metaId, chunk: "data:audio/webm;...;base64,...", sessionId}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdleBody {
    action: Option<String>,
    session_id: String,
    chunk: String,
    /// Optional, as on the WebSocket: a client that numbers its chunks is finished at once.
    seq: Option<u64>,
}

/// `POST /record/end`: `{sessionId}` (the original also sends it when a socket closes).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndBody {
    action: Option<String>,
    session_id: String,
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
        None => HttpResponse::Ok().json(json!({
            "sessionId": key.as_str(),
            "status": "idle",
            "message": "no recording in progress for this session",
        })),
    })
}
