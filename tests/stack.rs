//! The root command as a user runs it: the `audio-stack` binary as a real process, its pages
//! through the gateway, and a recording through the gateway's WebSocket.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use awc::ws;
use futures_util::SinkExt;

mod common;
use common::{free_port, next_json};

#[actix_rt::test]
async fn the_root_command_serves_both_pages_and_records_through_the_gateway() {
    let data = tempfile::tempdir().unwrap();
    let (gateway_port, registry_port) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_audio-stack"))
        .args([
            "--gateway-port",
            &gateway_port.to_string(),
            "--registry-port",
            &registry_port.to_string(),
            "--audio-instances",
            "2",
        ])
        .arg("--data-dir")
        .arg(data.path())
        .env("RUST_LOG", "warn")
        .env_remove("KAFKA_BROKERS")
        .stdout(Stdio::piped())
        .spawn()
        .expect("audio-stack starts");
    // It prints the two page URLs first.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    while !printed.contains("recordings") {
        printed.push_str(&lines.next().unwrap().unwrap());
        printed.push('\n');
    }
    let site = format!("http://127.0.0.1:{gateway_port}");
    assert!(
        printed.contains(&format!("{site}/websocket-test.html")),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("{site}/file-list.html")),
        "{printed}"
    );

    let client = awc::Client::new();
    for page in ["/websocket-test.html", "/file-list.html"] {
        let mut response = client.get(format!("{site}{page}")).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{page}");
        let html = response.body().await.unwrap();
        assert!(String::from_utf8_lossy(&html).contains("<main>"), "{page}");
    }

    // The audio instances register; then a recording goes through the gateway.
    let mut socket = None;
    for _ in 0..100 {
        if let Ok((_, s)) = client
            .ws(format!("ws://127.0.0.1:{gateway_port}/ws/record"))
            .connect()
            .await
        {
            socket = Some(s);
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    let mut socket = socket.expect("the gateway routes WebSockets to an audio instance");
    socket
        .send(ws::Message::Text(
            r#"{"action":"record-start","metaId":"stack"}"#.into(),
        ))
        .await
        .unwrap();
    let started = next_json(&mut socket).await;
    assert_eq!(started["type"], "started");
    let chunk = vec![7u8; 5000];
    for seq in 0..4u64 {
        socket
            .send(ws::Message::Binary(chunk.clone().into()))
            .await
            .unwrap();
        assert_eq!(next_json(&mut socket).await["seq"], seq);
    }
    socket
        .send(ws::Message::Text(r#"{"action":"record-end"}"#.into()))
        .await
        .unwrap();
    let completed = next_json(&mut socket).await;
    assert_eq!(completed["bytes"], 20_000);
    let name = completed["fileName"].as_str().unwrap();
    let mut download = client
        .get(format!("{site}/api/download/{name}"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.body().await.unwrap().len(), 20_000);

    interrupt(child.id());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "Ctrl-C should stop the stack cleanly: {status:?}"
    );
}

/// Sends SIGINT (Ctrl-C) with the `kill` command.
fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
