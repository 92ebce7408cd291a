use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws::WsResponseBuilder;

use crate::error::ApiError;
use crate::identity::Caller;
use crate::session::RecordingSession;
use crate::state::AppState;
use crate::supervisor::{Admit, Leave};

/// `GET /ws/record` (and `/ws/audio`, the original page's path): upgrades to the recording
/// WebSocket, one `RecordingSession` per socket.
/// Over the session limit the upgrade is refused with 503 before any frame flows.
pub async fn record(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let session_id = state
        .supervisor
        .send(Admit)
        .await
        .map_err(|_| ApiError::Unavailable)?
        .map_err(|full| ApiError::TooManySessions(full.0))?;
    let session = RecordingSession::new(
        session_id.clone(),
        caller,
        state.supervisor.clone(),
        state.session.clone(),
    );
    WsResponseBuilder::new(session, &req, stream)
        .frame_size(state.session.max_frame_bytes)
        .start()
        .map_err(|err| {
            state.supervisor.do_send(Leave {
                session_id,
                finishing: false,
            });
            ApiError::Handshake(err.to_string())
        })
}
