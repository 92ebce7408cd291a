//! Helpers shared by the root package's integration tests (each test file includes the ones it
//! uses).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use awc::ws;
use futures_util::{SinkExt, StreamExt};

#[path = "../../audio/tests/support/postgres.rs"]
mod postgres;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The workspace's binaries sit beside this package's own.
pub fn binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_healthcheck")).with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo test --workspace does)",
        path.display()
    );
    path
}

/// The next text frame as JSON, answering pings; fails after 10 s or on anything else.
pub async fn next_json(
    socket: &mut actix_codec::Framed<awc::BoxedSocket, ws::Codec>,
) -> serde_json::Value {
    loop {
        match actix_rt::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            ws::Frame::Text(text) => {
                let value: serde_json::Value = serde_json::from_slice(&text).unwrap();
                // On a shared store the service also says how far a recording is durable there
                // (`durable` frames, between the acks): not what these tests wait for.
                if value["type"] != "durable" {
                    return value;
                }
            }
            ws::Frame::Ping(p) => socket.send(ws::Message::Pong(p)).await.unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Points `command` (audio instances, or the one-process stack, whose data is in `data`) at
/// the index and recordings' store this run tests on. The
/// storage-neutral tests run once on the embedded defaults and once on PostgreSQL and S3: for
/// the second run scripts/test sets `AUDIO_TEST_DATABASE_URL` (a PostgreSQL's `postgres`
/// database) and `AUDIO_TEST_RECORDINGS_URL` (`s3://<bucket>`, with the `AWS_*` variables).
/// Instances sharing a data folder then share a fresh database and a bucket prefix of their
/// own, as hosts sharing only those engines do, and flush recordings in progress every 200 ms.
pub fn on_test_storage(command: &mut Command, data: &Path) {
    for (name, value) in storage_env(data) {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
}

/// The variables `on_test_storage` sets (`Some`) or removes (`None`).
fn storage_env(data: &Path) -> Vec<(&'static str, Option<String>)> {
    type Engines = (PathBuf, Option<String>, Option<String>);
    static MADE: std::sync::Mutex<Vec<Engines>> = std::sync::Mutex::new(Vec::new());
    let from_env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let mut made = MADE.lock().unwrap();
    let (database, recordings) = match made.iter().find(|(dir, _, _)| dir == data) {
        Some((_, database, recordings)) => (database.clone(), recordings.clone()),
        None => {
            let suffix = uuid::Uuid::new_v4().simple().to_string();
            let database = from_env("AUDIO_TEST_DATABASE_URL")
                .map(|admin| create_database_now(&admin, "stack_test"));
            let recordings = from_env("AUDIO_TEST_RECORDINGS_URL")
                .map(|bucket| format!("{}/{suffix}", bucket.trim_end_matches('/')));
            made.push((data.to_owned(), database.clone(), recordings.clone()));
            (database, recordings)
        }
    };
    // `None` removes the variable: the embedded defaults, whatever the developer's environment
    // says.
    let segments = recordings.as_ref().map(|_| "200".to_owned());
    vec![
        ("AUDIO_DATABASE_URL", database),
        ("AUDIO_RECORDINGS_URL", recordings),
        ("AUDIO_SEGMENT_INTERVAL_MS", segments),
    ]
}

/// `postgres::create_database` from synchronous code (on a thread with a runtime of its own,
/// so it may be called from a test's runtime).
fn create_database_now(admin: &str, prefix: &str) -> String {
    let (admin, prefix) = (admin.to_owned(), prefix.to_owned());
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(postgres::create_database(&admin, &prefix))
    })
    .join()
    .unwrap()
}

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One of the workspace's binaries as a real process, logging at `FAULTS_LOG` (default warn).
pub fn spawn(name: &str, args: &[String]) -> Proc {
    spawn_with(name, args, &[], None)
}

/// As `spawn`, with more environment and, when `log` is given, its log (stderr, where
/// env_logger writes) kept in that file.
pub fn spawn_with(name: &str, args: &[String], env: &[(&str, &str)], log: Option<&Path>) -> Proc {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::inherit(),
    };
    let mut command = Command::new(binary(name));
    if name == "audio" {
        let data = args
            .iter()
            .position(|arg| arg == "--data-dir")
            .map(|at| PathBuf::from(&args[at + 1]))
            .expect("an audio instance is given its data folder");
        on_test_storage(&mut command, &data);
    }
    let child = command
        .args(args)
        .env_remove("KAFKA_BROKERS")
        .env(
            "RUST_LOG",
            std::env::var("FAULTS_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    Proc(child)
}

/// A registry that evicts quickly and has self-preservation off.
pub fn registry(port: u16) -> Proc {
    spawn(
        "registry",
        &[
            "--port".into(),
            port.to_string(),
            "--self-preservation".into(),
            "false".into(),
            "--eviction-interval-ms".into(),
            "200".into(),
        ],
    )
}

/// The arguments of an audio instance on `port` with its data in `data`.
pub fn audio_args(port: u16, data: &Path) -> Vec<String> {
    vec![
        "--port".into(),
        port.to_string(),
        "--data-dir".into(),
        data.display().to_string(),
    ]
}

/// As `audio_args`, registered with the registry on `registry_port`, renewing every second.
pub fn registered_audio_args(port: u16, data: &Path, registry_port: u16) -> Vec<String> {
    let mut args = audio_args(port, data);
    args.extend([
        "--registry-url".into(),
        format!("http://127.0.0.1:{registry_port}/eureka/"),
        "--registry-renewal-secs".into(),
        "1".into(),
    ]);
    args
}

/// The arguments of a gateway that refreshes its copy of the registry every 200 ms.
pub fn gateway_args(port: u16, registry_port: u16) -> Vec<String> {
    vec![
        "--port".into(),
        port.to_string(),
        "--registry-url".into(),
        format!("http://127.0.0.1:{registry_port}/eureka/"),
        "--discovery-refresh-ms".into(),
        "200".into(),
        "--registry-renewal-secs".into(),
        "1".into(),
    ]
}

/// An audio instance registered with renewals every second.
pub fn audio(port: u16, data: &Path, registry_port: u16) -> Proc {
    spawn("audio", &registered_audio_args(port, data, registry_port))
}

/// A gateway that refreshes its copy of the registry every 200 ms.
pub fn gateway(port: u16, registry_port: u16) -> Proc {
    spawn("gateway", &gateway_args(port, registry_port))
}

/// An audio instance on its own (no registry), once its `/health` answers.
pub async fn audio_alone(port: u16, data: &Path) -> Proc {
    let audio = spawn("audio", &audio_args(port, data));
    until_healthy(port).await;
    audio
}

/// Waits until the service on `port` answers `/health`.
pub async fn until_healthy(port: u16) {
    until(Duration::from_secs(20), "the service up", || async {
        get_json(&format!("http://127.0.0.1:{port}/health"))
            .await
            .is_some()
    })
    .await;
}

pub type Socket = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

/// A recording socket, retried for 20 s while the service (or the gateway's route) comes up.
pub async fn connect(url: &str) -> Socket {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match awc::Client::new()
            .ws(url)
            .max_frame_size(2 << 20)
            .connect()
            .await
        {
            Ok((_, socket)) => return socket,
            Err(err) => {
                assert!(Instant::now() < deadline, "cannot connect to {url}: {err}");
                actix_rt::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Waits until `check` holds, failing after `limit` with `what`.
pub async fn until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A successful JSON answer, or `None`.
pub async fn get_json(url: &str) -> Option<serde_json::Value> {
    let mut response = awc::Client::new()
        .get(url)
        .insert_header(("Accept", "application/json"))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().limit(1 << 20).await.ok()
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// A fresh database, named `<prefix>_<uuid>`, on the PostgreSQL that scripts/test started
/// (`STACK_TEST_POSTGRES_URL`); answers its URL.
pub async fn fresh_database(prefix: &str) -> String {
    let admin = std::env::var("STACK_TEST_POSTGRES_URL").expect(
        "STACK_TEST_POSTGRES_URL must name a running PostgreSQL: run the tests with scripts/test",
    );
    postgres::create_database(&admin, prefix).await
}

/// Waits (20 s at most) until the gateway on `gateway_port` routes to `n` audio instances.
pub async fn until_routed(gateway_port: u16, n: usize) {
    until(
        Duration::from_secs(20),
        "the gateway sees the instances",
        || async {
            get_json(&format!("http://127.0.0.1:{gateway_port}/health"))
                .await
                .is_some_and(|h| {
                    h["upstreams"]["AUDIO-SERVICE"]
                        .as_array()
                        .is_some_and(|a| a.len() == n)
                })
        },
    )
    .await;
}

/// `kill -9` of the audio instance (of those on `ports`, running as `instances`) that holds the
/// one live recording; answers its index.
pub async fn kill_the_holder(ports: &[u16], instances: &mut [Option<Proc>]) -> usize {
    let mut holder = None;
    for (i, port) in ports.iter().enumerate() {
        let health = get_json(&format!("http://127.0.0.1:{port}/health"))
            .await
            .unwrap();
        if health["sessions"]["liveRecordings"] == 1 {
            holder = Some(i);
        }
    }
    let holder = holder.expect("one instance holds the recording");
    let mut victim = instances[holder].take().unwrap();
    victim.0.kill().unwrap();
    victim.0.wait().unwrap();
    holder
}
