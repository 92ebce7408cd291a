//! The optional access token for API and WebSocket requests. Browsers cannot set headers on a
//! WebSocket, so besides `Authorization: Bearer`, an `access_token` query parameter or a
//! `gateway_token` cookie is accepted. Compared in constant time; never logged.

use actix_web::HttpRequest;

use crate::error::GatewayError;

pub fn check_token(req: &HttpRequest, expected: Option<&str>) -> Result<(), GatewayError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let from_header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned());
    let from_query = || {
        req.query_string()
            .split('&')
            .find_map(|pair| pair.strip_prefix("access_token="))
            .map(|v| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
    };
    let from_cookie = || req.cookie("gateway_token").map(|c| c.value().to_owned());
    let presented = from_header
        .or_else(from_query)
        .or_else(from_cookie)
        .unwrap_or_default();
    // Compared in constant time (lengths are not secret).
    if bool::from(subtle::ConstantTimeEq::ct_eq(
        presented.as_bytes(),
        expected.as_bytes(),
    )) {
        Ok(())
    } else {
        Err(GatewayError::Unauthorized)
    }
}
