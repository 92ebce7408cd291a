//! HTTP proxying. Both bodies stream (a large download is never held in memory); `Range`,
//! status codes and end-to-end headers pass through unchanged. Idempotent requests without a
//! body are retried on another instance when one cannot be reached; others are not.

use std::time::Instant;

use actix_web::body::SizedStream;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use awc::error::SendRequestError;

use super::headers::{connection_listed, forwarded, is_hop_by_hop, request_id};
use super::{choose, report, upstream_url, MAX_ATTEMPTS};
use crate::balancer::Attempt;
use crate::error::GatewayError;
use crate::metrics::RequestDone;
use crate::route::Route;
use crate::state::GatewayState;

pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: &GatewayState,
    client: &awc::Client,
    route: &Route,
    vouched: Option<(&'static str, String)>,
) -> Result<HttpResponse, GatewayError> {
    let started = Instant::now();
    let id = request_id(&req);
    let result = attempt_all(&req, payload, state, client, route, &id, vouched.as_ref()).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(err) => actix_web::ResponseError::status_code(err),
    };
    // The access log: at debug, so that a default `info` log is not a line per request.
    log::debug!(
        "{} {} -> route {} {} in {:.1} ms [request {id}]",
        req.method(),
        req.path(),
        route.id,
        status.as_u16(),
        started.elapsed().as_secs_f64() * 1e3
    );
    state.metrics.do_send(RequestDone {
        route: route.id.clone(),
        status: status.as_u16(),
        elapsed: started.elapsed(),
    });
    result.map(|mut response| {
        if let Ok(value) = id.parse() {
            response
                .headers_mut()
                .insert("x-request-id".parse().expect("static name"), value);
        }
        response
    })
}

fn retryable(req: &HttpRequest) -> bool {
    let idempotent = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE
    );
    let headers = req.headers();
    let no_body = !headers.contains_key("transfer-encoding")
        && headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.trim() == "0");
    idempotent && no_body
}

async fn attempt_all(
    req: &HttpRequest,
    payload: web::Payload,
    state: &GatewayState,
    client: &awc::Client,
    route: &Route,
    id: &str,
    vouched: Option<&(&'static str, String)>,
) -> Result<HttpResponse, GatewayError> {
    let target = route.target();
    let name = route.target_name();
    let retry = retryable(req);
    let mut payload = Some(payload);
    let mut tried = Vec::new();
    let mut last_error = String::new();
    for _ in 0..MAX_ATTEMPTS {
        let upstream = match choose(state, &target, false, &tried).await {
            Ok(upstream) => upstream,
            Err(err) if tried.is_empty() => return Err(err),
            Err(_) => break,
        };
        let url = upstream_url("http", &upstream, route, req);
        let mut request = client.request_from(url, req.head()).no_decompress();
        let listed = connection_listed(req.headers());
        let names: Vec<_> = request.headers().keys().cloned().collect();
        for header in names {
            // The identity header is the gateway's to send: one from a client is dropped.
            if is_hop_by_hop(&header, &listed) || crate::auth::is_reserved(header.as_str()) {
                request.headers_mut().remove(header);
            }
        }
        for (name, value) in forwarded(req, &state.own_address) {
            request = request.insert_header((name, value));
        }
        request = request.insert_header(("x-request-id", id));
        if let Some((name, value)) = vouched {
            request = request.insert_header((*name, value.as_str()));
        }
        for (name, value) in &route.add_request_headers {
            request = request.insert_header((name.as_str(), value.as_str()));
        }

        let sent = if retry {
            request.send().await
        } else {
            match payload.take() {
                Some(body) => request.send_stream(body).await,
                None => break,
            }
        };
        let outcome = |result| report(state, &target, &upstream, result);
        match sent {
            Ok(response) => {
                let failed = matches!(response.status().as_u16(), 502..=504);
                outcome(if failed {
                    Attempt::Failed
                } else {
                    Attempt::Success
                });
                let head_only = req.method() == Method::HEAD;
                return Ok(relay(response, route, head_only, &state.stopping));
            }
            Err(SendRequestError::Timeout) => {
                outcome(Attempt::Failed);
                return Err(GatewayError::Timeout(name));
            }
            Err(err @ SendRequestError::Connect(_)) => {
                outcome(Attempt::Refused);
                last_error = err.to_string();
                log::warn!(
                    "{} unreachable for {} [request {id}]: {err}",
                    upstream.instance_id,
                    req.path()
                );
                if !retry {
                    break;
                }
                tried.push(upstream.instance_id);
            }
            Err(err) => {
                outcome(Attempt::Failed);
                return Err(GatewayError::BadGateway(name, err.to_string()));
            }
        }
    }
    Err(GatewayError::BadGateway(name, last_error))
}

/// The upstream's response for the client: status and end-to-end headers as they are, the
/// route's added headers, and the body streamed with its length when known. An event stream
/// (`text/event-stream`, which never ends by itself) ends when the gateway starts to stop.
fn relay<S>(
    response: awc::ClientResponse<S>,
    route: &Route,
    head_only: bool,
    stopping: &actix_server::GracefulShutdownSignal,
) -> HttpResponse
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, actix_web::error::PayloadError>>
        + Unpin
        + 'static,
{
    let status = response.status();
    let mut builder = HttpResponse::build(status);
    let listed = connection_listed(response.headers());
    let length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    for (name, value) in response.headers() {
        if !is_hop_by_hop(name, &listed) && name != "content-length" {
            builder.append_header((name.clone(), value.clone()));
        }
    }
    for (name, value) in &route.add_response_headers {
        builder.insert_header((name.as_str(), value.as_str()));
    }
    let bodiless =
        head_only || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    match (bodiless, length) {
        (true, Some(length)) => {
            builder.insert_header(("content-length", length.to_string()));
            builder.finish()
        }
        (true, None) => builder.finish(),
        (false, Some(length)) => builder.body(SizedStream::new(length, response)),
        (false, None) if is_event_stream(&response) => {
            let stopping = stopping.clone();
            let stopped = Box::pin(async move { stopping.notified().await });
            builder.streaming(futures_util::StreamExt::take_until(response, stopped))
        }
        (false, None) => builder.streaming(response),
    }
}

fn is_event_stream<S>(response: &awc::ClientResponse<S>) -> bool {
    response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("text/event-stream"))
}
