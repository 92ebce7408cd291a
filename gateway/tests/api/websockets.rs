//! Frames through the proxy, both ways, against an echo upstream registered as ECHO.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{Actor, StreamHandler};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use actix_web_actors::ws;
use awc::ws::{CloseCode, CloseReason, Frame, Message};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::helpers::*;

type Seen = Arc<Mutex<Option<CloseReason>>>;

/// Echoes text and binary, answers pings, closes with `close:<code>:<reason>`, and records the
/// close it receives.
struct Echo(Seen);

impl Actor for Echo {
    type Context = ws::WebsocketContext<Self>;
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Echo {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        match msg {
            Ok(ws::Message::Text(text)) => match text.strip_prefix("close:") {
                Some(rest) => {
                    let (code, reason) = rest.split_once(':').unwrap();
                    ctx.close(Some(CloseReason {
                        code: CloseCode::from(code.parse::<u16>().unwrap()),
                        description: Some(reason.into()),
                    }));
                }
                None => ctx.text(text),
            },
            Ok(ws::Message::Binary(bytes)) => ctx.binary(bytes),
            Ok(ws::Message::Ping(p)) => ctx.pong(&p),
            Ok(ws::Message::Close(reason)) => {
                *self.0.lock().unwrap() = reason.clone();
                ctx.close(reason);
            }
            _ => {}
        }
    }
}

async fn start_echo(registry: &str) -> Seen {
    let seen: Seen = Arc::default();
    let shared = seen.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let shared = shared.clone();
        App::new()
            .route(
                "/echo",
                web::get().to(move |req: HttpRequest, stream: web::Payload| {
                    let shared = shared.clone();
                    async move {
                        ws::WsResponseBuilder::new(Echo(shared), &req, stream)
                            .frame_size(16 << 20)
                            .start()
                    }
                }),
            )
            .default_service(web::to(HttpResponse::NotFound))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_rt::spawn(server);
    register(registry, "ECHO", port).await;
    seen
}

async fn register(registry: &str, app: &str, port: u16) {
    let body = json!({"instance": {"instanceId": format!("{app}:{port}"), "hostName": "127.0.0.1",
        "app": app, "status": "UP", "port": {"$": port, "@enabled": "true"}}});
    let response = awc::Client::new()
        .post(format!("http://{registry}/eureka/apps/{app}"))
        .send_json(&body)
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
}

/// A gateway whose one route sends `path` to `service`; the routes file lives as long as it.
async fn gateway_routing(
    registry: &str,
    path: &str,
    service: &str,
) -> (String, tempfile::NamedTempFile) {
    let routes = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        routes.path(),
        format!("[[routes]]\nid = \"test\"\npath = \"{path}\"\nservice = \"{service}\"\n"),
    )
    .unwrap();
    let gateway = spawn_gateway(registry, |s| s.routes = Some(routes.path().to_owned())).await;
    (gateway, routes)
}

/// Connects through the gateway once it has discovered the upstream.
async fn connect_when_routed(url: &str) -> Socket {
    for _ in 0..200 {
        if let Ok((_, socket)) = awc::Client::new()
            .ws(url)
            .max_frame_size(16 << 20)
            .connect()
            .await
        {
            return socket;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never upgraded");
}

async fn next_frame(socket: &mut Socket) -> Frame {
    actix_rt::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

#[actix_rt::test]
async fn frames_and_close_codes_cross_the_proxy_unchanged_both_ways() {
    let _ = env_logger::builder().is_test(true).try_init();
    let (registry, _handle) = spawn_registry().await;
    let seen = start_echo(&registry).await;
    let (gateway, _routes) = gateway_routing(&registry, "/echo", "ECHO").await;
    let url = format!("ws://{gateway}/echo");
    let mut socket = connect_when_routed(&url).await;

    // Binary of every byte value, large enough to span many TCP segments.
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 256) as u8).collect();
    socket
        .send(Message::Binary(payload.clone().into()))
        .await
        .unwrap();
    assert_eq!(next_frame(&mut socket).await, Frame::Binary(payload.into()));
    socket.send(Message::Text("héllo ✓".into())).await.unwrap();
    assert_eq!(next_frame(&mut socket).await, Frame::Text("héllo ✓".into()));
    socket
        .send(Message::Ping("are you there".into()))
        .await
        .unwrap();
    assert_eq!(
        next_frame(&mut socket).await,
        Frame::Pong("are you there".into())
    );

    // The upstream closes with its own code and reason: the client sees exactly those.
    socket
        .send(Message::Text("close:4001:bye from upstream".into()))
        .await
        .unwrap();
    match next_frame(&mut socket).await {
        Frame::Close(Some(reason)) => {
            assert_eq!(u16::from(reason.code), 4001);
            assert_eq!(reason.description.as_deref(), Some("bye from upstream"));
        }
        other => panic!("expected a close, got {other:?}"),
    }

    // The client closes with its own code and reason: the upstream sees exactly those.
    let (_, mut socket) = awc::Client::new().ws(&url).connect().await.unwrap();
    socket
        .send(Message::Close(Some(CloseReason {
            code: CloseCode::from(4002),
            description: Some("bye from client".into()),
        })))
        .await
        .unwrap();
    match next_frame(&mut socket).await {
        Frame::Close(Some(reason)) => assert_eq!(u16::from(reason.code), 4002),
        other => panic!("expected the close back, got {other:?}"),
    }
    let received = seen.lock().unwrap().clone().expect("upstream saw a close");
    assert_eq!(u16::from(received.code), 4002);
    assert_eq!(received.description.as_deref(), Some("bye from client"));
}

/// Reads an HTTP head byte by byte (so nothing past it is consumed).
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "head cut short");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// A WebSocket server in bare tokio, registered as `app`: it answers the upgrade, then `serve`
/// has the socket, so a test controls exactly what is read, written and when it vanishes.
async fn start_raw_upstream<F, Fut>(registry: &str, app: &str, serve: F)
where
    F: Fn(TcpStream) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    actix_rt::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let head = read_head(&mut stream).await;
            let key = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("sec-websocket-key")
                        .then(|| value.trim().to_owned())
                })
                .expect("a websocket key");
            let accept = actix_http::ws::hash_key(key.as_bytes());
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                std::str::from_utf8(&accept).unwrap()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            actix_rt::spawn(serve(stream));
        }
    });
    register(registry, app, port).await;
}

/// A client in bare tokio through the gateway: upgraded, then nothing read unless the test does.
async fn raw_client(gateway: &str, path: &str) -> TcpStream {
    for _ in 0..200 {
        let mut stream = TcpStream::connect(gateway).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {gateway}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let head = read_head(&mut stream).await;
        if head.starts_with("HTTP/1.1 101") {
            return stream;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway never upgraded {path}");
}

/// A binary frame with `len` bytes of payload, masked (as a client must) or not.
fn binary_frame(len: usize, masked: bool) -> Vec<u8> {
    let mut frame = vec![0x82, if masked { 0x80 | 126 } else { 126 }];
    frame.extend_from_slice(&(len as u16).to_be_bytes());
    if masked {
        frame.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    }
    frame.resize(frame.len() + len, 0xab);
    frame
}

/// Waits until `written` has not moved for a second (the writer is blocked) and returns it.
async fn until_stalled(written: &AtomicU64) -> u64 {
    let mut last = u64::MAX;
    let mut still = 0;
    for _ in 0..120 {
        actix_rt::time::sleep(Duration::from_millis(250)).await;
        let now = written.load(Ordering::SeqCst);
        still = if now == last { still + 1 } else { 0 };
        last = now;
        if still == 4 {
            return now;
        }
    }
    panic!("the writer never stalled: {last} bytes went through a reader that reads nothing");
}

/// Bytes that may sit in kernel buffers and the gateway between a writer and a reader that has
/// stopped (two loopback connections, each with send and receive buffers of a few MiB).
const IN_FLIGHT_BOUND: u64 = 64 << 20;

#[actix_rt::test]
async fn a_client_that_reads_nothing_holds_the_upstream_back() {
    let (registry, _handle) = spawn_registry().await;
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    start_raw_upstream(&registry, "FLOOD", move |mut stream| {
        let counter = counter.clone();
        async move {
            let frame = binary_frame(60_000, false);
            // Up to 1 GiB, unless the gateway stops taking it.
            for _ in 0..(1 << 30) / frame.len() {
                if stream.write_all(&frame).await.is_err() {
                    return;
                }
                counter.fetch_add(frame.len() as u64, Ordering::SeqCst);
            }
        }
    })
    .await;
    let (gateway, _routes) = gateway_routing(&registry, "/flood", "FLOOD").await;
    let mut client = raw_client(&gateway, "/flood").await;

    let stalled_at = until_stalled(&written).await;
    assert!(
        stalled_at < IN_FLIGHT_BOUND,
        "{stalled_at} bytes left the upstream for a client that read none"
    );
    // It was held back, not broken: reading lets the upstream go on.
    let mut buffer = vec![0u8; 1 << 20];
    let mut read = 0u64;
    while read < stalled_at + (32 << 20) {
        let n = actix_rt::time::timeout(Duration::from_secs(10), client.read(&mut buffer))
            .await
            .expect("the stream resumes")
            .unwrap();
        assert!(n > 0, "the stream ended");
        read += n as u64;
    }
    assert!(written.load(Ordering::SeqCst) > stalled_at + (16 << 20));
}

#[actix_rt::test]
async fn an_upstream_that_reads_nothing_holds_the_client_back() {
    let (registry, _handle) = spawn_registry().await;
    let drain = Arc::new(Notify::new());
    let drained = Arc::new(AtomicU64::new(0));
    let (signal, count) = (drain.clone(), drained.clone());
    start_raw_upstream(&registry, "DEAF", move |mut stream| {
        let (signal, count) = (signal.clone(), count.clone());
        async move {
            signal.notified().await;
            let mut buffer = vec![0u8; 1 << 20];
            while let Ok(n) = stream.read(&mut buffer).await {
                if n == 0 {
                    return;
                }
                count.fetch_add(n as u64, Ordering::SeqCst);
            }
        }
    })
    .await;
    let (gateway, _routes) = gateway_routing(&registry, "/deaf", "DEAF").await;
    let client = raw_client(&gateway, "/deaf").await;
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    actix_rt::spawn(async move {
        let mut client = client;
        let frame = binary_frame(60_000, true);
        for _ in 0..(1 << 30) / frame.len() {
            if client.write_all(&frame).await.is_err() {
                return;
            }
            counter.fetch_add(frame.len() as u64, Ordering::SeqCst);
        }
    });

    let stalled_at = until_stalled(&written).await;
    assert!(
        stalled_at < IN_FLIGHT_BOUND,
        "the gateway took {stalled_at} bytes for an upstream that read none"
    );
    drain.notify_one();
    for _ in 0..200 {
        if written.load(Ordering::SeqCst) > stalled_at + (32 << 20) {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        written.load(Ordering::SeqCst) > stalled_at + (32 << 20),
        "the client was not let go on once the upstream read"
    );
    assert!(drained.load(Ordering::SeqCst) >= stalled_at);
}

#[actix_rt::test]
async fn an_upstream_that_vanishes_closes_the_client_with_1001() {
    let (registry, _handle) = spawn_registry().await;
    start_raw_upstream(&registry, "FLAKY", |mut stream| async move {
        // One text frame "hi", then the socket is dropped without a close frame.
        stream.write_all(&[0x81, 2, b'h', b'i']).await.unwrap();
    })
    .await;
    let (gateway, _routes) = gateway_routing(&registry, "/flaky", "FLAKY").await;
    let mut socket = connect_when_routed(&format!("ws://{gateway}/flaky")).await;
    assert_eq!(next_frame(&mut socket).await, Frame::Text("hi".into()));
    match next_frame(&mut socket).await {
        Frame::Close(Some(reason)) => {
            assert_eq!(reason.code, CloseCode::Away);
            assert_eq!(reason.description.as_deref(), Some("upstream went away"));
        }
        other => panic!("expected a close, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_client_that_vanishes_closes_the_upstream_with_1001() {
    let (registry, _handle) = spawn_registry().await;
    let seen = start_echo(&registry).await;
    let (gateway, _routes) = gateway_routing(&registry, "/echo", "ECHO").await;
    let mut socket = connect_when_routed(&format!("ws://{gateway}/echo")).await;
    socket.send(Message::Text("ping".into())).await.unwrap();
    assert_eq!(next_frame(&mut socket).await, Frame::Text("ping".into()));
    drop(socket);
    for _ in 0..100 {
        if seen.lock().unwrap().is_some() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    let received = seen.lock().unwrap().clone().expect("upstream saw a close");
    assert_eq!(received.code, CloseCode::Away);
    assert_eq!(received.description.as_deref(), Some("client went away"));
}

#[actix_rt::test]
async fn a_bad_upgrade_is_refused_before_any_instance_is_used() {
    let (registry, _handle) = spawn_registry().await;
    let _seen = start_echo(&registry).await;
    let (gateway, _routes) = gateway_routing(&registry, "/echo", "ECHO").await;
    // No Sec-WebSocket-Key: the client's mistake, a 400 from the gateway itself.
    let mut stream = TcpStream::connect(&gateway).await.unwrap();
    let request = format!(
        "GET /echo HTTP/1.1\r\nHost: {gateway}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    // The answer is whole, and the connection ends with it.
    let mut body = Vec::new();
    actix_rt::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut body))
        .await
        .expect("the gateway closes a refused upgrade's connection")
        .unwrap();
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"], "bad-upgrade");
}

#[actix_rt::test]
async fn frames_sent_along_with_the_upgrade_request_reach_the_upstream() {
    let (registry, _handle) = spawn_registry().await;
    let _seen = start_echo(&registry).await;
    let (gateway, _routes) = gateway_routing(&registry, "/echo", "ECHO").await;
    // The request and a text frame in one write: the gateway reads both at once, and the frame
    // must still reach the instance after its upgrade (a zero mask keeps the payload as it is).
    let mut sent = format!(
        "GET /echo HTTP/1.1\r\nHost: {gateway}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .into_bytes();
    sent.extend_from_slice(&[0x81, 0x85, 0, 0, 0, 0]);
    sent.extend_from_slice(b"early");
    for _ in 0..200 {
        let mut stream = TcpStream::connect(&gateway).await.unwrap();
        stream.write_all(&sent).await.unwrap();
        if !read_head(&mut stream).await.starts_with("HTTP/1.1 101") {
            actix_rt::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let mut echoed = [0u8; 7];
        actix_rt::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed))
            .await
            .expect("the echo of the early frame")
            .unwrap();
        assert_eq!(&echoed, b"\x81\x05early");
        return;
    }
    panic!("the gateway never upgraded /echo");
}
