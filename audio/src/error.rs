//! The REST API's errors, mapped once to HTTP responses with a JSON body
//! `{"error": "<stable code>", "message": "<for people>"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

use crate::domain::{FileNameError, RecordingIdError};
use crate::protocol::ErrorCode;
use crate::session::Refusal;

/// Every error's body: a stable code for programs and a message for people.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: &'static str,
    pub message: String,
}

/// The API document's answer to a request without the identity the gateway vouches for (every
/// route but `/health`, `/metrics` and the document, with `AUDIO_IDENTITY_SECRET` set): one
/// response, referred to by each route.
#[derive(ToResponse)]
#[response(
    description = "With AUDIO_IDENTITY_SECRET: no identity vouched for by the gateway (missing, forged or expired X-Gateway-Identity)"
)]
pub struct Unauthorized(#[allow(dead_code)] ErrorBody);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidFileName(#[from] FileNameError),
    #[error("{0}")]
    InvalidRecordingId(#[from] RecordingIdError),
    #[error("{0}")]
    BadQuery(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the recording is still in progress")]
    InProgress,
    #[error("too many live sessions (limit {0}); try again later")]
    TooManySessions(usize),
    #[error("not a WebSocket upgrade: {0}")]
    Handshake(String),
    #[error("the service is shutting down")]
    Unavailable,
    #[error("the recordings' store cannot be reached; try again later")]
    StoreUnreachable,
    #[error("{}", storage_message(.0))]
    Storage(#[from] std::io::Error),
    /// A recording call (`/record/*`) refused, with the WebSocket protocol's code.
    #[error("{}", .0.message)]
    Session(Refusal),
    #[error("{0}")]
    BadBody(String),
    /// With `AUDIO_IDENTITY_SECRET`: the request carries no identity vouched by the gateway.
    #[error("{0}")]
    Unauthorized(#[from] stack_common::identity::VouchError),
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidFileName(_) => "invalid-file-name",
            Self::InvalidRecordingId(_) => "invalid-recording-id",
            Self::BadQuery(_) => "bad-query",
            Self::NotFound(_) => "not-found",
            Self::InProgress => "recording-in-progress",
            Self::TooManySessions(_) => "too-many-sessions",
            Self::Handshake(_) => "not-a-websocket-upgrade",
            Self::Unavailable => "unavailable",
            Self::StoreUnreachable => "store-unreachable",
            Self::Storage(err) if err.kind() == std::io::ErrorKind::NotConnected => {
                "index-unavailable"
            }
            Self::Storage(_) => "storage-error",
            Self::Session(refusal) => refusal.code.as_str(),
            Self::BadBody(_) => "bad-body",
            Self::Unauthorized(_) => "unauthorized",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidFileName(_)
            | Self::InvalidRecordingId(_)
            | Self::BadQuery(_)
            | Self::Handshake(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::InProgress => StatusCode::CONFLICT,
            Self::TooManySessions(_) | Self::Unavailable | Self::StoreUnreachable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Storage(err) if err.kind() == std::io::ErrorKind::NotConnected => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadBody(_) => StatusCode::BAD_REQUEST,
            Self::Session(refusal) => match refusal.code {
                ErrorCode::NotStarted
                | ErrorCode::AlreadyStarted
                | ErrorCode::SeqGap
                | ErrorCode::RecordingBusy => StatusCode::CONFLICT,
                ErrorCode::RecordingTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::RecordingNotFound => StatusCode::NOT_FOUND,
                ErrorCode::StorageError => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Storage(err) = self {
            // The detail goes to the log, not to the client (it may name server paths).
            log::error!("storage failure: {err}");
        }
        HttpResponse::build(self.status_code()).json(ErrorBody {
            error: self.code(),
            message: self.to_string(),
        })
    }
}

/// What a client is told of a storage error (the detail goes to the log only).
fn storage_message(err: &std::io::Error) -> &'static str {
    if err.kind() == std::io::ErrorKind::NotConnected {
        "the recording index cannot be reached; try again later"
    } else {
        "storage failure"
    }
}
