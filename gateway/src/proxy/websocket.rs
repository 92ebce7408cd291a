//! WebSocket proxying: the client's upgrade is checked, then an instance's upgrade is made
//! (another instance is tried if one cannot be reached or refuses, before the client has seen a
//! byte), then the upstream is left in the request's `TunnelSlot`: `upgrade::serve` sends the
//! client its 101 and relays the bytes both ways.

use actix_web::http::header::SEC_WEBSOCKET_PROTOCOL;
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use actix_web_actors::ws;
use awc::error::{SendRequestError, WsClientError};

use super::headers::{forwarded, request_id};
use super::relay::{SocketGuard, Upstream};
use super::upgrade::TunnelSlot;
use super::{choose, report, upstream_url, MAX_ATTEMPTS};
use crate::balancer::Attempt;
use crate::error::GatewayError;
use crate::route::{Route, Target};
use crate::state::GatewayState;

pub async fn forward(
    req: HttpRequest,
    state: &GatewayState,
    client: &awc::Client,
    route: &Route,
    vouched: Option<(&'static str, String)>,
) -> Result<HttpResponse, GatewayError> {
    // A bad upgrade is the client's error, found before any instance is used.
    let mut handshake =
        ws::handshake(&req).map_err(|err| GatewayError::BadUpgrade(err.to_string()))?;
    // Only a request actix-http treated as an upgrade carries the slot; one that also declares a
    // chunked body is not.
    let slot = req
        .extensions()
        .get::<TunnelSlot>()
        .cloned()
        .ok_or_else(|| {
            GatewayError::BadUpgrade("an upgrade request cannot have a chunked body".to_owned())
        })?;
    // A place in the gateway's budget first: the instance's socket is a descriptor too.
    let permit = state
        .relays
        .try_take()
        .ok_or(GatewayError::GatewayFull(state.relays.max()))?;
    let target = route.target();
    let id = request_id(&req);
    let mut tried = Vec::new();
    let mut last_error = String::new();
    // Whether every instance tried so far answered 503 (full).
    let mut all_full = true;
    for _ in 0..MAX_ATTEMPTS {
        let upstream = match choose(state, &target, true, &tried).await {
            Ok(upstream) => upstream,
            Err(err) if tried.is_empty() => {
                log::warn!("websocket {} refused: {err} [request {id}]", req.path());
                return Err(err);
            }
            Err(_) => break,
        };
        let url = upstream_url("ws", &upstream, route, &req);
        let request = upstream_request(client.ws(url), &req, state, route, &id, &vouched);
        let outcome = |result| report(state, &target, &upstream, result);
        match request.connect().await {
            Ok((response, framed)) => {
                outcome(Attempt::Success);
                log::debug!(
                    "websocket {} -> {} [request {id}]",
                    req.path(),
                    upstream.instance_id
                );
                if let Some(protocol) = response.headers().get(SEC_WEBSOCKET_PROTOCOL) {
                    handshake.insert_header((SEC_WEBSOCKET_PROTOCOL, protocol.clone()));
                }
                let counted =
                    matches!(target, Target::Service(_)).then(|| upstream.instance_id.clone());
                // The upstream's socket, and whatever was read past its 101 (its first frames).
                let parts = framed.into_parts();
                slot.put(Upstream {
                    io: parts.io,
                    early: parts.read_buf.freeze(),
                    guard: SocketGuard::open(
                        counted,
                        state.balancer.clone(),
                        state.metrics.clone(),
                        permit,
                    ),
                });
                return Ok(handshake.finish());
            }
            Err(WsClientError::InvalidResponseStatus(StatusCode::NOT_FOUND)) => {
                // The instance has no such WebSocket: the path is wrong, not the instance.
                // Every instance serves the same paths, so none other is tried.
                outcome(Attempt::Success);
                log::info!(
                    "websocket {}: no such path at {} [request {id}]",
                    req.path(),
                    upstream.instance_id
                );
                return Err(GatewayError::NoSuchWebSocket(
                    req.path().chars().take(200).collect(),
                ));
            }
            Err(err) => {
                // A refused connection or an instance that would not upgrade: nothing reached
                // the client yet, so another instance is tried.
                let full = is_full(&err);
                all_full &= full;
                if let Some(attempt) = held_against(&err) {
                    outcome(attempt);
                }
                log::warn!(
                    "websocket upgrade at {} failed [request {id}]: {err}",
                    upstream.instance_id
                );
                last_error = err.to_string();
                tried.push(upstream.instance_id);
            }
        }
    }
    if all_full && !tried.is_empty() {
        return Err(GatewayError::Full(route.target_name()));
    }
    Err(GatewayError::BadGateway(route.target_name(), last_error))
}

/// The upgrade sent to the instance. Only these headers go (a client's own identity header
/// never does): the request id, the identity the gateway vouches for, the forwarded headers,
/// the route's own, and the client's subprotocols.
fn upstream_request(
    mut request: awc::ws::WebsocketsRequest,
    req: &HttpRequest,
    state: &GatewayState,
    route: &Route,
    id: &str,
    vouched: &Option<(&'static str, String)>,
) -> awc::ws::WebsocketsRequest {
    request = request.header("x-request-id", id);
    if let Some((name, value)) = vouched {
        request = request.header(*name, value.as_str());
    }
    for (name, value) in forwarded(req, &state.own_address) {
        request = request.header(name, value);
    }
    for (name, value) in &route.add_request_headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(protocols) = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
    {
        request = request.protocols(protocols.split(',').map(str::trim));
    }
    request
}

/// An instance that answered 503 is full, not failing.
fn is_full(err: &WsClientError) -> bool {
    matches!(
        err,
        WsClientError::InvalidResponseStatus(StatusCode::SERVICE_UNAVAILABLE)
    )
}

/// How a failed upgrade counts against the instance's health: a refused connection, or a
/// failure; a full instance not at all.
fn held_against(err: &WsClientError) -> Option<Attempt> {
    if matches!(
        err,
        WsClientError::SendRequest(SendRequestError::Connect(_))
    ) {
        Some(Attempt::Refused)
    } else if is_full(err) {
        None
    } else {
        Some(Attempt::Failed)
    }
}
