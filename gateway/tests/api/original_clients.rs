//! The original system's clients through the gateway: its page's WebSocket at `/ws/audio`, and
//! its names (`AUDIO-SERVER`), with a clear 404 for a WebSocket path nobody serves.

use std::process::Command;
use std::time::Duration;

use awc::ws;
use futures_util::SinkExt;
use serde_json::{json, Value};

use crate::helpers::*;

fn data_url(chunk: &[u8]) -> String {
    use base64::Engine;
    format!(
        "data:audio/webm;codecs=opus;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(chunk)
    )
}

async fn send(socket: &mut Socket, frame: Value) {
    socket
        .send(ws::Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// Records the fixture exactly as the original's page does: `record-start`, then
/// `MediaRecorder.start(1000)`'s chunks as data URLs without `seq`, a heartbeat, and on stop
/// `record-end` sent before the recorder's last chunk. Answers the `completed` frame.
async fn record_as_the_original_page(url: &str) -> Value {
    let mut socket = connect(url).await;
    send(
        &mut socket,
        json!({"action": "record-start", "metaId": "", "metaData": {"userId": "original"}}),
    )
    .await;
    assert_eq!(recv_json(&mut socket).await["type"], "started");
    // A second a chunk: four of the fixture's 250 ms chunks each.
    let chunks: Vec<Vec<u8>> = fixture_chunks().chunks(4).map(|c| c.concat()).collect();
    let (last, before) = chunks.split_last().unwrap();
    for (seq, chunk) in before.iter().enumerate() {
        send(
            &mut socket,
            json!({"action": "record-idle", "metaId": "", "chunk": data_url(chunk)}),
        )
        .await;
        assert_eq!(recv_json(&mut socket).await["seq"], seq);
    }
    send(&mut socket, json!({"action": "heartbeat"})).await;
    assert_eq!(
        recv_json(&mut socket).await["message"],
        "Heartbeat acknowledged"
    );
    send(&mut socket, json!({"action": "record-end"})).await;
    send(
        &mut socket,
        json!({"action": "record-idle", "metaId": "", "chunk": data_url(last)}),
    )
    .await;
    let ack = recv_json(&mut socket).await;
    assert_eq!(
        (ack["type"].as_str(), ack["seq"].as_u64()),
        (Some("ack"), Some(3)),
        "{ack}"
    );
    let completed = recv_json(&mut socket).await;
    assert_eq!(completed["type"], "completed", "{completed}");
    completed
}

/// Decodes a WebM file with ffmpeg to 48 kHz mono samples; answers the seconds decoded.
fn decoded_seconds(file: &std::path::Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "s16le", "-ac", "1", "-ar", "48000", "-"])
        .output()
        .expect("ffmpeg must be installed (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.len() as f64 / 2.0 / 48_000.0
}

#[actix_rt::test]
async fn the_original_page_records_through_ws_audio_with_its_last_chunk() {
    let stack = Stack::start(1).await;
    let completed = record_as_the_original_page(&format!("ws://{}/ws/audio", stack.gateway)).await;
    assert_eq!(completed["chunks"], 4);
    assert_eq!(completed["bytes"], 64_827);
    let id = completed["recordingId"].as_str().unwrap();
    let meta = wait_ready(&stack.http(""), id).await;
    let (status, stored) = get_bytes(&stack.http(&format!(
        "/api/download/{}",
        meta["fileName"].as_str().unwrap()
    )))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        stored,
        remuxed_fixture(),
        "every chunk, the last one included"
    );
    let file = stack.data_dir.path().join("downloaded.webm");
    std::fs::write(&file, &stored).unwrap();
    let seconds = decoded_seconds(&file);
    // 3.96 s recorded; the decoder drops Opus's 6.5 ms pre-skip.
    assert!((seconds - 3.96).abs() <= 0.03, "decoded {seconds} s");
}

#[actix_rt::test]
async fn an_unknown_websocket_path_is_a_clear_404_and_not_the_instances_failure() {
    let stack = Stack::start(1).await;
    for _ in 0..5 {
        let (status, body) = refused_upgrade_at(&stack.gateway, "/ws/nowhere").await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"], "not-found", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("/ws/nowhere"),
            "{body}"
        );
    }
    let (_, health) = get_json(&stack.http("/health")).await;
    assert_eq!(health["ejectionsTotal"], 0, "{health}");
    // The instance still takes recordings.
    record_fixture(&stack.ws_url(), "after-404s").await;
}

#[actix_rt::test]
async fn our_audio_service_under_the_originals_name_behind_a_gateway_routing_to_it() {
    let _ = env_logger::builder().is_test(true).try_init();
    let data_dir = tempfile::tempdir().unwrap();
    let (registry, _registry) = spawn_registry().await;
    spawn_audio_with(&registry, data_dir.path(), |s| {
        s.registry.app_name = "audio-server".into();
    })
    .await;
    let gateway = spawn_gateway(&registry, |s| s.audio_service = "AUDIO-SERVER".into()).await;
    let mut known = 0;
    for _ in 0..200 {
        let (_, health) = get_json(&format!("http://{gateway}/health")).await;
        known = health["upstreams"]["AUDIO-SERVER"]
            .as_array()
            .map_or(0, |a| a.len());
        if known == 1 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(known, 1, "the gateway never saw AUDIO-SERVER");
    let (_, apps) = get_json(&format!("http://{registry}/eureka/apps/AUDIO-SERVER")).await;
    assert_eq!(apps["application"]["name"], "AUDIO-SERVER", "{apps}");
    let completed = record_as_the_original_page(&format!("ws://{gateway}/ws/audio")).await;
    let (status, files) = get_json(&format!("http://{gateway}/api/files")).await;
    assert_eq!(status, 200);
    assert!(
        files.as_array().unwrap().contains(&completed["fileName"]),
        "{files}"
    );
}
