//! Event path benchmark: from sending `record-end` to the recording being `ready` (its
//! `processed` event on `GET /api/events`), over a real Kafka broker, for 200 recordings of the
//! fixture, one after another. Needs `KAFKA_BROKERS` (e.g. `scripts/kafka/broker start`). With
//! `AUDIO_DATABASE_URL` and `AUDIO_RECORDINGS_URL` (and the `AWS_*` variables) the service keeps
//! its index and recordings there (PostgreSQL and S3) instead of the embedded defaults.
//!
//!     KAFKA_BROKERS=127.0.0.1:9092 cargo bench -p audio --bench events

use std::path::PathBuf;
use std::time::{Duration, Instant};

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

const RECORDINGS: usize = 200;

async fn next_json(socket: &mut actix_codec::Framed<awc::BoxedSocket, ws::Codec>) -> Value {
    loop {
        match socket.next().await.unwrap().unwrap() {
            ws::Frame::Text(text) => {
                let value: Value = serde_json::from_slice(&text).unwrap();
                // Flushes to a shared store are announced between acks.
                if value["type"] != "durable" {
                    return value;
                }
            }
            ws::Frame::Ping(p) => socket.send(ws::Message::Pong(p)).await.unwrap(),
            _ => {}
        }
    }
}

fn main() -> std::io::Result<()> {
    let brokers = std::env::var("KAFKA_BROKERS")
        .expect("set KAFKA_BROKERS to a running broker (scripts/kafka/broker start)");
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mediarecorder-webm-opus-250ms");
    let chunks: Vec<Vec<u8>> = (0..14)
        .map(|i| std::fs::read(dir.join(format!("chunk-{i:03}.bin"))).unwrap())
        .collect();
    actix_web::rt::System::new().block_on(async move {
        let data = tempfile::tempdir()?;
        let mut settings = audio::Settings::for_data_dir(data.path());
        settings.port = 0;
        settings.events.kafka_brokers = Some(brokers.clone());
        settings.events.kafka_group = format!("audio-service-bench-{}", uuid::Uuid::new_v4().simple());
        settings.storage.database_url = std::env::var("AUDIO_DATABASE_URL").ok();
        settings.storage.recordings_url = std::env::var("AUDIO_RECORDINGS_URL").ok();
        let storage = match &settings.storage.recordings_url {
            Some(url) => format!("index {}, recordings {url}", if settings.storage.database_url.is_some() { "PostgreSQL" } else { "SQLite" }),
            None => "embedded defaults (SQLite, data folder)".to_owned(),
        };
        let app = audio::Application::build(settings).await?;
        let address = app.address();
        actix_web::rt::spawn(app.run_until_stopped());

        let mut events = awc::Client::new()
            .get(format!("http://{address}/api/events"))
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .unwrap();
        let mut buffer = String::new();
        let mut latencies = Vec::new();
        for i in 0..RECORDINGS {
            let (_, mut socket) = awc::Client::new().ws(format!("ws://{address}/ws/record")).connect().await.unwrap();
            let start = json!({"action": "record-start", "metaId": format!("bench-{i}")}).to_string();
            socket.send(ws::Message::Text(start.into())).await.unwrap();
            let id = next_json(&mut socket).await["recordingId"].as_str().unwrap().to_owned();
            for chunk in &chunks {
                socket.send(ws::Message::Binary(chunk.clone().into())).await.unwrap();
                next_json(&mut socket).await;
            }
            let sent = Instant::now();
            socket.send(ws::Message::Text(r#"{"action":"record-end"}"#.into())).await.unwrap();
            'wait: loop {
                let chunk = events.next().await.unwrap().unwrap();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    if frame.starts_with("event: processed") && frame.contains(&id) {
                        latencies.push(sent.elapsed());
                        break 'wait;
                    }
                }
            }
        }
        // The first event waits for the service's new consumer group to be joined and given its
        // partitions (it starts with the service, just before): shown apart, not in the figures.
        let first = latencies.remove(0);
        latencies.sort();
        let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
        println!("event path over Kafka at {brokers}, {storage}: record-end -> ready (processed event), {RECORDINGS} recordings of 64,827 bytes");
        println!("  first recording {:.1} ms (the consumer group joins meanwhile)", first.as_secs_f64() * 1e3);
        println!("  the other {}: p50 {:.1} ms   p99 {:.1} ms   max {:.1} ms", latencies.len(), at(0.5), at(0.99), at(1.0));
        Ok(())
    })
}
