use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::registry::RegistryError;
use crate::validate::InvalidInstance;

/// The registry API's errors, mapped once to HTTP with a JSON body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{0}")]
    Invalid(#[from] InvalidInstance),
    #[error("malformed body: {0}")]
    BadBody(String),
    #[error("a valid registry token is required")]
    Unauthorized,
    #[error("the registry is shutting down")]
    Unavailable,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Registry(RegistryError::NotFound) => StatusCode::NOT_FOUND,
            Self::Registry(RegistryError::Invalid(_)) | Self::Invalid(_) | Self::BadBody(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::Registry(RegistryError::Full(_)) | Self::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self.status_code() {
            StatusCode::NOT_FOUND => "not-found",
            StatusCode::BAD_REQUEST => "invalid",
            StatusCode::UNAUTHORIZED => "unauthorized",
            _ => "unavailable",
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized) {
            response.insert_header(("WWW-Authenticate", "Bearer realm=\"registry\""));
        }
        response.json(json!({"error": code, "message": self.to_string()}))
    }
}
