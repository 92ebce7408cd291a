//! Frames through the proxy, both ways, against an echo upstream registered as ECHO.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{Actor, StreamHandler};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use actix_web_actors::ws;
use awc::ws::{CloseCode, CloseReason, Frame, Message};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;

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
    let body = json!({"instance": {"instanceId": format!("echo:{port}"), "hostName": "127.0.0.1", "app": "ECHO",
        "status": "UP", "port": {"$": port, "@enabled": "true"}}});
    let response = awc::Client::new()
        .post(format!("http://{registry}/eureka/apps/ECHO"))
        .send_json(&body)
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    seen
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
    let routes = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        routes.path(),
        "[[routes]]\nid = \"echo\"\npath = \"/echo\"\nservice = \"ECHO\"\n",
    )
    .unwrap();
    let gateway = spawn_gateway(&registry, |s| s.routes = Some(routes.path().to_owned())).await;
    let url = format!("ws://{gateway}/echo");
    let mut socket = loop {
        match awc::Client::new()
            .ws(&url)
            .max_frame_size(16 << 20)
            .connect()
            .await
        {
            Ok((_, socket)) => break socket,
            Err(_) => actix_rt::time::sleep(Duration::from_millis(50)).await,
        }
    };

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
