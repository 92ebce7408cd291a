//! Helpers shared by the root package's integration tests (each test file includes the ones it
//! uses).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use awc::ws;
use futures_util::{SinkExt, StreamExt};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The workspace's binaries sit beside this package's own.
pub fn binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_healthcheck")).with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo test --workspace does)",
        path.display()
    );
    path
}

/// The next text frame as JSON, answering pings; fails after 10 s or on anything else.
pub async fn next_json(
    socket: &mut actix_codec::Framed<awc::BoxedSocket, ws::Codec>,
) -> serde_json::Value {
    loop {
        match actix_rt::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            ws::Frame::Text(text) => return serde_json::from_slice(&text).unwrap(),
            ws::Frame::Ping(p) => socket.send(ws::Message::Pong(p)).await.unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }
}
