//! The gateway's HTTP client to upstream instances.

use std::time::Duration;

use actix_rt::net::TcpStream;
use actix_service::ServiceExt;
use actix_tls::connect::{Connection, Connector, Resolver};
use awc::http::Uri;

/// One per worker (awc clients are not shared across threads). No pooling limit; upstream
/// sockets have Nagle's algorithm off, since a relayed ack or pong is a small write that would
/// otherwise wait behind the peer's delayed ACK (tens of ms).
pub fn upstream_client(connect_timeout: Duration, request_timeout: Duration) -> awc::Client {
    let tcp = Connector::new(Resolver::default()).service().map(
        |connection: Connection<Uri, TcpStream>| {
            let _ = connection.io_ref().set_nodelay(true);
            connection
        },
    );
    awc::Client::builder()
        .connector(
            awc::Connector::new()
                .connector(tcp)
                .timeout(connect_timeout)
                .limit(0),
        )
        .timeout(request_timeout)
        .disable_redirects()
        .finish()
}
