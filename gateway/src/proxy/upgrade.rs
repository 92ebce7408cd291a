//! Where the client's connection is taken over. actix-http hands every request that asks for a
//! WebSocket (`Upgrade: websocket`) to `serve`, with the connection itself. The request goes
//! through the app like any other (routes, token check, CORS, errors as JSON); if the WebSocket
//! proxy left an upstream in the request's `TunnelSlot`, the client gets its 101 and the
//! connection becomes a `Relay`. Any other answer is written and the connection closed.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::pin;
use std::rc::Rc;

use actix_codec::{Encoder, Framed};
use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_http::h1::{Codec, Message};
use actix_http::{ConnectionType, HttpMessage, Request, Response, StatusCode};
use actix_service::Service;
use actix_web::dev::ServiceResponse;
use awc::BoxedSocket;
use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::relay::{Relay, Upstream};

/// Where the WebSocket proxy leaves the upstream it has connected, for `serve` to relay once the
/// client has its 101. Only requests that came through `serve` carry one.
#[derive(Clone, Default)]
pub struct TunnelSlot(Rc<RefCell<Option<Upstream<BoxedSocket>>>>);

impl TunnelSlot {
    pub fn put(&self, upstream: Upstream<BoxedSocket>) {
        *self.0.borrow_mut() = Some(upstream);
    }

    fn take(&self) -> Option<Upstream<BoxedSocket>> {
        self.0.borrow_mut().take()
    }
}

/// Answers one upgrade request with `app`, then relays or closes.
pub async fn serve<S, B>(
    app: Rc<S>,
    req: Request,
    framed: Framed<TcpStream, Codec>,
) -> Result<(), Infallible>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let slot = TunnelSlot::default();
    req.extensions_mut().insert(slot.clone());
    let response: Response<BoxBody> = match app.call(req).await {
        Ok(response) => response.map_into_boxed_body().into(),
        Err(err) => err.error_response().into(),
    };
    let (mut head, body) = response.into_parts();
    let mut parts = framed.into_parts();
    // Empty unless the dispatcher had something unsent.
    let mut out = std::mem::take(&mut parts.write_buf);
    match slot.take() {
        Some(upstream) if head.status() == StatusCode::SWITCHING_PROTOCOLS => {
            if let Err(err) = parts
                .codec
                .encode(Message::Item((head, BodySize::None)), &mut out)
            {
                log::warn!("could not write a 101 response: {err}");
                return Ok(());
            }
            if let Err(err) = parts.io.write_all(&out).await {
                log::debug!("the client went before its 101: {err}");
                return Ok(());
            }
            // Whatever the client sent past its request goes to the upstream first.
            let early = std::mem::take(&mut parts.read_buf);
            drop(out);
            Relay::new(parts.io, &early, upstream).await;
        }
        _ => {
            // Not upgraded: the request's connection ends with this answer (what follows the
            // request on it, if anything, would be the frames of a socket that was refused).
            head.head_mut().set_connection_type(ConnectionType::Close);
            if let Err(err) = answer(&mut parts.codec, &mut parts.io, head, body, out).await {
                log::debug!("could not answer an upgrade request: {err}");
            }
            let _ = parts.io.shutdown().await;
        }
    }
    Ok(())
}

/// Writes a whole response (head and body) to `io`.
async fn answer(
    codec: &mut Codec,
    io: &mut TcpStream,
    head: Response<()>,
    body: BoxBody,
    mut out: BytesMut,
) -> std::io::Result<()> {
    let size = body.size();
    codec.encode(Message::Item((head, size)), &mut out)?;
    let mut body = pin!(body);
    while let Some(chunk) = poll_fn(|cx| body.as_mut().poll_next(cx)).await {
        let chunk = chunk.map_err(|err| std::io::Error::other(err.to_string()))?;
        codec.encode(Message::Chunk(Some(chunk)), &mut out)?;
        io.write_all(&out).await?;
        out.clear();
    }
    codec.encode(Message::Chunk(None), &mut out)?;
    io.write_all(&out).await
}
