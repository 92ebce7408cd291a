//! Test helpers: start the service on port 0 in a temporary data folder, talk to it over real
//! HTTP and WebSocket connections.

use std::path::PathBuf;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use audio::{Application, Settings};
use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

use crate::storage::TestStorage;

pub struct TestApp {
    pub address: String,
    pub data_dir: tempfile::TempDir,
    /// Its index and recordings' store (the embedded defaults, or PostgreSQL and S3).
    pub storage: TestStorage,
    handle: ServerHandle,
    shutdown: audio::ShutdownHandle,
    finished: std::sync::Mutex<Option<actix_rt::task::JoinHandle<std::io::Result<()>>>>,
}

impl TestApp {
    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn ws(&self) -> WsClient {
        WsClient::connect_to(
            &format!("ws://{}/ws/record", self.address),
            self.storage.recordings_url.is_some(),
        )
        .await
    }

    /// Asks for one more session and expects the upgrade refused with 503.
    pub async fn expect_session_refused(&self) {
        let refused = awc::Client::new()
            .ws(format!("ws://{}/ws/record", self.address))
            .connect()
            .await;
        match refused {
            Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
                assert_eq!(status.as_u16(), 503)
            }
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("a session past the limit was admitted"),
        }
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let mut response = awc::Client::new()
            .get(self.http(path))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.body().limit(64 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let mut response = awc::Client::new()
            .post(self.http(path))
            .send_json(body)
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.body().limit(1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    pub async fn get_bytes(&self, path: &str) -> Vec<u8> {
        let mut response = awc::Client::new()
            .get(self.http(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        response.body().limit(64 << 20).await.unwrap().to_vec()
    }

    /// Polls a recording until its status is `want`, or fails after ten seconds.
    pub async fn wait_for_status(&self, id: &str, want: &str) -> Value {
        for _ in 0..200 {
            let (status, body) = self.get_json(&format!("/api/recordings/{id}")).await;
            if status == 200 && body["status"] == want {
                return body;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, last) = self.get_json(&format!("/api/recordings/{id}")).await;
        panic!("recording {id} never reached status {want}: {last}");
    }

    /// Stops the server gracefully and waits for it (and its deregistration) to finish.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
        let finished = self.finished.lock().unwrap().take();
        if let Some(done) = finished {
            let _ = done.await;
        }
    }

    /// The graceful shutdown SIGTERM runs (live recordings ended, event streams closed, the
    /// server stopped); waits for the server to finish.
    pub async fn shut_down(&self) {
        self.shutdown.shutdown().await;
        let finished = self.finished.lock().unwrap().take();
        if let Some(done) = finished {
            let _ = done.await;
        }
    }

    /// A stored recording's bytes, read from the recordings' store (the data folder or S3);
    /// `None` when there is no such object.
    pub async fn stored(&self, name: &str) -> Option<Vec<u8>> {
        self.storage.stored(name).await
    }

    /// The names of the objects in the recordings' store.
    pub async fn stored_names(&self) -> Vec<String> {
        self.storage.names().await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stopping is asynchronous; the server winds down with the test's runtime.
        drop(self.handle.stop(false));
    }
}

/// Starts the service with test-friendly defaults, after `tweak` adjusts its settings.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_in(tempfile::tempdir().unwrap(), tweak).await
}

/// The same, with its data in `data_dir`.
pub async fn spawn_app_in(
    data_dir: tempfile::TempDir,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut settings = Settings::for_data_dir(data_dir.path());
    let storage = TestStorage::for_data_dir(data_dir.path()).await;
    storage.apply(&mut settings);
    settings.port = 0;
    settings.workers = 2;
    // The embedded bus, whatever KAFKA_BROKERS says (the Kafka tests are in tests/kafka.rs).
    settings.events.kafka_brokers = None;
    tweak(&mut settings);
    let app = Application::build(settings)
        .await
        .expect("the service starts");
    let address = app.address().to_string();
    let handle = app.handle();
    let shutdown = app.shutdown_handle();
    let finished = actix_rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        data_dir,
        storage,
        handle,
        shutdown,
        finished: std::sync::Mutex::new(Some(finished)),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The real MediaRecorder recording in `testdata/`, chunk by chunk.
pub fn fixture_chunks() -> Vec<Vec<u8>> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mediarecorder-webm-opus-250ms");
    (0..14)
        .map(|i| std::fs::read(dir.join(format!("chunk-{i:03}.bin"))).expect("fixture chunk"))
        .collect()
}

/// The fixture as the original's page records it: `MediaRecorder.start(1000)`, so each chunk
/// is a second (four of the fixture's 250 ms chunks, the last one the remaining two).
pub fn second_chunks() -> Vec<Vec<u8>> {
    fixture_chunks()
        .chunks(4)
        .map(|four| four.concat())
        .collect()
}

/// The fixture as post-processing leaves it (remuxing is deterministic).
pub fn remuxed(chunks: &[Vec<u8>]) -> Vec<u8> {
    audio::remux(&chunks.concat()).expect("remuxes").bytes
}

pub const FIXTURE_SHA256: &str = "0feabda20a56fc7a669d30e0cf165aa0b0635730a6b745edd25a8fa7aba4d2e7";
pub const FIXTURE_BYTES: u64 = 64_827;

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn data_url(chunk: &[u8]) -> String {
    use base64::Engine;
    format!(
        "data:audio/webm;codecs=opus;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(chunk)
    )
}

/// A WebSocket client that answers pings (unless told not to) and reads JSON frames.
pub struct WsClient {
    framed: actix_codec::Framed<awc::BoxedSocket, ws::Codec>,
    /// Whether the service keeps recordings in progress durable in a shared store (S3): then
    /// every ack says how far (`durable`), and `durable` frames come as flushes land.
    segmented: bool,
    /// The durable point the service last reported, in chunks.
    pub durable: Option<u64>,
}

pub enum Incoming {
    Json(Value),
    Closed(Option<ws::CloseReason>),
}

impl WsClient {
    pub async fn connect(url: &str) -> Self {
        let (_, framed) = awc::Client::new()
            .ws(url)
            .max_frame_size(16 << 20)
            .connect()
            .await
            .expect("WebSocket connects");
        Self {
            framed,
            segmented: false,
            durable: None,
        }
    }

    /// The same, for a service whose recordings are in a shared store when `segmented`.
    pub async fn connect_to(url: &str, segmented: bool) -> Self {
        let mut client = Self::connect(url).await;
        client.segmented = segmented;
        client
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.framed
            .send(ws::Message::Text(text.into()))
            .await
            .unwrap();
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.framed
            .send(ws::Message::Binary(bytes.into()))
            .await
            .unwrap();
    }

    /// The next JSON frame or the close, answering pings on the way; fails after 10 s.
    pub async fn next(&mut self) -> Incoming {
        loop {
            let frame = actix_rt::time::timeout(Duration::from_secs(10), self.framed.next())
                .await
                .expect("a frame within 10 s");
            match frame {
                None => return Incoming::Closed(None),
                Some(Err(err)) => panic!("WebSocket error: {err}"),
                Some(Ok(ws::Frame::Text(text))) => {
                    let mut value: Value = serde_json::from_slice(&text).expect("JSON frame");
                    if value["type"] == "durable" {
                        assert!(
                            self.segmented,
                            "a durable frame from a local store: {value}"
                        );
                        self.saw_durable(value["chunks"].as_u64().expect("chunks"));
                        continue;
                    }
                    if value["type"] == "ack" {
                        // The suite runs on both stores: the durable point is checked here
                        // and taken off, so that the tests compare the rest as it is.
                        let durable = value.as_object_mut().unwrap().remove("durable");
                        assert_eq!(durable.is_some(), self.segmented, "{value} {durable:?}");
                        if let Some(durable) = durable {
                            let chunks = durable["chunks"].as_u64().expect("durable chunks");
                            assert!(chunks <= value["seq"].as_u64().unwrap() + 1, "{durable}");
                            assert!(durable["bytes"].as_u64() <= value["bytes"].as_u64());
                            self.saw_durable(chunks);
                        }
                    }
                    return Incoming::Json(value);
                }
                Some(Ok(ws::Frame::Ping(payload))) => {
                    self.framed.send(ws::Message::Pong(payload)).await.unwrap()
                }
                Some(Ok(ws::Frame::Close(reason))) => return Incoming::Closed(reason),
                Some(Ok(_)) => {}
            }
        }
    }

    pub async fn recv(&mut self) -> Value {
        match self.next().await {
            Incoming::Json(value) => value,
            Incoming::Closed(reason) => panic!("socket closed: {reason:?}"),
        }
    }

    fn saw_durable(&mut self, chunks: u64) {
        self.durable = Some(self.durable.unwrap_or(0).max(chunks));
    }

    /// Sends a frame and expects an error with `code` back.
    pub async fn expect_error(&mut self, frame: Value, code: &str) -> Value {
        self.send_json(frame).await;
        let reply = self.recv().await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], code, "{reply}");
        assert!(
            reply["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{reply}"
        );
        reply
    }

    pub async fn start(&mut self, meta_id: Option<&str>) -> Value {
        self.send_json(
            json!({"action": "record-start", "metaId": meta_id, "metaData": {"userId": "tester"}}),
        )
        .await;
        let started = self.recv().await;
        assert_eq!(started["type"], "started", "{started}");
        started
    }

    /// Sends every chunk as the original page does (a data URL with `seq`) and checks each ack.
    pub async fn stream_json(
        &mut self,
        chunks: &[Vec<u8>],
        first_seq: u64,
        mut stored: u64,
    ) -> u64 {
        for (i, chunk) in chunks.iter().enumerate() {
            let seq = first_seq + i as u64;
            self.send_json(json!({"action": "record-idle", "metaId": "x", "seq": seq, "chunk": data_url(chunk)}))
                .await;
            stored += chunk.len() as u64;
            let ack = self.recv().await;
            assert_eq!(
                ack,
                json!({"type": "ack", "seq": seq, "bytes": stored, "duplicate": false})
            );
        }
        stored
    }

    pub async fn stream_binary(
        &mut self,
        chunks: &[Vec<u8>],
        first_seq: u64,
        mut stored: u64,
    ) -> u64 {
        for (i, chunk) in chunks.iter().enumerate() {
            self.send_binary(chunk.clone()).await;
            stored += chunk.len() as u64;
            let ack = self.recv().await;
            assert_eq!(
                ack,
                json!({"type": "ack", "seq": first_seq + i as u64, "bytes": stored, "duplicate": false})
            );
        }
        stored
    }

    pub async fn end(&mut self) -> Value {
        self.send_json(json!({"action": "record-end"})).await;
        let completed = self.recv().await;
        assert_eq!(completed["type"], "completed", "{completed}");
        completed
    }

    /// Closes the socket as a page that goes away does: a close frame (1000), then the server's
    /// close frame back before the connection goes (the closing handshake).
    pub async fn close(mut self) {
        self.framed
            .send(ws::Message::Close(Some(ws::CloseCode::Normal.into())))
            .await
            .unwrap();
        loop {
            match self.next().await {
                Incoming::Closed(_) => return,
                Incoming::Json(_) => {}
            }
        }
    }

    /// Drops the TCP connection without a close frame, as a vanished client does.
    pub fn vanish(self) {
        drop(self.framed);
    }
}

/// A response header as text ("" when absent).
pub fn header(headers: &actix_web::http::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
