//! The optional shared secret. Accepted as `Authorization: Bearer <token>`, as the password of
//! HTTP Basic auth (so Eureka's Java client can send it from `http://user:<token>@host/eureka/`),
//! or as `X-Registry-Token`. Compared in constant time; never logged.

use actix_web::HttpRequest;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

#[derive(Debug, Clone, Default)]
pub struct TokenPolicy {
    pub token: Option<String>,
    /// Whether reads need the token too (writes always do when a token is set).
    pub protect_reads: bool,
}

impl TokenPolicy {
    pub fn check_write(&self, req: &HttpRequest) -> Result<(), ApiError> {
        self.check(req)
    }

    pub fn check_read(&self, req: &HttpRequest) -> Result<(), ApiError> {
        if self.protect_reads {
            self.check(req)
        } else {
            Ok(())
        }
    }

    fn check(&self, req: &HttpRequest) -> Result<(), ApiError> {
        let Some(expected) = &self.token else {
            return Ok(());
        };
        let presented = presented_token(req).unwrap_or_default();
        if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

fn presented_token(req: &HttpRequest) -> Option<String> {
    let headers = req.headers();
    if let Some(value) = headers
        .get("x-registry-token")
        .and_then(|v| v.to_str().ok())
    {
        return Some(value.to_owned());
    }
    let auth = headers.get("authorization")?.to_str().ok()?;
    if let Some(token) = auth.strip_prefix("Bearer ") {
        return Some(token.trim().to_owned());
    }
    let encoded = auth.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_owned())
}
