//! Where a request's token is read from: the `Authorization: Bearer` header on every request;
//! the `gateway_token` cookie (what the dev sign-in sets, and what a browser sends by itself
//! with `<audio>`, downloads and `EventSource`, which cannot set headers); and the
//! `access_token` query parameter on WebSocket upgrades only (a browser's `WebSocket` cannot
//! set headers either). The token itself is never logged.

use actix_web::HttpRequest;

use super::AuthError;

/// The cookie that carries a browser's token.
pub const COOKIE: &str = "gateway_token";

/// The token a request presents, or why it presents none that can be used.
pub fn presented(req: &HttpRequest, websocket: bool) -> Result<String, AuthError> {
    if let Some(value) = req.headers().get("authorization") {
        let value = value.to_str().map_err(|_| AuthError::NotBearer)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::NotBearer)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::NotBearer);
        }
        return Ok(token.trim().to_owned());
    }
    if let Some(cookie) = req.cookie(COOKIE).filter(|c| !c.value().is_empty()) {
        return Ok(cookie.value().to_owned());
    }
    match query_token(req) {
        Some(token) if websocket => Ok(token),
        Some(_) => Err(AuthError::QueryNotAllowed),
        None => Err(AuthError::Missing),
    }
}

/// The `access_token` query parameter, decoded.
pub fn query_token(req: &HttpRequest) -> Option<String> {
    req.query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("access_token="))
        .map(|v| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
        .filter(|v| !v.is_empty())
}
