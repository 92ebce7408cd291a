use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::events::Subscribe;
use crate::identity::Caller;
use crate::state::AppState;

/// `GET /api/events`: Server-Sent Events of recording lifecycle changes (`started`,
/// `completed`, `processed`, `deleted`), each with its event as JSON data; a user's own
/// recordings' only, unless they are an admin.
pub async fn stream(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let receiver = state
        .hub
        .send(Subscribe {
            owner: caller.owner_filter().map(str::to_owned),
        })
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let frames = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|frame| (Ok::<_, actix_web::Error>(frame), receiver))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(frames))
}
