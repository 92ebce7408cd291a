//! Events over a real Apache Kafka broker. `scripts/test` starts one and sets `KAFKA_BROKERS`;
//! without it these tests fail (they never skip). The outbox test starts a broker of its own,
//! so it can have it down while recordings complete.
//!
//! Run one at a time (`--test-threads=1`, as scripts/test does): they share topics.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use audio::{Application, Settings};
use awc::ws;
use futures_util::{SinkExt, StreamExt};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use serde_json::{json, Value};

#[path = "support/storage.rs"]
mod storage;
use storage::TestStorage;

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS")
        .expect("KAFKA_BROKERS must name a running broker: run the tests with scripts/test")
}

fn fixture_chunks() -> Vec<Vec<u8>> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mediarecorder-webm-opus-250ms");
    (0..14)
        .map(|i| std::fs::read(dir.join(format!("chunk-{i:03}.bin"))).unwrap())
        .collect()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Starts the service in this process, on the engines this run tests on (`TestStorage`).
async fn spawn_app(
    brokers: &str,
    data: &Path,
    tweak: impl FnOnce(&mut Settings),
) -> (String, TestStorage) {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut settings = Settings::for_data_dir(data);
    let storage = TestStorage::for_data_dir(data).await;
    storage.apply(&mut settings);
    settings.port = 0;
    settings.events.kafka_brokers = Some(brokers.to_owned());
    settings.events.kafka_group = unique("audio-service-test");
    tweak(&mut settings);
    let app = Application::build(settings).await.unwrap();
    let address = app.address().to_string();
    actix_rt::spawn(app.run_until_stopped());
    (address, storage)
}

/// Streams the fixture as the browser page does and ends it; answers `(started, completed)`.
async fn record(address: &str, meta_id: &str) -> (Value, Value) {
    record_chunks(address, meta_id, &fixture_chunks()).await
}

async fn record_chunks(address: &str, meta_id: &str, chunks: &[Vec<u8>]) -> (Value, Value) {
    let (_, mut socket) = awc::Client::new()
        .ws(format!("ws://{address}/ws/record"))
        .max_frame_size(4 << 20)
        .connect()
        .await
        .unwrap();
    socket
        .send(ws::Message::Text(
            json!({"action": "record-start", "metaId": meta_id, "metaData": {"userId": "kafka"}})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let started = next_json(&mut socket).await;
    for chunk in chunks {
        socket
            .send(ws::Message::Binary(chunk.clone().into()))
            .await
            .unwrap();
        assert_eq!(next_json(&mut socket).await["type"], "ack");
    }
    socket
        .send(ws::Message::Text(
            json!({"action": "record-end"}).to_string().into(),
        ))
        .await
        .unwrap();
    let completed = next_json(&mut socket).await;
    assert_eq!(completed["type"], "completed", "{completed}");
    (started, completed)
}

async fn next_json(socket: &mut actix_codec::Framed<awc::BoxedSocket, ws::Codec>) -> Value {
    loop {
        let frame = actix_rt::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match frame {
            ws::Frame::Text(text) => {
                let value: Value = serde_json::from_slice(&text).unwrap();
                // On a shared store the service also says how far the recording is durable
                // there; these tests look at what is acknowledged and how it ends.
                if value["type"] != "durable" {
                    return value;
                }
            }
            ws::Frame::Ping(p) => socket.send(ws::Message::Pong(p)).await.unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn get_json(url: &str) -> (u16, Value) {
    let mut response = awc::Client::new().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().limit(1 << 20).await.unwrap_or_default(),
    )
}

async fn wait_ready(address: &str, id: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, meta) = get_json(&format!("http://{address}/api/recordings/{id}")).await;
        if status == 200 && meta["status"] == "ready" {
            return meta;
        }
        assert!(
            Instant::now() < deadline,
            "recording {id} not ready in {limit:?}: {meta}"
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A consumer of its own group, from the start of the topic.
fn test_consumer(brokers: &str, topic: &str) -> StreamConsumer {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("test-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    consumer
}

/// Reads `topic` until `wanted` says a message is the one, or fails after `limit`.
async fn find_message(
    consumer: &StreamConsumer,
    limit: Duration,
    wanted: impl Fn(&Value) -> bool,
) -> (Option<String>, Value, Vec<(String, String)>) {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no matching message within {limit:?}");
        let Ok(Ok(message)) = actix_rt::time::timeout(left, consumer.recv()).await else {
            continue;
        };
        let value: Value =
            serde_json::from_slice(message.payload().unwrap_or_default()).unwrap_or(Value::Null);
        if wanted(&value) {
            let key = message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned());
            let headers = message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            (
                                h.key.to_owned(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            return (key, value, headers);
        }
    }
}

/// A completion event as a consumer written for the original reads it: keyed by the session
/// id, with the original's fields (`sessionId`, `metaId`, `fileName`, `filePath`, and
/// `completedAt` as a local date-time).
fn assert_original_fields(
    key: &Option<String>,
    event: &Value,
    session_id: &str,
    meta_id: &str,
    file_name: &Value,
) {
    assert_eq!(key.as_deref(), Some(session_id));
    assert_eq!(event["sessionId"], session_id);
    assert_eq!(event["metaId"], meta_id);
    assert_eq!(&event["fileName"], file_name);
    assert!(event["filePath"]
        .as_str()
        .unwrap()
        .ends_with(file_name.as_str().unwrap()));
    let completed_at = event["completedAt"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(completed_at, "%Y-%m-%dT%H:%M:%S%.f").is_ok(),
        "{completed_at}"
    );
}

#[actix_rt::test]
async fn a_fixture_recording_raises_one_event_with_the_original_fields_and_ends_ready() {
    let brokers = brokers();
    let data = tempfile::tempdir().unwrap();
    let (address, _) = spawn_app(&brokers, data.path(), |_| {}).await;
    let (started, completed) = record(&address, "kafka-fixture").await;
    let id = completed["recordingId"].as_str().unwrap().to_owned();
    let session_id = started["sessionId"].as_str().unwrap().to_owned();

    let consumer = test_consumer(&brokers, "audio.record.completed");
    let (key, event, headers) = find_message(&consumer, Duration::from_secs(30), |v| {
        v["recordingId"] == id.as_str()
    })
    .await;
    // Key = session id; the original's field names; the additions.
    assert_original_fields(
        &key,
        &event,
        &session_id,
        "kafka-fixture",
        &completed["fileName"],
    );
    assert_eq!(
        (event["bytes"].as_u64(), event["chunks"].as_u64()),
        (Some(64_827), Some(14))
    );
    assert_eq!(event["status"], "completed");
    assert_eq!(event["userId"], "kafka");
    assert_eq!(event["schemaVersion"], 1);
    assert!(
        headers.contains(&("eventType".into(), "RecordCompletedEvent".into())),
        "{headers:?}"
    );
    assert!(headers.contains(&("eventId".into(), event["eventId"].as_str().unwrap().into())));
    assert!(headers.contains(&("schemaVersion".into(), "1".into())));

    // The consumer processed it: ready, with the duration MediaRecorder left out.
    let meta = wait_ready(&address, &id, Duration::from_secs(30)).await;
    let duration = meta["durationMs"].as_f64().unwrap();
    assert!((duration - 3960.0).abs() <= 20.0, "duration {duration}");

    // ffprobe reads that duration from the downloaded file.
    let mut download = awc::Client::new()
        .get(format!(
            "http://{address}/api/download/{}",
            meta["fileName"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    let file = data.path().join("downloaded.webm");
    std::fs::write(&file, download.body().limit(1 << 20).await.unwrap()).unwrap();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=nw=1:nk=1",
        ])
        .arg(&file)
        .output()
        .expect("ffprobe must be installed (Debian package ffmpeg)");
    let seconds: f64 = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!((seconds - 3.96).abs() <= 0.02, "ffprobe: {seconds}");

    // And announced the result.
    let processed = test_consumer(&brokers, "audio.record.processed");
    let (_, result, _) = find_message(&processed, Duration::from_secs(30), |v| {
        v["recordingId"] == id.as_str()
    })
    .await;
    assert_eq!(result["status"], "ready");
    assert_eq!(result["sha256"], meta["sha256"]);
}

#[actix_rt::test]
async fn b_a_poisoned_event_goes_to_the_dead_letter_topic_and_the_consumer_goes_on() {
    let brokers = brokers();
    let data = tempfile::tempdir().unwrap();
    let (address, _) = spawn_app(&brokers, data.path(), |s| {
        s.events.attempts = 3;
        s.events.backoff = Duration::from_millis(50);
    })
    .await;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let poison_key = unique("poison");
    producer
        .send(
            FutureRecord::to("audio.record.completed")
                .key(&poison_key)
                .payload("this is not an event"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();

    let dead = test_consumer(&brokers, "audio.record.completed.DLT");
    let deadline = Instant::now() + Duration::from_secs(60);
    let headers = loop {
        assert!(
            Instant::now() < deadline,
            "the poisoned event never reached the DLT"
        );
        let Ok(Ok(message)) = actix_rt::time::timeout(Duration::from_secs(5), dead.recv()).await
        else {
            continue;
        };
        if message.key() == Some(poison_key.as_bytes()) {
            assert_eq!(message.payload(), Some(&b"this is not an event"[..]));
            break message
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            (
                                h.key.to_owned(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
        }
    };
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "dlt.original.topic" && v == "audio.record.completed"),
        "{headers:?}"
    );
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "dlt.error" && v.contains("not a RecordCompletedEvent")),
        "{headers:?}"
    );
    assert!(
        headers.iter().any(|(k, v)| k == "dlt.attempts" && v == "3"),
        "{headers:?}"
    );

    // The consumer is not stuck on it.
    let (_, completed) = record(&address, "after-poison").await;
    wait_ready(
        &address,
        completed["recordingId"].as_str().unwrap(),
        Duration::from_secs(30),
    )
    .await;
}

/// A broker of this test's own, on its own port and folder.
struct OwnBroker {
    port: u16,
    dir: tempfile::TempDir,
}

impl OwnBroker {
    fn script() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka/broker")
    }

    fn start(&self) {
        let status = Command::new("bash")
            .arg(Self::script())
            .args(["start", "--port", &self.port.to_string(), "--dir"])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "the test's own broker did not start");
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(Self::script())
            .args(["kill", "--port", &self.port.to_string(), "--dir"])
            .arg(self.dir.path())
            .status();
    }
}

/// Starts the `audio` binary as a real process on `storage` (its data folder and engines);
/// answers it and its address.
fn audio_process(storage: &TestStorage, brokers: &str, group: &str) -> (AudioProcess, String) {
    audio_process_with(storage, brokers, group, &[])
}

fn audio_process_with(
    storage: &TestStorage,
    brokers: &str,
    group: &str,
    env: &[(&str, &str)],
) -> (AudioProcess, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audio"));
    storage.apply_to_process(&mut command);
    let mut child = command
        .args(["--port", "0", "--data-dir"])
        .arg(storage.data_dir())
        .env("KAFKA_BROKERS", brokers)
        .env("AUDIO_KAFKA_GROUP", group)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("listening on http://") {
                let rest = &line[at + "listening on http://".len()..];
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    let address = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("audio logs its address");
    (AudioProcess(child), address)
}

/// An audio service process, killed when dropped: a test that fails half-way leaves no service
/// running.
struct AudioProcess(Child);

impl std::ops::Deref for AudioProcess {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for AudioProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for AudioProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[actix_rt::test]
async fn c_with_kafka_down_and_a_kill_9_before_any_acknowledgement_no_event_is_lost() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broker = OwnBroker {
        port,
        dir: tempfile::tempdir().unwrap(),
    };
    let brokers = format!("127.0.0.1:{port}");
    let data = tempfile::tempdir().unwrap();
    let storage = TestStorage::for_data_dir(data.path()).await;
    let group = unique("audio-service-outbox");

    // No broker is listening: twenty recordings complete anyway, their events wait in the outbox.
    let (mut first, address) = audio_process(&storage, &brokers, &group);
    let mut ids = Vec::new();
    for i in 0..20 {
        let (_, completed) = record(&address, &format!("offline-{i}")).await;
        ids.push(completed["recordingId"].as_str().unwrap().to_owned());
    }
    let waiting = storage.outbox_entries().await;
    assert_eq!(waiting, 20, "every completion event is in the outbox");

    // The process dies before Kafka ever acknowledged anything.
    first.kill().unwrap();
    first.wait().unwrap();

    // The broker comes up; the service restarts; every event arrives and is processed.
    broker.start();
    let (mut second, address) = audio_process(&storage, &brokers, &group);
    let consumer = test_consumer(&brokers, "audio.record.completed");
    let mut seen = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while seen.len() < ids.len() {
        assert!(
            Instant::now() < deadline,
            "only {} of 20 events arrived",
            seen.len()
        );
        if let Ok(Ok(message)) =
            actix_rt::time::timeout(Duration::from_secs(5), consumer.recv()).await
        {
            let value: Value =
                serde_json::from_slice(message.payload().unwrap_or_default()).unwrap_or_default();
            if let Some(id) = value["recordingId"]
                .as_str()
                .filter(|id| ids.iter().any(|i| i == id))
            {
                seen.insert(id.to_owned());
            }
        }
    }
    for id in &ids {
        wait_ready(&address, id, Duration::from_secs(60)).await;
    }
    // Delivered and processed events leave the outbox.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = storage.outbox_entries().await;
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} entries still in the outbox"
        );
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();
}

#[actix_rt::test]
async fn d_sigterm_ends_a_live_recording_as_interrupted_with_every_acked_byte_and_delivers_its_event(
) {
    let brokers = brokers();
    let data = tempfile::tempdir().unwrap();
    let storage = TestStorage::for_data_dir(data.path()).await;
    let group = unique("audio-service-sigterm");
    let (mut child, address) = audio_process_with(
        &storage,
        &brokers,
        &group,
        &[("AUDIO_SHUTDOWN_GRACE_MS", "1000")],
    );

    let (_, mut socket) = awc::Client::new()
        .ws(format!("ws://{address}/ws/record"))
        .connect()
        .await
        .unwrap();
    socket
        .send(ws::Message::Text(
            json!({"action": "record-start", "metaId": "sigterm"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let started = next_json(&mut socket).await;
    let id = started["recordingId"].as_str().unwrap().to_owned();
    let chunks = fixture_chunks();
    let mut acked = 0;
    for chunk in &chunks[..6] {
        socket
            .send(ws::Message::Binary(chunk.clone().into()))
            .await
            .unwrap();
        acked = next_json(&mut socket).await["bytes"].as_u64().unwrap();
    }

    // SIGTERM while the recording is live.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // The client is told: completed as interrupted, then the socket closes with 1001.
    let completed = next_json(&mut socket).await;
    assert_eq!(completed["type"], "completed", "{completed}");
    assert_eq!(completed["status"], "interrupted");
    assert_eq!(completed["bytes"], acked);
    match actix_rt::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .unwrap()
    {
        Some(Ok(ws::Frame::Close(Some(reason)))) => assert_eq!(u16::from(reason.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    // The process exits 0 on its own.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the service did not exit after SIGTERM"
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "exit status {status:?}");

    // On disk: ended interrupted with every acknowledged byte; the outbox is empty.
    let meta = storage.record(&id).await;
    assert_eq!(meta["endedAs"], "interrupted");
    assert_eq!(meta["chunks"], 6);
    // The consumer may post-process the cut-off recording before the process exits: it then
    // repairs it (the metadata's size becomes the repaired file's) and keeps the recorded bytes
    // in originals/. Either way those bytes are exactly the six acknowledged chunks.
    let name = meta["fileName"].as_str().unwrap();
    let recorded = if let Some(original) = storage.original(name, &id).await {
        assert!(
            meta["note"].as_str().unwrap().starts_with("repaired"),
            "{meta}"
        );
        original
    } else {
        assert_eq!(meta["size"], acked);
        storage.stored(name).await.unwrap()
    };
    assert_eq!(recorded.len() as u64, acked);
    assert!(
        recorded == chunks[..6].concat(),
        "the acknowledged bytes, exactly"
    );
    assert_eq!(storage.outbox_entries().await, 0, "events left undelivered");
    // And its event is on Kafka.
    let consumer = test_consumer(&brokers, "audio.record.completed");
    let (_, event, _) = find_message(&consumer, Duration::from_secs(30), |v| {
        v["recordingId"] == id.as_str()
    })
    .await;
    assert_eq!(event["status"], "interrupted");
    assert_eq!(event["bytes"], acked);
}

impl OwnBroker {
    fn kill(&self) {
        let status = Command::new("bash")
            .arg(Self::script())
            .args(["kill", "--port", &self.port.to_string(), "--dir"])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

#[actix_rt::test]
async fn e_the_broker_killed_and_restarted_during_100_recordings_loses_no_event_and_no_recording() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broker = std::sync::Arc::new(OwnBroker {
        port,
        dir: tempfile::tempdir().unwrap(),
    });
    broker.start();
    let brokers = format!("127.0.0.1:{port}");
    let data = tempfile::tempdir().unwrap();
    let (address, storage) = spawn_app(&brokers, data.path(), |_| {}).await;

    let mut ids = Vec::new();
    let mut restarting = None;
    for i in 0..100 {
        if i == 30 {
            broker.kill();
        }
        if i == 45 {
            // It comes back while recordings go on.
            let broker = broker.clone();
            restarting = Some(actix_rt::task::spawn_blocking(move || broker.start()));
        }
        let (_, completed) = record(&address, &format!("flaky-{i}")).await;
        ids.push(completed["recordingId"].as_str().unwrap().to_owned());
    }
    restarting.unwrap().await.unwrap();

    // Every recording reaches ready, once, with the file its metadata describes.
    for id in &ids {
        let meta = wait_ready(&address, id, Duration::from_secs(180)).await;
        let file = storage
            .stored(meta["fileName"].as_str().unwrap())
            .await
            .unwrap();
        let digest = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&file))
        };
        assert_eq!(
            meta["sha256"],
            digest.as_str(),
            "{id}: metadata and file disagree"
        );
        let duration = meta["durationMs"].as_f64().unwrap();
        assert!((duration - 3960.0).abs() <= 20.0, "{id}: {duration}");
    }
    // Every completion event is on Kafka.
    let consumer = test_consumer(&brokers, "audio.record.completed");
    let mut seen = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < ids.len() {
        assert!(
            Instant::now() < deadline,
            "only {} of 100 events on Kafka",
            seen.len()
        );
        if let Ok(Ok(message)) =
            actix_rt::time::timeout(Duration::from_secs(5), consumer.recv()).await
        {
            let value: Value =
                serde_json::from_slice(message.payload().unwrap_or_default()).unwrap_or_default();
            if let Some(id) = value["recordingId"].as_str() {
                seen.insert(id.to_owned());
            }
        }
    }
}

#[actix_rt::test]
async fn f_a_consumer_killed_before_it_finished_processing_processes_the_event_after_restart() {
    let brokers = brokers();
    let data = tempfile::tempdir().unwrap();
    let storage = TestStorage::for_data_dir(data.path()).await;
    let group = unique("audio-service-killed");
    let (mut first, address) = audio_process(&storage, &brokers, &group);
    let (_, completed) = record(&address, "killed-consumer").await;
    let id = completed["recordingId"].as_str().unwrap().to_owned();
    // kill -9 right after the completion: the consumer has not committed this event yet.
    first.kill().unwrap();
    first.wait().unwrap();
    let meta = storage.record(&id).await;
    eprintln!("status when killed: {}", meta["status"]);
    assert_ne!(meta["status"], "recording");

    let (mut second, address) = audio_process(&storage, &brokers, &group);
    let meta = wait_ready(&address, &id, Duration::from_secs(60)).await;
    let file = storage
        .stored(meta["fileName"].as_str().unwrap())
        .await
        .unwrap();
    let expected = audio::remux(&fixture_chunks().concat()).unwrap().bytes;
    assert_eq!(file, expected, "the file is intact and processed");
    second.kill().unwrap();
    second.wait().unwrap();
}

/// A long recording: the fixture's first chunk (header, tracks, first cluster), then its
/// clusters over and over, in frames of about 1 MB; `frames` of them.
fn long_recording(frames: usize) -> Vec<Vec<u8>> {
    let fixture = fixture_chunks();
    let clusters = fixture[1..].concat();
    let frame = clusters.repeat((1 << 20) / clusters.len());
    std::iter::once(fixture[0].clone())
        .chain(std::iter::repeat_n(frame, frames))
        .collect()
}

#[actix_rt::test]
async fn g_a_consumer_killed_mid_processing_processes_the_event_again_after_restart() {
    let brokers = brokers();
    let data = tempfile::tempdir().unwrap();
    let storage = TestStorage::for_data_dir(data.path()).await;
    let group = unique("audio-service-mid-processing");
    let (mut first, address) = audio_process(&storage, &brokers, &group);
    // About 150 MB: long enough to remux that the kill lands while it runs.
    let chunks = long_recording(150);
    let recorded = chunks.concat();
    let (_, completed) = record_chunks(&address, "mid-processing", &chunks).await;
    let id = completed["recordingId"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = storage.record(&id).await["status"].clone();
        if status == "processing" {
            break;
        }
        assert_ne!(
            status, "ready",
            "processing ended before the kill could interrupt it"
        );
        assert!(Instant::now() < deadline, "processing never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    let killed_at = Instant::now();
    first.kill().unwrap();
    first.wait().unwrap();
    eprintln!(
        "killed {:?} after processing was seen to start",
        killed_at.elapsed()
    );
    // Cut off mid-way: still `processing`, and the stored file is still exactly what was
    // recorded (the remuxed file replaces it atomically, and had not yet).
    let meta = storage.record(&id).await;
    assert_eq!(meta["status"], "processing", "{meta}");
    let name = meta["fileName"].as_str().unwrap().to_owned();
    assert!(
        storage.stored(&name).await.unwrap() == recorded,
        "the recorded bytes are intact after the kill"
    );

    // The event was not committed: a new process of the same group processes it again.
    let (mut second, address) = audio_process(&storage, &brokers, &group);
    let meta = wait_ready(&address, &id, Duration::from_secs(120)).await;
    let expected = audio::remux(&recorded).unwrap().bytes;
    let file = storage.stored(&name).await.unwrap();
    assert!(file == expected, "the file is the remuxed recording");
    assert_eq!(meta["size"].as_u64(), Some(expected.len() as u64));
    second.kill().unwrap();
    second.wait().unwrap();
}

/// POSTs `body` to the audio instance at `address`; answers the status and the JSON reply.
async fn post_json(address: &str, path: &str, body: Value) -> (u16, Value) {
    let mut response = awc::Client::new()
        .post(format!("http://{address}{path}"))
        .send_json(&body)
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().limit(1 << 20).await.unwrap_or_default(),
    )
}

#[actix_rt::test]
async fn h_the_original_gateways_http_calls_raise_the_same_event_with_its_session_id() {
    let brokers = brokers();
    let data = tempfile::tempdir().unwrap();
    let (address, _) = spawn_app(&brokers, data.path(), |s| {
        s.timeouts.end_grace = Duration::from_millis(500)
    })
    .await;
    // As the original gateway calls its audio server: its socket's id as sessionId.
    let session = unique("spring-ws");
    let (status, started) = post_json(
        &address,
        "/record/start",
        json!({"action": "record-start", "metaId": "kafka-http", "metaData": {"userId": "kafka"},
               "sessionId": session, "connectionId": session}),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let id = started["recordingId"].as_str().unwrap().to_owned();
    let chunks: Vec<Vec<u8>> = fixture_chunks().chunks(4).map(|c| c.concat()).collect();
    for chunk in &chunks {
        use base64::Engine;
        let chunk = format!(
            "data:audio/webm;codecs=opus;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(chunk)
        );
        let body = json!({"action": "record-idle", "metaId": "kafka-http", "chunk": chunk,
                          "sessionId": session, "connectionId": session});
        assert_eq!(post_json(&address, "/record/idle", body).await.0, 200);
    }
    let (status, ended) = post_json(&address, "/record/end", json!({"sessionId": session})).await;
    assert_eq!(status, 200, "{ended}");

    let consumer = test_consumer(&brokers, "audio.record.completed");
    let (key, event, _) = find_message(&consumer, Duration::from_secs(30), |v| {
        v["recordingId"] == id.as_str()
    })
    .await;
    // A consumer written for the original reads it: its fields, its session id as the key.
    assert_original_fields(&key, &event, &session, "kafka-http", &started["fileName"]);
    assert_eq!(
        (event["bytes"].as_u64(), event["chunks"].as_u64()),
        (Some(64_827), Some(4))
    );
    assert_eq!(event["status"], "completed");
    let meta = wait_ready(&address, &id, Duration::from_secs(30)).await;
    let duration = meta["durationMs"].as_f64().unwrap();
    assert!((duration - 3960.0).abs() <= 20.0, "duration {duration}");
    // Published once: no second completion event for it.
    let deadline = Instant::now() + Duration::from_secs(3);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Ok(Ok(message)) = actix_rt::time::timeout(left, consumer.recv()).await {
            let value: Value = serde_json::from_slice(message.payload().unwrap_or_default())
                .unwrap_or(Value::Null);
            assert_ne!(
                value["recordingId"],
                id.as_str(),
                "a second completion event"
            );
        }
    }
}
