use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// What the gateway itself answers, as JSON `{"error": code, "message": ...}`.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("no instance of {0} is available")]
    NoInstance(String),
    #[error("no instance of {0} could be reached: {1}")]
    BadGateway(String, String),
    /// Every instance tried refused a WebSocket with 503: each holds all the sessions it may.
    #[error("every instance of {0} tried holds all the sessions it may; try again later")]
    Full(String),
    /// The gateway relays all the WebSockets its open-files limit allows.
    #[error("the gateway relays at most {0} WebSockets at once; try again later")]
    GatewayFull(usize),
    #[error("{0} did not answer in time")]
    Timeout(String),
    #[error("{0}")]
    Unauthorized(#[from] crate::auth::AuthError),
    #[error("not found")]
    NotFound,
    /// The instance answered an upgrade to this path with 404.
    #[error("no WebSocket at {0}; the recording WebSocket is /ws/record (or /ws/audio)")]
    NoSuchWebSocket(String),
    #[error("not a valid WebSocket upgrade: {0}")]
    BadUpgrade(String),
    #[error("the gateway is shutting down")]
    Unavailable,
}

impl ResponseError for GatewayError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NoInstance(_) | Self::Full(_) | Self::GatewayFull(_) | Self::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::BadGateway(..) => StatusCode::BAD_GATEWAY,
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::BadUpgrade(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(err) if err.is_clients() => StatusCode::UNAUTHORIZED,
            Self::Unauthorized(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotFound | Self::NoSuchWebSocket(_) => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            Self::NoInstance(_) => "no-instance",
            Self::BadGateway(..) => "bad-gateway",
            // The instance's own code for it, so that clients see one answer either way.
            Self::Full(_) | Self::GatewayFull(_) => "too-many-sessions",
            Self::Timeout(_) => "gateway-timeout",
            Self::BadUpgrade(_) => "bad-upgrade",
            Self::Unauthorized(err) if err.is_clients() => "unauthorized",
            Self::Unauthorized(_) => "keys-unavailable",
            Self::NotFound | Self::NoSuchWebSocket(_) => "not-found",
            Self::Unavailable => "unavailable",
        };
        let mut response = HttpResponse::build(self.status_code());
        if let Self::Unauthorized(err) = self {
            // RFC 6750 §3: what was wrong, for clients that read the header.
            let challenge = match err {
                crate::auth::AuthError::Missing => "Bearer".to_owned(),
                err => format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    err.to_string().replace('"', "'")
                ),
            };
            response.insert_header(("www-authenticate", challenge));
        }
        response.json(json!({"error": code, "message": self.to_string()}))
    }
}
