//! Header rules shared by both proxies.

use std::net::SocketAddr;

use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::HttpRequest;

/// Hop-by-hop headers (RFC 9110 §7.6.1) and `Host`: never forwarded.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

pub fn is_hop_by_hop(name: &HeaderName, connection_listed: &[String]) -> bool {
    let name = name.as_str();
    HOP_BY_HOP.contains(&name) || connection_listed.iter().any(|listed| listed == name)
}

/// Headers named in `Connection:` are hop-by-hop too.
pub fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("connection")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The local address a client's connection reached (kept per connection at accept).
#[derive(Debug, Clone, Copy)]
pub struct ReachedAddress(pub SocketAddr);

/// `X-Forwarded-For/Proto/Host` values for a request: the client's address appended to any
/// chain it came with; the host the client asked for, or when it named none (an HTTP/1.0
/// request without `Host`, where actix-web would give its placeholder, `localhost:8080`) the
/// address its connection reached, else `own_address` (the listener's).
pub fn forwarded(req: &HttpRequest, own_address: &str) -> [(&'static str, String); 3] {
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let chain = match req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(previous) => format!("{previous}, {peer}"),
        None => peer,
    };
    let info = req.connection_info();
    let headers = req.headers();
    let named = req.uri().authority().is_some()
        || ["host", "forwarded", "x-forwarded-host"]
            .iter()
            .any(|name| headers.contains_key(*name));
    let host = if named {
        info.host().to_owned()
    } else {
        req.conn_data::<ReachedAddress>()
            .map_or_else(|| own_address.to_owned(), |reached| reached.0.to_string())
    };
    [
        ("x-forwarded-for", chain),
        ("x-forwarded-proto", info.scheme().to_owned()),
        ("x-forwarded-host", host),
    ]
}

/// The request's id: kept if the client sent a sane one, made up otherwise.
pub fn request_id(req: &HttpRequest) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The query string without the gateway's own `access_token`, which stays at the gateway.
pub fn upstream_query(query: &str) -> String {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("access_token="))
        .collect();
    if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    }
}
