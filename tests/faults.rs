//! Faults injected into real processes on loopback, each bounded in time: an audio instance
//! killed mid-recording, the registry killed and restarted, the disk full. (Kafka faults are in
//! audio/tests/kafka.rs, abusive clients in tests/abuse.rs.) What a client was told was stored
//! must still be there.

use std::process::Command;
use std::time::{Duration, Instant};

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

mod common;
use common::{audio, audio_alone, connect, free_port, gateway, get_json, registry, until, Socket};

async fn instances(registry_port: u16, app: &str) -> usize {
    get_json(&format!(
        "http://127.0.0.1:{registry_port}/eureka/apps/{app}"
    ))
    .await
    .and_then(|v| v["application"]["instance"].as_array().map(|a| a.len()))
    .unwrap_or(0)
}

/// The next JSON frame; `None` when the socket is gone.
async fn next(socket: &mut Socket) -> Option<Value> {
    loop {
        match actix_rt::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .ok()??
        {
            Ok(ws::Frame::Text(text)) => {
                let value: Value = serde_json::from_slice(&text).ok()?;
                // A shared store's `durable` frames come between the acks.
                if value["type"] != "durable" {
                    return Some(value);
                }
            }
            Ok(ws::Frame::Ping(p)) => socket.send(ws::Message::Pong(p)).await.ok()?,
            Ok(ws::Frame::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

fn chunk(i: usize) -> Vec<u8> {
    (0..4000)
        .map(|j| ((i * 7919 + j * 31) % 256) as u8)
        .collect()
}

#[actix_rt::test]
async fn an_audio_instance_killed_mid_recording_is_resumed_on_the_other_through_the_gateway() {
    let data = tempfile::tempdir().unwrap();
    let (registry_port, gateway_port) = (free_port(), free_port());
    let audio_ports = [free_port(), free_port()];
    let _registry = registry(registry_port);
    let mut instances_running = [
        Some(audio(audio_ports[0], data.path(), registry_port)),
        Some(audio(audio_ports[1], data.path(), registry_port)),
    ];
    let _gateway = gateway(gateway_port, registry_port);
    common::until_routed(gateway_port, 2).await;

    let url = format!("ws://127.0.0.1:{gateway_port}/ws/record");
    let mut socket = connect(&url).await;
    socket
        .send(ws::Message::Text(
            json!({"action": "record-start", "metaId": "killed"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let started = next(&mut socket).await.unwrap();
    let (id, token) = (
        started["recordingId"].as_str().unwrap().to_owned(),
        started["resumeToken"].as_str().unwrap().to_owned(),
    );
    for i in 0..8 {
        socket
            .send(ws::Message::Binary(chunk(i).into()))
            .await
            .unwrap();
        assert_eq!(next(&mut socket).await.unwrap()["seq"], i);
    }

    // While its socket lives, nobody takes the recording over, whichever instance they reach.
    for _ in 0..2 {
        let mut thief = connect(&url).await;
        thief
            .send(ws::Message::Text(
                json!({"action": "record-resume", "recordingId": id, "resumeToken": token})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
        assert_eq!(next(&mut thief).await.unwrap()["code"], "recording-busy");
    }

    // kill -9 the instance that holds it.
    common::kill_the_holder(&audio_ports, &mut instances_running).await;

    // The client's socket dies; it reconnects through the gateway (which retries the other
    // instance) and resumes from the shared storage.
    assert!(next(&mut socket).await.is_none_or(|v| v["type"] != "ack"));
    let mut socket = connect(&url).await;
    socket
        .send(ws::Message::Text(
            json!({"action": "record-resume", "recordingId": id, "resumeToken": token})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let resumed = next(&mut socket).await.unwrap();
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(resumed["nextSeq"], 8);
    assert_eq!(resumed["bytes"], 8 * 4000);
    for i in 8..20 {
        socket
            .send(ws::Message::Binary(chunk(i).into()))
            .await
            .unwrap();
        assert_eq!(next(&mut socket).await.unwrap()["seq"], i);
    }
    socket
        .send(ws::Message::Text(r#"{"action":"record-end"}"#.into()))
        .await
        .unwrap();
    let completed = next(&mut socket).await.unwrap();
    assert_eq!(completed["bytes"], 20 * 4000);
    // Read back through the gateway from wherever it is stored (the shared folder, or S3).
    let mut download = awc::Client::new()
        .get(format!(
            "http://127.0.0.1:{gateway_port}/api/download/{}",
            completed["fileName"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status().as_u16(), 200);
    let stored = download.body().limit(1 << 20).await.unwrap();
    let sent: Vec<u8> = (0..20).flat_map(chunk).collect();
    assert!(stored == sent, "the final file is exactly what was sent");
}

#[actix_rt::test]
async fn with_the_registry_killed_traffic_goes_on_and_every_service_is_back_within_a_renewal() {
    let data = tempfile::tempdir().unwrap();
    let (registry_port, gateway_port, audio_port) = (free_port(), free_port(), free_port());
    let mut registry_proc = registry(registry_port);
    let _audio = audio(audio_port, data.path(), registry_port);
    let _gateway = gateway(gateway_port, registry_port);
    until(Duration::from_secs(20), "both registered", || async {
        instances(registry_port, "AUDIO-SERVICE").await == 1
            && instances(registry_port, "GATEWAY").await == 1
    })
    .await;
    until(Duration::from_secs(20), "gateway routes", || async {
        get_json(&format!("http://127.0.0.1:{gateway_port}/api/files"))
            .await
            .is_some()
    })
    .await;

    registry_proc.0.kill().unwrap();
    registry_proc.0.wait().unwrap();

    // Traffic continues on the gateway's last copy of the registry.
    for round in 0..3 {
        let mut socket = connect(&format!("ws://127.0.0.1:{gateway_port}/ws/record")).await;
        socket
            .send(ws::Message::Text(
                json!({"action": "record-start", "metaId": format!("no-registry-{round}")})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
        assert_eq!(next(&mut socket).await.unwrap()["type"], "started");
        socket
            .send(ws::Message::Binary(chunk(round).into()))
            .await
            .unwrap();
        assert_eq!(next(&mut socket).await.unwrap()["type"], "ack");
        socket
            .send(ws::Message::Text(r#"{"action":"record-end"}"#.into()))
            .await
            .unwrap();
        assert_eq!(next(&mut socket).await.unwrap()["type"], "completed");
        actix_rt::time::sleep(Duration::from_millis(300)).await;
    }

    // A new, empty registry on the same port: every service is back within one renewal
    // interval (1 s here) plus the back-off they were in.
    let restarted_at = Instant::now();
    let _registry = registry(registry_port);
    until(Duration::from_secs(5), "services re-registered", || async {
        instances(registry_port, "AUDIO-SERVICE").await == 1
            && instances(registry_port, "GATEWAY").await == 1
    })
    .await;
    eprintln!(
        "re-registered {:?} after the registry restarted",
        restarted_at.elapsed()
    );
}

/// A 1 MiB filesystem of the test's own (tmpfs; the tests run as root here).
struct TinyDisk(tempfile::TempDir);

impl TinyDisk {
    fn mount() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mounting a 1 MiB tmpfs failed: the disk-full test needs root"
        );
        Self(dir)
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[actix_rt::test]
async fn a_full_disk_is_a_clear_error_the_service_stays_up_and_nothing_is_corrupt() {
    let disk = TinyDisk::mount();
    let data = disk.0.path().join("data");
    let port = free_port();
    let _audio = audio_alone(port, &data).await;

    let mut socket = connect(&format!("ws://127.0.0.1:{port}/ws/record")).await;
    socket
        .send(ws::Message::Text(
            r#"{"action":"record-start","metaId":"full"}"#.into(),
        ))
        .await
        .unwrap();
    let started = next(&mut socket).await.unwrap();
    let id = started["recordingId"].as_str().unwrap().to_owned();
    let mut acked = 0u64;
    let mut refused = None;
    for i in 0..400 {
        socket
            .send(ws::Message::Binary(vec![(i % 251) as u8; 8000].into()))
            .await
            .unwrap();
        let reply = next(&mut socket).await.expect("the socket stays open");
        match reply["type"].as_str() {
            Some("ack") => acked = reply["bytes"].as_u64().unwrap(),
            _ => {
                refused = Some(reply);
                break;
            }
        }
    }
    let refused = refused.expect("a 1 MiB disk fills up");
    assert_eq!(refused["code"], "storage-error", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("not stored"),
        "{refused}"
    );
    assert!(acked > 0);

    // The service is up and answers; the socket too.
    assert!(get_json(&format!("http://127.0.0.1:{port}/health"))
        .await
        .is_some());
    socket
        .send(ws::Message::Text(r#"{"action":"heartbeat"}"#.into()))
        .await
        .unwrap();
    assert_eq!(next(&mut socket).await.unwrap()["type"], "heartbeat");

    // Nothing corrupt: the in-progress file holds exactly the acknowledged bytes.
    let part = data.join("partial").join(format!("{id}.part"));
    assert_eq!(std::fs::metadata(&part).unwrap().len(), acked);
    let index = data.join("partial").join(format!("{id}.idx"));
    assert_eq!(std::fs::metadata(&index).unwrap().len() / 16 * 8000, acked);
}
