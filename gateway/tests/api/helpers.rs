use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

#[path = "../../../audio/tests/support/postgres.rs"]
mod postgres;

/// A registry, N audio instances sharing one data folder, and a gateway in front.
pub struct Stack {
    pub registry_handle: ServerHandle,
    pub audio: Vec<Audio>,
    pub gateway: String,
    pub data_dir: tempfile::TempDir,
}

pub struct Audio {
    pub address: String,
}

pub async fn spawn_registry() -> (String, ServerHandle) {
    let mut settings = registry::Settings::defaults();
    settings.port = 0;
    settings.self_preservation = false;
    settings.eviction_interval = Duration::from_millis(100);
    let app = registry::Application::build(settings).await.unwrap();
    let address = app.address().to_string();
    let handle = app.handle();
    actix_rt::spawn(app.run_until_stopped());
    (address, handle)
}

/// The suite runs once on the embedded defaults and once on PostgreSQL and S3, as the audio
/// suite does (`AUDIO_TEST_DATABASE_URL`, `AUDIO_TEST_RECORDINGS_URL`, set by scripts/test):
/// the instances sharing a data folder then share a database and a bucket prefix of their own.
async fn shared_storage(data_dir: &Path) -> (Option<String>, Option<String>) {
    /// A data folder, and its database and recordings' store.
    type Shared = (PathBuf, Option<String>, Option<String>);
    static MADE: std::sync::Mutex<Vec<Shared>> = std::sync::Mutex::new(Vec::new());
    if let Some((_, database, recordings)) = MADE
        .lock()
        .unwrap()
        .iter()
        .find(|(dir, _, _)| dir == data_dir)
    {
        return (database.clone(), recordings.clone());
    }
    let from_env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let database = match from_env("AUDIO_TEST_DATABASE_URL") {
        Some(admin) => Some(postgres::create_database(&admin, "gateway_test").await),
        None => None,
    };
    let recordings = from_env("AUDIO_TEST_RECORDINGS_URL")
        .map(|bucket| format!("{}/{suffix}", bucket.trim_end_matches('/')));
    MADE.lock()
        .unwrap()
        .push((data_dir.to_owned(), database.clone(), recordings.clone()));
    (database, recordings)
}

pub async fn spawn_audio(registry: &str, data_dir: &Path) -> Audio {
    spawn_audio_with(registry, data_dir, |_| {}).await
}

pub async fn spawn_audio_with(
    registry: &str,
    data_dir: &Path,
    tweak: impl FnOnce(&mut audio::Settings),
) -> Audio {
    let mut settings = audio::Settings::for_data_dir(data_dir);
    (
        settings.storage.database_url,
        settings.storage.recordings_url,
    ) = shared_storage(data_dir).await;
    settings.storage.segment_interval = Duration::from_millis(200);
    settings.port = 0;
    settings.workers = 1;
    settings.registry.url = Some(format!("http://{registry}/eureka/"));
    settings.registry.renewal = Duration::from_secs(1);
    settings.events.kafka_brokers = None;
    tweak(&mut settings);
    let app = audio::Application::build(settings).await.unwrap();
    let address = app.address().to_string();
    actix_rt::spawn(app.run_until_stopped());
    Audio { address }
}

pub async fn spawn_gateway(registry: &str, tweak: impl FnOnce(&mut gateway::Settings)) -> String {
    let mut settings = gateway::Settings::defaults();
    settings.port = 0;
    settings.workers = 2;
    settings.registry_url = format!("http://{registry}/eureka/");
    settings.discovery_refresh = Duration::from_millis(100);
    tweak(&mut settings);
    let app = gateway::Application::build(settings).await.unwrap();
    let address = app.address().to_string();
    actix_rt::spawn(app.run_until_stopped());
    address
}

impl Stack {
    pub async fn start(instances: usize) -> Self {
        Self::start_with(instances, |_| {}).await
    }

    pub async fn start_with(instances: usize, tweak: impl FnOnce(&mut gateway::Settings)) -> Self {
        Self::start_configured(instances, |_| {}, tweak).await
    }

    /// With each audio instance's settings tweaked too.
    pub async fn start_configured(
        instances: usize,
        audio_tweak: impl Fn(&mut audio::Settings),
        tweak: impl FnOnce(&mut gateway::Settings),
    ) -> Self {
        let _ = env_logger::builder().is_test(true).try_init();
        let data_dir = tempfile::tempdir().unwrap();
        let (registry, registry_handle) = spawn_registry().await;
        let mut audio = Vec::new();
        for _ in 0..instances {
            audio.push(spawn_audio_with(&registry, data_dir.path(), &audio_tweak).await);
        }
        let gateway = spawn_gateway(&registry, tweak).await;
        let stack = Self {
            registry_handle,
            audio,
            gateway,
            data_dir,
        };
        stack.wait_for_instances(instances).await;
        stack
    }

    /// Waits until the gateway routes to `n` audio instances.
    pub async fn wait_for_instances(&self, n: usize) {
        wait_for_instances(&self.gateway, n).await;
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/record", self.gateway)
    }

    /// A stored recording's bytes, read from the recordings' store the instances use.
    pub async fn stored(&self, name: &str) -> Vec<u8> {
        let (_, recordings) = shared_storage(self.data_dir.path()).await;
        let (dir, name) = (
            self.data_dir.path().to_owned(),
            audio::domain::FileName::parse(name).unwrap(),
        );
        actix_web::rt::task::spawn_blocking(move || {
            audio::storage::Blobs::open(&dir, recordings.as_deref())
                .unwrap()
                .read(&name)
                .unwrap()
                .expect("the recording is stored")
        })
        .await
        .unwrap()
    }
}

/// Waits (10 s at most) until the gateway at `gateway` routes to `n` audio instances.
pub async fn wait_for_instances(gateway: &str, n: usize) {
    for _ in 0..200 {
        let (_, health) = get_json(&format!("http://{gateway}/health")).await;
        let known = health["upstreams"]["AUDIO-SERVICE"]
            .as_array()
            .map_or(0, |a| a.len());
        if known == n {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway never saw {n} audio instances");
}

pub async fn get_json(url: &str) -> (u16, Value) {
    let mut response = awc::Client::new().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.body().limit(64 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

pub async fn get_bytes(url: &str) -> (u16, Vec<u8>) {
    let mut response = awc::Client::new().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.body().limit(64 << 20).await.unwrap().to_vec(),
    )
}

pub fn fixture_chunks() -> Vec<Vec<u8>> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/mediarecorder-webm-opus-250ms");
    (0..14)
        .map(|i| std::fs::read(dir.join(format!("chunk-{i:03}.bin"))).unwrap())
        .collect()
}

/// The fixture as post-processing leaves it (remuxing is deterministic).
pub fn remuxed_fixture() -> Vec<u8> {
    audio::remux(&fixture_chunks().concat()).unwrap().bytes
}

/// Waits (10 s at most) until a recording is post-processed, asking through `base`.
pub async fn wait_ready(base: &str, id: &str) -> Value {
    for _ in 0..200 {
        let (status, meta) = get_json(&format!("{base}/api/recordings/{id}")).await;
        if status == 200 && meta["status"] == "ready" {
            return meta;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("recording {id} never became ready");
}

pub type Socket = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

pub async fn connect(url: &str) -> Socket {
    awc::Client::new()
        .ws(url)
        .max_frame_size(16 << 20)
        .connect()
        .await
        .expect("connects")
        .1
}

/// The next text frame as JSON (pings answered), or panics after 10 s.
pub async fn recv_json(socket: &mut Socket) -> Value {
    loop {
        let frame = actix_rt::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .expect("socket open")
            .expect("valid frame");
        match frame {
            ws::Frame::Text(text) => {
                let value: Value = serde_json::from_slice(&text).unwrap();
                // With recordings in S3, flushes are announced between acks: not what the
                // tests here look at.
                if value["type"] != "durable" {
                    return value;
                }
            }
            ws::Frame::Ping(p) => socket.send(ws::Message::Pong(p)).await.unwrap(),
            ws::Frame::Close(reason) => panic!("closed: {reason:?}"),
            _ => {}
        }
    }
}

/// Records the fixture through `url` as binary frames; answers the `completed` frame.
pub async fn record_fixture(url: &str, meta_id: &str) -> Value {
    let mut socket = connect(url).await;
    socket
        .send(ws::Message::Text(
            json!({"action": "record-start", "metaId": meta_id})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    assert_eq!(recv_json(&mut socket).await["type"], "started");
    for (seq, chunk) in fixture_chunks().into_iter().enumerate() {
        socket
            .send(ws::Message::Binary(chunk.into()))
            .await
            .unwrap();
        let ack = recv_json(&mut socket).await;
        assert_eq!(ack["seq"], seq as u64, "{ack}");
    }
    socket
        .send(ws::Message::Text(
            json!({"action": "record-end"}).to_string().into(),
        ))
        .await
        .unwrap();
    let completed = recv_json(&mut socket).await;
    assert_eq!(completed["type"], "completed", "{completed}");
    completed
}

/// A raw WebSocket upgrade request; answers the status and the JSON body of a refusal.
pub async fn refused_upgrade(gateway: &str) -> (u16, serde_json::Value) {
    refused_upgrade_at(gateway, "/ws/record").await
}

/// The same, for the WebSocket at `path`.
pub async fn refused_upgrade_at(gateway: &str, path: &str) -> (u16, serde_json::Value) {
    refused_upgrade_with(gateway, path, "").await
}

/// The same, with more header lines (each ending in `\r\n`).
pub async fn refused_upgrade_with(
    gateway: &str,
    path: &str,
    headers: &str,
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(gateway).await.unwrap();
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: {gateway}\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n{headers}\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    actix_rt::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("answered and closed within 10 s")
        .unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or_default())
}
