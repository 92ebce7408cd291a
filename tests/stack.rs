//! The root command as a user runs it: the `audio-stack` binary as a real process, its pages
//! through the gateway, and a recording through the gateway's WebSocket.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use awc::ws;
use futures_util::{SinkExt, StreamExt};

mod common;
use common::{free_port, next_json};

#[actix_rt::test]
async fn the_root_command_serves_both_pages_and_records_through_the_gateway() {
    let data = tempfile::tempdir().unwrap();
    let (gateway_port, registry_port) = (free_port(), free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_audio-stack"));
    common::on_test_storage(&mut command, data.path());
    let mut child = command
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
    // A failed assertion must not leave the stack running (it would hold the test's output open).
    let mut guard = KillOnDrop(Some(child.id()));
    // It prints the two page URLs first.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    while !printed.contains("  data ") {
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
    assert!(
        printed.contains(&format!("{site}/swagger-ui/")),
        "{printed}"
    );

    let client = awc::Client::new();
    // One process, one open-files limit: the two instances share it, at five descriptors a
    // session (three of the instance's, two of the gateway's).
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    let share = (hard.saturating_sub(256) / 10).min(10_000);
    let instances: Vec<&str> = printed
        .lines()
        .filter_map(|line| line.trim().strip_prefix("audio instance"))
        .map(str::trim)
        .collect();
    assert_eq!(instances.len(), 2, "{printed}");
    for health in instances {
        let metrics = health.replace("/health", "/metrics");
        let mut response = client.get(&metrics).send().await.unwrap();
        let text = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
        assert!(
            text.contains(&format!("audio_sessions_max {share}\n")),
            "{metrics}: {text}"
        );
    }
    for page in ["/websocket-test.html", "/file-list.html"] {
        let mut response = client.get(format!("{site}{page}")).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{page}");
        let html = response.body().await.unwrap();
        assert!(String::from_utf8_lossy(&html).contains("<main>"), "{page}");
    }
    let mut response = client
        .get(format!("{site}/swagger-ui/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let html = response.body().await.unwrap();
    assert!(String::from_utf8_lossy(&html).contains("swagger-ui"));

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
    // The recording page is done with its socket (an open one would hold the stop below, as
    // any request in flight does, until the servers' shutdown timeout).
    socket.send(ws::Message::Close(None)).await.unwrap();
    while let Some(Ok(frame)) = socket.next().await {
        if matches!(frame, ws::Frame::Close(_)) {
            break;
        }
    }
    let name = completed["fileName"].as_str().unwrap();
    let mut download = client
        .get(format!("{site}/api/download/{name}"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.body().await.unwrap().len(), 20_000);

    // All on one host: the gateway reaches both instances (once it knows both) over their Unix
    // sockets.
    let mut sockets: Vec<std::path::PathBuf> = Vec::new();
    for _ in 0..100 {
        let mut response = client.get(format!("{site}/health")).send().await.unwrap();
        let health: serde_json::Value = response.json().await.unwrap();
        let instances = health["upstreams"]["AUDIO-SERVICE"].as_array().unwrap();
        if instances.len() == 2 {
            sockets = instances
                .iter()
                .map(|i| i["unixSocket"].as_str().expect("a unix socket").into())
                .collect();
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sockets.len(), 2, "the gateway never saw both instances");
    assert!(sockets.iter().all(|s| s.exists()), "{sockets:?}");

    // The list page is open: its live event stream, through the gateway.
    let mut events = client
        .get(format!("{site}/api/events"))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status().as_u16(), 200);
    let first = events.next().await.unwrap().unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("connected"),
        "{first:?}"
    );

    let asked = std::time::Instant::now();
    interrupt(child.id());
    // The stream ends (the browser would reconnect elsewhere) instead of holding the stop.
    let ended = actix_rt::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(_)) = events.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the event stream was not ended by the stop");
    let status = child.wait().unwrap();
    guard.0 = None;
    let stopped_in = asked.elapsed();
    eprintln!("stopped in {stopped_in:?} with an event stream open");
    assert!(
        status.success(),
        "Ctrl-C should stop the stack cleanly: {status:?}"
    );
    // Each server would wait 5 s for a stream that holds its stop; 10 s before this change.
    assert!(
        stopped_in < Duration::from_secs(4),
        "the stop waited {stopped_in:?}: an open connection held it"
    );
    // A clean stop leaves no socket file behind.
    assert!(sockets.iter().all(|s| !s.exists()), "{sockets:?}");
}

/// Sends SIGINT (Ctrl-C) with the `kill` command.
fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Kills the process on drop (a panicking test), unless it was waited for.
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}
