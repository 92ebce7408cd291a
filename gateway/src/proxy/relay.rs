//! One proxied WebSocket once both upgrades are done: the client's socket and the upstream's,
//! owned by one future that moves each side's bytes to the other as they are (frames are neither
//! decoded nor re-encoded, so text, binary, fragments, ping/pong and close codes cannot change).
//!
//! Why a future of its own rather than actix-web's request body and response stream: a chunk
//! then costs one read and one write, straight from a buffer on the stack, in the task that
//! owns the connection. Through actix-web it was copied into the dispatcher's buffers, handed to
//! an actor in another task and written from there, and every idle socket kept the dispatcher's
//! read and write buffers.
//!
//! Back-pressure is end to end: a side's next read waits until what was read before has been
//! written to the other side, so a slow side slows the other through TCP and the gateway holds
//! at most one read (16 KiB) a direction. When one side vanishes without a close frame, the
//! other gets a close 1001 (going away), if it would not land inside a frame.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix::Addr;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep, Sleep};

use super::budget::RelayPermit;
use super::frames::{close_frame, FrameTracker};
use crate::balancer::{Balancer, SocketCount};
use crate::metrics::{Metrics, WebSocketChange};

/// The most read from a side at once.
const READ_CHUNK: usize = 16 * 1024;

/// Reads a direction makes in one poll before the task yields to other connections.
const READS_PER_POLL: usize = 8;

/// How long a side may leave bytes for it unwritten before the socket is given up.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Once one side has ended, how long the other has to end too.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Close code 1001: the other side has gone away.
const GOING_AWAY: u16 = 1001;

/// The open-sockets bookkeeping of one proxied socket (per instance for the balancer, and the
/// gauge), from the upstream's upgrade until the relay ends.
pub struct SocketGuard {
    instance_id: Option<String>,
    balancer: Addr<Balancer>,
    metrics: Addr<Metrics>,
    /// The relay's place in the gateway's budget, given back when the relay ends.
    _permit: RelayPermit,
}

impl SocketGuard {
    /// `instance_id` is the discovered instance, `None` for a route's fixed URL.
    pub fn open(
        instance_id: Option<String>,
        balancer: Addr<Balancer>,
        metrics: Addr<Metrics>,
        permit: RelayPermit,
    ) -> Self {
        if let Some(instance_id) = &instance_id {
            balancer.do_send(SocketCount {
                instance_id: instance_id.clone(),
                opened: true,
            });
        }
        metrics.do_send(WebSocketChange(true));
        Self {
            instance_id,
            balancer,
            metrics,
            _permit: permit,
        }
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        if let Some(instance_id) = self.instance_id.take() {
            self.balancer.do_send(SocketCount {
                instance_id,
                opened: false,
            });
        }
        self.metrics.do_send(WebSocketChange(false));
    }
}

/// An upstream WebSocket ready to be relayed: its socket, what was read past its 101 (its first
/// frames), and the bookkeeping that lasts as long as it does (`G`: dropped when the relay ends).
pub struct Upstream<U, G = SocketGuard> {
    pub io: U,
    pub early: Bytes,
    pub guard: G,
}

#[derive(Debug, PartialEq)]
enum State {
    /// Reading one side, writing the other.
    Open,
    /// The reading side has ended: what is left (and a farewell close) goes out, then the end
    /// of the stream.
    Closing,
    Done,
}

/// One direction of the relay.
struct Pump {
    frames: FrameTracker,
    /// Bytes read that the writer has not taken yet, from `written` on. Empty, with nothing
    /// allocated, unless the writer pushed back.
    pending: Vec<u8>,
    written: usize,
    write_failed: bool,
    state: State,
}

impl Pump {
    fn new(early: &[u8]) -> Self {
        let mut frames = FrameTracker::default();
        frames.feed(early);
        Self {
            frames,
            pending: early.to_vec(),
            written: 0,
            write_failed: false,
            state: State::Open,
        }
    }

    fn blocked(&self) -> bool {
        self.written < self.pending.len()
    }

    /// Writes what is pending; frees the buffer once it is all written.
    fn poll_pending<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        to: &mut W,
    ) -> Poll<io::Result<()>> {
        match poll_write_from(cx, to, &self.pending, &mut self.written) {
            Poll::Ready(Ok(())) => {
                self.pending = Vec::new();
                self.written = 0;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    /// A close 1001 with `reason` for the side this direction writes to, unless that would land
    /// inside a frame or the side reading has closed already.
    fn farewell(&self, reason: &str, masked: bool) -> Option<Vec<u8>> {
        (self.frames.at_boundary() && !self.frames.close_seen())
            .then(|| close_frame(GOING_AWAY, reason, masked))
    }

    /// Moves bytes from `from` to `to` until either would block; ready once `from` has ended
    /// (end of stream or an error) or `to` has failed.
    fn poll_run<R, W>(&mut self, cx: &mut Context<'_>, from: &mut R, to: &mut W) -> Poll<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        for _ in 0..READS_PER_POLL {
            match self.poll_pending(cx, to) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(err)) => return self.write_failed(err),
                Poll::Pending => return Poll::Pending,
            }
            // Left uninitialised: `ReadBuf` hands out only the part the read filled.
            let mut buffer = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut read = ReadBuf::uninit(&mut buffer);
            match Pin::new(&mut *from).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(err)) => {
                    log::debug!("websocket read failed: {err}");
                    return Poll::Ready(());
                }
                Poll::Ready(Ok(())) if read.filled().is_empty() => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {
                    let data = read.filled();
                    self.frames.feed(data);
                    let mut offset = 0;
                    match poll_write_from(cx, to, data, &mut offset) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(err)) => return self.write_failed(err),
                        Poll::Pending => {
                            // Kept until the writer takes it; nothing more is read meanwhile.
                            self.pending.extend_from_slice(&data[offset..]);
                            return Poll::Pending;
                        }
                    }
                }
            }
        }
        // Still busy: let the other connections of this worker run first.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn write_failed(&mut self, err: io::Error) -> Poll<()> {
        log::debug!("websocket write failed: {err}");
        self.write_failed = true;
        Poll::Ready(())
    }

    /// The reading side has ended: `farewell` (a close frame) goes after what is pending.
    fn start_closing(&mut self, farewell: Option<Vec<u8>>) {
        if let Some(frame) = farewell.filter(|_| !self.write_failed) {
            self.pending.extend_from_slice(&frame);
        }
        self.state = State::Closing;
    }

    /// Writes what is left, then ends the writer's stream.
    fn poll_close<W: AsyncWrite + Unpin>(&mut self, cx: &mut Context<'_>, to: &mut W) -> Poll<()> {
        if !self.write_failed {
            match self.poll_pending(cx, to) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(err)) => {
                    log::debug!("websocket write failed while closing: {err}");
                }
                Poll::Ready(Ok(())) => {
                    // Shutting a socket's write side down does not wait, on TCP or Unix sockets.
                    if let Poll::Ready(Err(err)) = Pin::new(&mut *to).poll_shutdown(cx) {
                        log::debug!("websocket shutdown failed: {err}");
                    }
                }
            }
        }
        self.state = State::Done;
        Poll::Ready(())
    }
}

/// Writes `data` from `offset` on, moving `offset` past what the writer takes, until all of it
/// is written or the writer would block.
fn poll_write_from<W: AsyncWrite + Unpin>(
    cx: &mut Context<'_>,
    to: &mut W,
    data: &[u8],
    offset: &mut usize,
) -> Poll<io::Result<()>> {
    while *offset < data.len() {
        match Pin::new(&mut *to).poll_write(cx, &data[*offset..]) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => *offset += n,
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => return Poll::Pending,
        }
    }
    Poll::Ready(Ok(()))
}

/// The relay of one proxied WebSocket: ready when both directions have ended, when one has
/// ended and the other has not within `CLOSE_TIMEOUT`, or when a side has taken nothing for
/// `STALL_TIMEOUT`.
pub struct Relay<C, U, G = SocketGuard> {
    client: C,
    upstream: U,
    /// Client to upstream.
    outbound: Pump,
    /// Upstream to client.
    inbound: Pump,
    /// Armed while a side has bytes waiting for it (rare: only a side that falls behind).
    stall: Option<Pin<Box<Sleep>>>,
    /// Armed once a direction has ended.
    closing: Option<Pin<Box<Sleep>>>,
    _guard: G,
}

impl<C, U, G> Relay<C, U, G>
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    /// `client_early` is what the client sent past its upgrade request (its first frames).
    pub fn new(client: C, client_early: &[u8], upstream: Upstream<U, G>) -> Self {
        Self {
            client,
            outbound: Pump::new(client_early),
            inbound: Pump::new(&upstream.early),
            upstream: upstream.io,
            stall: None,
            closing: None,
            _guard: upstream.guard,
        }
    }
}

impl<C, U, G> Future for Relay<C, U, G>
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
    G: Unpin,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.outbound.state == State::Open
            && this
                .outbound
                .poll_run(cx, &mut this.client, &mut this.upstream)
                .is_ready()
        {
            // The client has gone (or the upstream took no more): the upstream gets a close
            // 1001 unless the client closed already or the upstream has gone too.
            let farewell = (this.inbound.state == State::Open)
                .then(|| this.outbound.farewell("client went away", true))
                .flatten();
            this.outbound.start_closing(farewell);
        }
        if this.inbound.state == State::Open
            && this
                .inbound
                .poll_run(cx, &mut this.upstream, &mut this.client)
                .is_ready()
        {
            let farewell = this.inbound.farewell("upstream went away", false);
            this.inbound.start_closing(farewell);
        }
        if this.outbound.state == State::Closing {
            let _ = this.outbound.poll_close(cx, &mut this.upstream);
        }
        if this.inbound.state == State::Closing {
            let _ = this.inbound.poll_close(cx, &mut this.client);
        }
        if this.outbound.state == State::Done && this.inbound.state == State::Done {
            return Poll::Ready(());
        }
        // The closing handshake is over: one side has ended after both sent their close frames.
        // The other has nothing left to say, and the gateway, as the client's server, closes
        // the connection first (RFC 6455, 7.1.1) rather than wait for the client to.
        let handshake_done = this.outbound.frames.close_seen() && this.inbound.frames.close_seen();
        if handshake_done
            && (this.outbound.state == State::Done || this.inbound.state == State::Done)
        {
            return Poll::Ready(());
        }
        if this.outbound.state != State::Open || this.inbound.state != State::Open {
            let closing = this
                .closing
                .get_or_insert_with(|| Box::pin(sleep(CLOSE_TIMEOUT)));
            if closing.as_mut().poll(cx).is_ready() {
                log::debug!("a websocket side did not end within {CLOSE_TIMEOUT:?} of the other");
                return Poll::Ready(());
            }
        }
        if this.outbound.blocked() || this.inbound.blocked() {
            let stall = this
                .stall
                .get_or_insert_with(|| Box::pin(sleep(STALL_TIMEOUT)));
            if stall.as_mut().poll(cx).is_ready() {
                log::warn!("a websocket side took nothing for {STALL_TIMEOUT:?}; closing it");
                return Poll::Ready(());
            }
        } else {
            this.stall = None;
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    //! The relay's two time limits, on real socket pairs, with tokio's clock paused (it jumps to
    //! the next timer whenever every task is waiting), so 30 s take no time.

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixStream;
    use tokio::time::Instant;

    use super::*;

    /// A relay between two socket pairs; returns the client's and the upstream's far ends.
    fn relay() -> (Relay<UnixStream, UnixStream, ()>, UnixStream, UnixStream) {
        let (client, client_far) = UnixStream::pair().unwrap();
        let (upstream, upstream_far) = UnixStream::pair().unwrap();
        let upstream = Upstream {
            io: upstream,
            early: Bytes::new(),
            guard: (),
        };
        (Relay::new(client, &[], upstream), client_far, upstream_far)
    }

    /// How long the spawned relay takes to end from now (on the paused clock).
    async fn time_to_end(relay: actix_rt::task::JoinHandle<()>) -> Duration {
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(60), relay)
            .await
            .expect("the relay ends")
            .unwrap();
        started.elapsed()
    }

    #[actix_rt::test]
    async fn a_side_that_takes_nothing_for_30_s_loses_the_socket() {
        tokio::time::pause();
        let (relay, mut client, upstream) = relay();
        // The client writes until the kernel's buffers are full: the upstream reads nothing.
        actix_rt::spawn(async move {
            let frame = vec![0u8; 64 * 1024];
            while client.write_all(&frame).await.is_ok() {}
        });
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(60), relay)
            .await
            .expect("the relay gives the socket up");
        let waited = started.elapsed();
        assert!(
            waited >= STALL_TIMEOUT && waited < STALL_TIMEOUT + Duration::from_secs(5),
            "gave up after {waited:?}"
        );
        drop(upstream);
    }

    #[actix_rt::test]
    async fn after_the_closing_handshake_the_relay_ends_without_waiting_for_the_client() {
        tokio::time::pause();
        let (relay, mut client, mut upstream) = relay();
        let relay = actix_rt::spawn(relay);
        // The client closes; the upstream answers with its close and ends its stream.
        let masked_close = [0x88, 0x80, 1, 2, 3, 4];
        client.write_all(&masked_close).await.unwrap();
        let mut got = [0u8; 6];
        upstream.read_exact(&mut got).await.unwrap();
        assert_eq!(got, masked_close);
        upstream.write_all(&[0x88, 0x00]).await.unwrap();
        drop(upstream);
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, [0x88, 0x00]);
        // The client keeps its socket open: the relay ends anyway, at once.
        let waited = time_to_end(relay).await;
        assert!(waited < Duration::from_secs(1), "ended after {waited:?}");
    }

    #[actix_rt::test]
    async fn once_the_upstream_has_gone_the_client_has_5_s_to_go_too() {
        tokio::time::pause();
        let (relay, mut client, upstream) = relay();
        let relay = actix_rt::spawn(relay);
        // The upstream vanishes between frames without a close: the client gets a close 1001.
        drop(upstream);
        let mut close = Vec::new();
        client.read_to_end(&mut close).await.unwrap();
        assert_eq!(close, close_frame(GOING_AWAY, "upstream went away", false));
        // The client neither answers nor closes: the relay ends anyway, 5 s on.
        let waited = time_to_end(relay).await;
        assert!(
            waited >= CLOSE_TIMEOUT - Duration::from_secs(1)
                && waited < CLOSE_TIMEOUT + Duration::from_secs(1),
            "ended after {waited:?}"
        );
        // And with it the client's socket: its writes now fail.
        let mut failed = false;
        for _ in 0..100 {
            if client.write_all(&[0x88, 0x80, 0, 0, 0, 0]).await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "the client's socket is still open");
    }
}
