//! The gateway's HTTP client to upstream instances, over TCP or, for an instance on this host
//! that advertises one, its Unix socket (`LocalSockets`).

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_rt::net::{ActixStream, Ready, TcpStream, UnixStream};
use actix_service::{fn_service, Service};
use actix_tls::connect::{ConnectError, ConnectInfo, Connection, Connector, Resolver};
use awc::http::Uri;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The Unix sockets of instances on this host, by their `host:port`; kept by the `Balancer`
/// from what discovery finds, read by every worker's connector.
#[derive(Clone, Default)]
pub struct LocalSockets(Arc<RwLock<HashMap<(String, u16), PathBuf>>>);

impl LocalSockets {
    /// Replaces the whole table.
    pub fn replace(&self, sockets: HashMap<(String, u16), PathBuf>) {
        if let Ok(mut table) = self.0.write() {
            *table = sockets;
        }
    }

    fn get(&self, host: &str, port: u16) -> Option<PathBuf> {
        let table = self.0.read().ok()?;
        table.get(&(host.to_owned(), port)).cloned()
    }
}

/// One per worker (awc clients are not shared across threads). No pooling limit; upstream
/// sockets have Nagle's algorithm off, since a relayed ack or pong is a small write that would
/// otherwise wait behind the peer's delayed ACK (tens of ms).
pub fn upstream_client(
    connect_timeout: Duration,
    request_timeout: Duration,
    local: LocalSockets,
) -> awc::Client {
    let tcp = Rc::new(Connector::new(Resolver::default()).service());
    let connect = fn_service(move |request: ConnectInfo<Uri>| {
        let tcp = Rc::clone(&tcp);
        let socket = local.get(request.hostname(), request.port());
        async move {
            if let Some(path) = socket {
                match UnixStream::connect(&path).await {
                    Ok(io) => {
                        return Ok(Connection::new(
                            request.request().clone(),
                            UpstreamStream::Unix(io),
                        ))
                    }
                    // Gone or not ours to open (another user's socket, say): TCP still works.
                    Err(err) => log::debug!(
                        "unix socket {} not usable ({err}); connecting over TCP",
                        path.display()
                    ),
                }
            }
            let (io, uri) = tcp.call(request).await?.into_parts();
            let _ = io.set_nodelay(true);
            Ok::<_, ConnectError>(Connection::new(uri, UpstreamStream::Tcp(io)))
        }
    });
    awc::Client::builder()
        .connector(
            awc::Connector::new()
                .connector(connect)
                .timeout(connect_timeout)
                .limit(0),
        )
        .timeout(request_timeout)
        .disable_redirects()
        .finish()
}

/// A connection to an upstream instance, over either transport.
#[derive(Debug)]
pub enum UpstreamStream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl AsyncRead for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Tcp(io) => Pin::new(io).poll_read(cx, buf),
            UpstreamStream::Unix(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Tcp(io) => Pin::new(io).poll_write(cx, buf),
            UpstreamStream::Unix(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Tcp(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            UpstreamStream::Unix(io) => Pin::new(io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            UpstreamStream::Tcp(io) => io.is_write_vectored(),
            UpstreamStream::Unix(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Tcp(io) => Pin::new(io).poll_flush(cx),
            UpstreamStream::Unix(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Tcp(io) => Pin::new(io).poll_shutdown(cx),
            UpstreamStream::Unix(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}

impl ActixStream for UpstreamStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        match self {
            UpstreamStream::Tcp(io) => ActixStream::poll_read_ready(io, cx),
            UpstreamStream::Unix(io) => ActixStream::poll_read_ready(io, cx),
        }
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        match self {
            UpstreamStream::Tcp(io) => ActixStream::poll_write_ready(io, cx),
            UpstreamStream::Unix(io) => ActixStream::poll_write_ready(io, cx),
        }
    }
}
