use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::state::AppState;
use crate::supervisor::GetStats;

/// `GET /metrics`: the supervisor's figures as Prometheus text.
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stats = state
        .supervisor
        .send(GetStats)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    // The outbox is a table: reading it blocks, so off the arbiter.
    let outbox = state.outbox.clone();
    let pending = web::block(move || outbox.waiting())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0);
    let body = format!(
        "# HELP audio_sessions_live WebSocket sessions open now.\n# TYPE audio_sessions_live gauge\naudio_sessions_live {}\n\
         # HELP audio_recordings_live Recordings in progress on this instance.\n# TYPE audio_recordings_live gauge\naudio_recordings_live {}\n\
         # HELP audio_sessions_max The session limit.\n# TYPE audio_sessions_max gauge\naudio_sessions_max {}\n\
         # HELP audio_recordings_finished_total Recordings finished, by how they ended.\n# TYPE audio_recordings_finished_total counter\n\
         audio_recordings_finished_total{{ended=\"completed\"}} {}\naudio_recordings_finished_total{{ended=\"interrupted\"}} {}\n\
         # HELP audio_events_delivered_total Completion events the bus acknowledged.\n# TYPE audio_events_delivered_total counter\naudio_events_delivered_total {}\n\
         # HELP audio_outbox_pending Events written and not yet delivered.\n# TYPE audio_outbox_pending gauge\naudio_outbox_pending {pending}\n",
        stats.live_sessions, stats.live_recordings, stats.max_sessions, stats.completed, stats.interrupted, stats.events_delivered,
    );
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body))
}
