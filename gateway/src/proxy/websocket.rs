//! WebSocket proxying: the upgrade reaches an instance first (another one is tried if it cannot
//! be reached, before the client has seen a byte); then one `WsProxy` actor per socket relays
//! frames both ways unchanged: text, binary, ping/pong, fragments, close codes and reasons.
//! When one side goes without a close frame, the other is closed with 1001 (going away).

use actix::io::{SinkWrite, WriteHandler};
use actix::prelude::*;
use actix_codec::Framed;
use actix_http::ws::{CloseCode, CloseReason, Codec, Frame, Message, ProtocolError};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws::{self, WebsocketContext};
use awc::error::{SendRequestError, WsClientError};
use awc::BoxedSocket;
use bytestring::ByteString;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::StreamExt;

use super::headers::{forwarded, request_id};
use super::{choose, report, upstream_url, MAX_ATTEMPTS};
use crate::balancer::{Attempt, Balancer, SocketCount};
use crate::error::GatewayError;
use crate::metrics::{Metrics, WebSocketChange};
use crate::route::{Route, Target};
use crate::startup::GatewayState;

/// Largest frame relayed either way.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

type UpstreamSink = SplitSink<Framed<BoxedSocket, Codec>, Message>;
type UpstreamStream = SplitStream<Framed<BoxedSocket, Codec>>;

pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: &GatewayState,
    client: &awc::Client,
    route: &Route,
) -> Result<HttpResponse, GatewayError> {
    let target = route.target();
    let id = request_id(&req);
    let mut tried = Vec::new();
    let mut last_error = String::new();
    for _ in 0..MAX_ATTEMPTS {
        let upstream = match choose(state, &target, true, &tried).await {
            Ok(upstream) => upstream,
            Err(err) if tried.is_empty() => return Err(err),
            Err(_) => break,
        };
        let url = upstream_url("ws", &upstream, route, &req);
        let mut request = client
            .ws(url)
            .max_frame_size(MAX_FRAME)
            .header("x-request-id", id.as_str());
        for (name, value) in forwarded(&req) {
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
        let outcome = |result| report(state, &target, &upstream, result);
        match request.connect().await {
            Ok((_, framed)) => {
                outcome(Attempt::Success);
                log::info!(
                    "websocket {} -> {} [request {id}]",
                    req.path(),
                    upstream.instance_id
                );
                let counted =
                    matches!(target, Target::Service(_)).then(|| upstream.instance_id.clone());
                let proxy = WsProxy::new(
                    framed,
                    counted,
                    state.balancer.clone(),
                    state.metrics.clone(),
                );
                return ws::WsResponseBuilder::new(proxy, &req, payload)
                    .frame_size(MAX_FRAME)
                    .start()
                    .map_err(|err| GatewayError::BadGateway("client".into(), err.to_string()));
            }
            Err(err) => {
                // A refused connection or an instance that would not upgrade (503 when full,
                // say): nothing reached the client yet, so another instance is tried.
                let refused = matches!(
                    err,
                    WsClientError::SendRequest(SendRequestError::Connect(_))
                );
                outcome(if refused {
                    Attempt::Refused
                } else {
                    Attempt::Failed
                });
                log::warn!(
                    "websocket upgrade at {} failed [request {id}]: {err}",
                    upstream.instance_id
                );
                last_error = err.to_string();
                tried.push(upstream.instance_id);
            }
        }
    }
    Err(GatewayError::BadGateway(route.target_name(), last_error))
}

/// One proxied socket: the client side is this actor's `WebsocketContext`; the upstream side is
/// a sink it writes to and a stream it reads from.
pub struct WsProxy {
    upstream: Option<SinkWrite<Message, UpstreamSink>>,
    pending: Option<(UpstreamSink, UpstreamStream)>,
    instance_id: Option<String>,
    balancer: Addr<Balancer>,
    metrics: Addr<Metrics>,
}

impl WsProxy {
    fn new(
        framed: Framed<BoxedSocket, Codec>,
        instance_id: Option<String>,
        balancer: Addr<Balancer>,
        metrics: Addr<Metrics>,
    ) -> Self {
        let (sink, stream) = framed.split();
        Self {
            upstream: None,
            pending: Some((sink, stream)),
            instance_id,
            balancer,
            metrics,
        }
    }

    fn send_upstream(&mut self, message: Message) {
        if let Some(upstream) = self.upstream.as_mut() {
            // An error here means the upstream sink is closed; its stream ending stops us.
            let _ = upstream.write(message);
        }
    }
}

impl Actor for WsProxy {
    type Context = WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Some((sink, stream)) = self.pending.take() {
            self.upstream = Some(SinkWrite::new(sink, ctx));
            ctx.add_stream(stream);
        }
        if let Some(instance_id) = &self.instance_id {
            self.balancer.do_send(SocketCount {
                instance_id: instance_id.clone(),
                opened: true,
            });
        }
        self.metrics.do_send(WebSocketChange(true));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if let Some(instance_id) = self.instance_id.take() {
            self.balancer.do_send(SocketCount {
                instance_id,
                opened: false,
            });
        }
        self.metrics.do_send(WebSocketChange(false));
    }
}

/// Frames from the client, to the upstream.
impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsProxy {
    fn handle(&mut self, frame: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        match frame {
            Ok(ws::Message::Text(text)) => self.send_upstream(Message::Text(text)),
            Ok(ws::Message::Binary(bytes)) => self.send_upstream(Message::Binary(bytes)),
            Ok(ws::Message::Continuation(item)) => self.send_upstream(Message::Continuation(item)),
            Ok(ws::Message::Ping(bytes)) => self.send_upstream(Message::Ping(bytes)),
            Ok(ws::Message::Pong(bytes)) => self.send_upstream(Message::Pong(bytes)),
            Ok(ws::Message::Close(reason)) => {
                // Relay the close; the upstream's answering close comes back through `handle`
                // below and ends the client side.
                self.send_upstream(Message::Close(reason));
            }
            Ok(ws::Message::Nop) => {}
            Err(err) => {
                let reason = CloseReason {
                    code: if matches!(err, ProtocolError::Overflow) {
                        CloseCode::Size
                    } else {
                        CloseCode::Protocol
                    },
                    description: Some(err.to_string()),
                };
                self.send_upstream(Message::Close(Some(reason.clone())));
                ctx.close(Some(reason));
                ctx.stop();
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        // The client went without a close frame: tell the upstream it has gone away.
        self.send_upstream(Message::Close(Some(CloseReason {
            code: CloseCode::Away,
            description: Some("client went away".into()),
        })));
        if let Some(upstream) = self.upstream.as_mut() {
            upstream.close();
        }
        ctx.stop();
    }
}

/// Frames from the upstream, to the client.
impl StreamHandler<Result<Frame, ProtocolError>> for WsProxy {
    fn handle(&mut self, frame: Result<Frame, ProtocolError>, ctx: &mut Self::Context) {
        match frame {
            Ok(Frame::Text(bytes)) => match ByteString::try_from(bytes) {
                Ok(text) => ctx.text(text),
                Err(_) => {
                    ctx.close(Some(CloseReason {
                        code: CloseCode::Invalid,
                        description: Some("upstream sent invalid UTF-8".into()),
                    }));
                    ctx.stop();
                }
            },
            Ok(Frame::Binary(bytes)) => ctx.binary(bytes),
            Ok(Frame::Continuation(item)) => ctx.write_raw(ws::Message::Continuation(item)),
            Ok(Frame::Ping(bytes)) => ctx.ping(&bytes),
            Ok(Frame::Pong(bytes)) => ctx.pong(&bytes),
            Ok(Frame::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Err(err) => {
                log::info!("upstream websocket error: {err}");
                ctx.close(Some(CloseReason {
                    code: CloseCode::Away,
                    description: Some("upstream went away".into()),
                }));
                ctx.stop();
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        // The upstream went without a close frame (its instance died, say).
        ctx.close(Some(CloseReason {
            code: CloseCode::Away,
            description: Some("upstream went away".into()),
        }));
        ctx.stop();
    }
}

impl WriteHandler<ProtocolError> for WsProxy {
    fn error(&mut self, err: ProtocolError, _: &mut Self::Context) -> Running {
        log::info!("writing to the upstream websocket failed: {err}");
        Running::Stop
    }
}
