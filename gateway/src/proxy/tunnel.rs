//! One proxied WebSocket once both upgrades are done: the bytes of each side go to the other as
//! they are (frames are neither decoded nor re-encoded, so text, binary, fragments, ping/pong and
//! close codes cannot change), one `WsTunnel` actor per socket.
//!
//! Back-pressure is end to end. Client to upstream: the actor takes the client's next chunk only
//! once the previous one is written to the upstream (`ctx.wait`), and actix stops reading a client
//! whose chunks are not taken. Upstream to client: `UpstreamBody` reads the upstream only when
//! actix asks for more of the response, which it does only while its write buffer to the client
//! is short. A slow side slows the other through TCP, and the gateway holds a bounded amount.
//!
//! When one side vanishes without a close frame, the other gets a close 1001 (going away), if it
//! would not land inside a frame.

use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use actix::prelude::*;
use actix_web::error::PayloadError;
use awc::BoxedSocket;
use bytes::Bytes;
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};

use super::frames::{close_frame, FrameTracker};
use crate::balancer::{Balancer, SocketCount};
use crate::metrics::{Metrics, WebSocketChange};

/// The most read from the upstream at once.
const READ_CHUNK: usize = 16 * 1024;

/// How long a write to the upstream may wait for it to take bytes before the socket is given up.
const UPSTREAM_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Close code 1001: the other side has gone away.
const GOING_AWAY: u16 = 1001;

/// The client-to-upstream half of one proxied socket, and its bookkeeping (open sockets per
/// instance for the balancer, the open-sockets gauge).
pub struct WsTunnel {
    upstream: Option<WriteHalf<BoxedSocket>>,
    from_client: FrameTracker,
    upstream_ended: bool,
    closing: bool,
    instance_id: Option<String>,
    balancer: Addr<Balancer>,
    metrics: Addr<Metrics>,
}

impl WsTunnel {
    /// Starts the actor on the client's raw `payload` and returns the response body that carries
    /// the upstream's bytes to the client. `early` is what was read past the upstream's 101.
    pub fn start<S>(
        payload: S,
        upstream: BoxedSocket,
        early: Bytes,
        instance_id: Option<String>,
        balancer: Addr<Balancer>,
        metrics: Addr<Metrics>,
    ) -> UpstreamBody
    where
        S: Stream<Item = Result<Bytes, PayloadError>> + 'static,
    {
        let (reader, writer) = tokio::io::split(upstream);
        let tunnel = WsTunnel::create(|ctx| {
            ctx.add_stream(payload);
            WsTunnel {
                upstream: Some(writer),
                from_client: FrameTracker::default(),
                upstream_ended: false,
                closing: false,
                instance_id,
                balancer,
                metrics,
            }
        });
        UpstreamBody {
            reader,
            early: (!early.is_empty()).then_some(early),
            frames: FrameTracker::default(),
            ended: false,
            tunnel,
        }
    }

    fn write_upstream(&mut self, bytes: Bytes, ctx: &mut Context<Self>) {
        let Some(mut writer) = self.upstream.take() else {
            return;
        };
        // `wait` holds the client's next chunk back until this one is written: back-pressure.
        let write = async move {
            let written =
                tokio::time::timeout(UPSTREAM_WRITE_TIMEOUT, writer.write_all(&bytes)).await;
            (writer, written)
        };
        ctx.wait(
            write
                .into_actor(self)
                .map(|(writer, written), act, ctx| match written {
                    Ok(Ok(())) => act.upstream = Some(writer),
                    Ok(Err(err)) => {
                        log::info!("writing to the upstream websocket failed: {err}");
                        ctx.stop();
                    }
                    Err(_) => {
                        log::warn!(
                            "the upstream websocket took nothing for {UPSTREAM_WRITE_TIMEOUT:?}"
                        );
                        actix_rt::spawn(shutdown(writer));
                        ctx.stop();
                    }
                }),
        );
    }

    /// The client has gone (its stream ended or its response was dropped): the upstream gets a
    /// close 1001 unless the client had closed already, then the end of the stream.
    fn client_gone(&mut self, ctx: &mut Context<Self>) {
        if std::mem::replace(&mut self.closing, true) {
            return;
        }
        let Some(mut writer) = self.upstream.take() else {
            ctx.stop();
            return;
        };
        let farewell = (!self.upstream_ended
            && self.from_client.at_boundary()
            && !self.from_client.close_seen())
        .then(|| close_frame(GOING_AWAY, "client went away", true));
        let finish = async move {
            if let Some(frame) = farewell {
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), writer.write_all(&frame)).await;
            }
            shutdown(writer).await;
        };
        ctx.wait(finish.into_actor(self).map(|_, _, ctx| ctx.stop()));
    }
}

async fn shutdown(mut writer: WriteHalf<BoxedSocket>) {
    let _ = tokio::time::timeout(Duration::from_secs(1), writer.shutdown()).await;
}

impl Actor for WsTunnel {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Self::Context) {
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

/// The client's bytes, as actix reads them from its socket.
impl StreamHandler<Result<Bytes, PayloadError>> for WsTunnel {
    fn handle(&mut self, chunk: Result<Bytes, PayloadError>, ctx: &mut Self::Context) {
        match chunk {
            Ok(bytes) => {
                self.from_client.feed(&bytes);
                self.write_upstream(bytes, ctx);
            }
            // The stream ends right after; `finished` tells the upstream.
            Err(err) => log::debug!("client websocket read failed: {err}"),
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        self.client_gone(ctx);
    }
}

/// The upstream's stream has ended (sent by `UpstreamBody`).
#[derive(Message)]
#[rtype(result = "()")]
struct UpstreamEnded;

impl Handler<UpstreamEnded> for WsTunnel {
    type Result = ();

    fn handle(&mut self, _: UpstreamEnded, _: &mut Self::Context) {
        self.upstream_ended = true;
    }
}

/// The client's response is gone (actix dropped it with the connection).
#[derive(Message)]
#[rtype(result = "()")]
struct ResponseDropped;

impl Handler<ResponseDropped> for WsTunnel {
    type Result = ();

    fn handle(&mut self, _: ResponseDropped, ctx: &mut Self::Context) {
        self.client_gone(ctx);
    }
}

/// The body of the client's 101 response: the upstream's bytes, read only when actix wants more.
pub struct UpstreamBody {
    reader: ReadHalf<BoxedSocket>,
    early: Option<Bytes>,
    frames: FrameTracker,
    ended: bool,
    tunnel: Addr<WsTunnel>,
}

impl Stream for UpstreamBody {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(bytes) = this.early.take() {
            this.frames.feed(&bytes);
            return Poll::Ready(Some(Ok(bytes)));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        // A buffer on the stack, copied out at its length: an idle socket holds no read buffer.
        // Left uninitialised (zeroing 16 KiB on every poll showed in the profile); `ReadBuf`
        // hands out only the part the read filled.
        let mut buffer = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut read = ReadBuf::uninit(&mut buffer);
        match Pin::new(&mut this.reader).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) if !read.filled().is_empty() => {
                let bytes = Bytes::copy_from_slice(read.filled());
                this.frames.feed(&bytes);
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(result) => {
                if let Err(err) = result {
                    log::info!("upstream websocket read failed: {err}");
                }
                this.ended = true;
                this.tunnel.do_send(UpstreamEnded);
                if this.frames.at_boundary() && !this.frames.close_seen() {
                    let frame = close_frame(GOING_AWAY, "upstream went away", false);
                    Poll::Ready(Some(Ok(Bytes::from(frame))))
                } else {
                    Poll::Ready(None)
                }
            }
        }
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        self.tunnel.do_send(ResponseDropped);
    }
}
