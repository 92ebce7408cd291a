//! Audio hosts that share only a PostgreSQL index and an S3 bucket: real processes, a real
//! PostgreSQL (the one `scripts/test` starts, `STACK_TEST_POSTGRES_URL`) and a real
//! S3-compatible server (SeaweedFS, started here by `scripts/s3/server`, so a test can take it
//! down). Nothing here skips itself: without those servers it fails, saying why.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

mod common;
use common::{
    audio_args, connect, free_port, gateway, get_json, registered_audio_args, registry, spawn_with,
    until, until_healthy, Proc, Socket,
};

/// An S3-compatible server of this test's own, on free loopback ports.
struct S3 {
    port: u16,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl S3 {
    fn start() -> Self {
        let (port, dir) = (free_port(), tempfile::tempdir().unwrap());
        let mut s3 = Self {
            port,
            dir,
            env: Vec::new(),
        };
        s3.env = s3.script("start");
        s3.script_with(&["bucket", "--name", "recordings"]);
        s3
    }

    fn script(&self, command: &str) -> Vec<(String, String)> {
        self.script_with(&[command])
    }

    fn script_with(&self, args: &[&str]) -> Vec<(String, String)> {
        let out = Command::new("bash")
            .arg(common::root().join("scripts/s3/server"))
            .args(args)
            .args(["--port", &self.port.to_string(), "--dir"])
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/s3/server {args:?} failed (it builds SeaweedFS with Go when needed): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The variables an audio instance needs to use `bucket/prefix` here.
    fn audio_env(&self, database: &str, prefix: &str) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.push(("AUDIO_DATABASE_URL".into(), database.to_owned()));
        env.push((
            "AUDIO_RECORDINGS_URL".into(),
            format!("s3://recordings/{prefix}"),
        ));
        env
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.script("stop");
    }
}

fn audio_with(args: Vec<String>, env: &[(String, String)]) -> Proc {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_with("audio", &args, &env, None)
}

/// The next JSON frame.
async fn next(socket: &mut Socket) -> Value {
    loop {
        match actix_rt::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a frame within 20 s")
            .expect("the socket open")
            .unwrap()
        {
            ws::Frame::Text(text) => return serde_json::from_slice(&text).unwrap(),
            ws::Frame::Ping(p) => socket.send(ws::Message::Pong(p)).await.unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn chunk(seed: usize, i: usize) -> Vec<u8> {
    (0..3000)
        .map(|j| ((seed * 131 + i * 7919 + j * 31) % 256) as u8)
        .collect()
}

/// Sends the chunks `seqs` of `seed`, each acknowledged with its seq before the next.
async fn send_chunks(socket: &mut Socket, seed: usize, seqs: std::ops::Range<usize>) {
    for i in seqs {
        socket
            .send(ws::Message::Binary(chunk(seed, i).into()))
            .await
            .unwrap();
        assert_eq!(next(socket).await["seq"], i);
    }
}

async fn send_end(socket: &mut Socket) {
    socket
        .send(ws::Message::Text(r#"{"action":"record-end"}"#.into()))
        .await
        .unwrap();
}

/// Records `chunks` chunks at `url` and ends; answers the `completed` frame.
async fn record(url: &str, meta_id: &str, seed: usize, chunks: usize) -> Value {
    let mut socket = connect(url).await;
    let start = json!({"action": "record-start", "metaId": meta_id});
    socket
        .send(ws::Message::Text(start.to_string().into()))
        .await
        .unwrap();
    assert_eq!(next(&mut socket).await["type"], "started");
    send_chunks(&mut socket, seed, 0..chunks).await;
    send_end(&mut socket).await;
    let completed = next(&mut socket).await;
    assert_eq!(completed["type"], "completed", "{completed}");
    completed
}

async fn download(base: &str, name: &str) -> (u16, Vec<u8>) {
    let mut response = awc::Client::new()
        .get(format!("{base}/api/download/{name}"))
        .send()
        .await
        .unwrap();
    let body = response.body().limit(64 << 20).await.unwrap().to_vec();
    (response.status().as_u16(), body)
}

async fn status(base: &str, id: &str) -> String {
    get_json(&format!("{base}/api/recordings/{id}"))
        .await
        .map(|meta| meta["status"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

/// Post-processing has run: the chunks here are not WebM, so it ends `failed` and leaves the
/// file exactly as uploaded.
async fn until_processed(base: &str, id: &str) {
    until(Duration::from_secs(30), "post-processed", || async {
        status(base, id).await == "failed"
    })
    .await;
}

#[actix_rt::test]
async fn two_hosts_sharing_only_postgres_and_a_bucket_list_and_serve_each_others_recordings() {
    let s3 = S3::start();
    let database = common::fresh_database("shared").await;
    let env = s3.audio_env(&database, "two-hosts");
    let (registry_port, gateway_port) = (free_port(), free_port());
    let audio_ports = [free_port(), free_port()];
    // Separate data folders: only PostgreSQL and the bucket are shared.
    let folders = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let _registry = registry(registry_port);
    let _instances: Vec<Proc> = (0..2)
        .map(|i| {
            audio_with(
                registered_audio_args(audio_ports[i], folders[i].path(), registry_port),
                &env,
            )
        })
        .collect();
    let _gateway = gateway(gateway_port, registry_port);
    for port in audio_ports {
        until_healthy(port).await;
    }

    // One recording made on each host, straight at it.
    let mut made = Vec::new();
    for (i, port) in audio_ports.iter().enumerate() {
        let completed = record(&format!("ws://127.0.0.1:{port}/ws/record"), "shared", i, 6).await;
        let sent: Vec<u8> = (0..6).flat_map(|c| chunk(i, c)).collect();
        until_processed(
            &format!("http://127.0.0.1:{port}"),
            completed["recordingId"].as_str().unwrap(),
        )
        .await;
        made.push((completed["fileName"].as_str().unwrap().to_owned(), sent));
    }
    // Same metaId, maybe the same second: the index gave them different names.
    assert_ne!(made[0].0, made[1].0);

    // Each host lists and serves both; so does the gateway.
    let gateway_base = format!("http://127.0.0.1:{gateway_port}");
    until(Duration::from_secs(20), "gateway routes", || async {
        get_json(&format!("{gateway_base}/api/files"))
            .await
            .is_some()
    })
    .await;
    let bases: Vec<String> = audio_ports
        .iter()
        .map(|port| format!("http://127.0.0.1:{port}"))
        .chain([gateway_base])
        .collect();
    for base in &bases {
        let files = get_json(&format!("{base}/api/files")).await.unwrap();
        for (name, sent) in &made {
            assert!(
                files.as_array().unwrap().iter().any(|f| f == name),
                "{base} lists {name}: {files}"
            );
            let (code, body) = download(base, name).await;
            assert_eq!(code, 200, "{base} serves {name}");
            assert!(&body == sent, "{base} serves {name} other than as sent");
        }
    }
    // Nothing in either data folder but work in progress (and nothing is in progress).
    for folder in &folders {
        assert!(!folder.path().join("recordings").exists());
        assert_eq!(
            std::fs::read_dir(folder.path().join("partial"))
                .unwrap()
                .count(),
            0
        );
    }
}

#[actix_rt::test]
async fn with_the_object_store_down_recordings_wait_as_storing_and_are_stored_when_it_returns() {
    let s3 = S3::start();
    let database = common::fresh_database("shared").await;
    let env = s3.audio_env(&database, "outage");
    let (port, data) = (free_port(), tempfile::tempdir().unwrap());
    let mut args = audio_args(port, data.path());
    // The sweep, which stores what waits, runs every second.
    args.extend(["--resume-grace-ms".into(), "4000".into()]);
    let _audio = audio_with(args, &env);
    until_healthy(port).await;
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("ws://127.0.0.1:{port}/ws/record");

    // A recording in progress when the store goes away.
    let mut socket = connect(&url).await;
    let start = json!({"action": "record-start", "metaId": "outage"});
    socket
        .send(ws::Message::Text(start.to_string().into()))
        .await
        .unwrap();
    let started = next(&mut socket).await;
    let id = started["recordingId"].as_str().unwrap().to_owned();
    send_chunks(&mut socket, 9, 0..5).await;
    s3.script("kill");
    let down_since = std::time::Instant::now();

    // Chunks are still acknowledged (they go to this host's disk), the end too.
    send_chunks(&mut socket, 9, 5..10).await;
    send_end(&mut socket).await;
    let completed = next(&mut socket).await;
    assert_eq!(completed["type"], "completed", "{completed}");
    assert_eq!(completed["bytes"], 10 * 3000);
    let name = completed["fileName"].as_str().unwrap().to_owned();

    // A visible status, clear answers, and the service up, for as long as the store is down.
    assert_eq!(status(&base, &id).await, "storing");
    let (code, body) = download(&base, &name).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (code, body["error"].as_str()),
        (503, Some("store-unreachable"))
    );
    let audio = awc::Client::new()
        .get(format!("{base}/api/recordings/{id}/audio"))
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status().as_u16(), 409);
    // Another recording made meanwhile waits too.
    let second = record(&url, "outage-2", 10, 3).await;
    let second_id = second["recordingId"].as_str().unwrap().to_owned();
    assert_eq!(status(&base, &second_id).await, "storing");
    // The store is down 30 s in all; the service answers all along.
    while down_since.elapsed() < Duration::from_secs(30) {
        assert!(get_json(&format!("{base}/health")).await.is_some());
        assert_eq!(status(&base, &id).await, "storing");
        actix_rt::time::sleep(Duration::from_secs(1)).await;
    }

    // Back (same folder, same ports): both are stored, their events delivered (post-processing
    // runs on them), every acknowledged byte there.
    s3.script("start");
    for (id, seed, chunks) in [(&id, 9, 10), (&second_id, 10, 3)] {
        until_processed(&base, id).await;
        let name = get_json(&format!("{base}/api/recordings/{id}"))
            .await
            .unwrap()["fileName"]
            .as_str()
            .unwrap()
            .to_owned();
        let (code, body) = download(&base, &name).await;
        assert_eq!(code, 200);
        let sent: Vec<u8> = (0..chunks).flat_map(|c| chunk(seed, c)).collect();
        assert!(body == sent, "recording {id} stored other than as sent");
    }
    assert_eq!(
        std::fs::read_dir(data.path().join("partial"))
            .unwrap()
            .count(),
        0,
        "nothing left waiting on the host"
    );
}

fn start_refused(data: &Path, env: &[(String, String)]) -> String {
    let out = Command::new(common::binary("audio"))
        .args(audio_args(free_port(), data))
        .env("RUST_LOG", "off")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[actix_rt::test]
async fn a_wrong_bucket_or_recordings_url_stops_the_start_with_one_clear_line() {
    let s3 = S3::start();
    let data = tempfile::tempdir().unwrap();
    for (url, reason) in [
        (
            "s3://no-such-bucket/x",
            "s3://no-such-bucket/x cannot be listed",
        ),
        ("file:///tmp/recordings", "is not an s3:// URL"),
        ("s3:///prefix-only", "names no bucket"),
    ] {
        let mut env = s3.env.clone();
        env.push(("AUDIO_RECORDINGS_URL".into(), url.into()));
        let stderr = start_refused(data.path(), &env);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].starts_with("audio: cannot start: "), "{stderr}");
        assert!(lines[0].contains(reason), "{url}: {stderr}");
        assert!(
            !stderr.contains("audio-test-secret"),
            "the secret key was printed: {stderr}"
        );
    }
}

/// Sends `record-resume` on a fresh socket through `url` until the recording is no longer
/// held by its lost host (its lease runs out); answers the `resumed` frame.
async fn resume_when_free(url: &str, id: &str, token: &str) -> (Socket, Value) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut socket = connect(url).await;
        let resume = json!({"action": "record-resume", "recordingId": id, "resumeToken": token});
        socket
            .send(ws::Message::Text(resume.to_string().into()))
            .await
            .unwrap();
        let answer = next(&mut socket).await;
        if answer["type"] == "resumed" {
            return (socket, answer);
        }
        assert_eq!(answer["code"], "recording-busy", "{answer}");
        assert!(
            std::time::Instant::now() < deadline,
            "still busy after 30 s: {answer}"
        );
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
}

#[actix_rt::test]
async fn a_host_killed_mid_recording_is_resumed_on_another_from_the_shared_store() {
    let s3 = S3::start();
    let database = common::fresh_database("shared").await;
    let env = s3.audio_env(&database, "host-loss");
    let (registry_port, gateway_port) = (free_port(), free_port());
    let audio_ports = [free_port(), free_port()];
    let folders = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let _registry = registry(registry_port);
    let mut instances: Vec<Option<Proc>> = (0..2)
        .map(|i| {
            let mut args = registered_audio_args(audio_ports[i], folders[i].path(), registry_port);
            // Segments every 300 ms: a lost host's lease runs out after 900 ms.
            args.extend(["--segment-interval-ms".into(), "300".into()]);
            Some(audio_with(args, &env))
        })
        .collect();
    let _gateway = gateway(gateway_port, registry_port);
    common::until_routed(gateway_port, 2).await;

    let url = format!("ws://127.0.0.1:{gateway_port}/ws/record");
    let mut socket = connect(&url).await;
    let start = json!({"action": "record-start", "metaId": "host-loss"});
    socket
        .send(ws::Message::Text(start.to_string().into()))
        .await
        .unwrap();
    let started = next(&mut socket).await;
    let (id, token) = (
        started["recordingId"].as_str().unwrap().to_owned(),
        started["resumeToken"].as_str().unwrap().to_owned(),
    );
    // The client keeps every chunk until the service says it is durable in the store.
    let mut durable = 0u64;
    let note = |frame: &Value, durable: &mut u64| {
        if let Some(chunks) = frame["durable"]["chunks"].as_u64().or(frame["chunks"]
            .as_u64()
            .filter(|_| frame["type"] == "durable"))
        {
            *durable = (*durable).max(chunks);
        }
    };
    for i in 0..8 {
        socket
            .send(ws::Message::Binary(chunk(7, i).into()))
            .await
            .unwrap();
        let ack = loop {
            let frame = next(&mut socket).await;
            note(&frame, &mut durable);
            if frame["type"] == "ack" {
                break frame;
            }
        };
        assert_eq!(ack["seq"], i);
        assert!(
            ack["durable"].is_object(),
            "acks say how far it is durable: {ack}"
        );
    }
    // Some of it reaches the store; then three more chunks, acknowledged but not yet durable.
    while durable < 8 {
        let frame = next(&mut socket).await;
        note(&frame, &mut durable);
    }
    for i in 8..11 {
        socket
            .send(ws::Message::Binary(chunk(7, i).into()))
            .await
            .unwrap();
        loop {
            let frame = next(&mut socket).await;
            note(&frame, &mut durable);
            if frame["type"] == "ack" {
                assert_eq!(frame["seq"], i);
                break;
            }
        }
    }

    // kill -9 the host that holds it. Its data folder is not shared: what it had not flushed
    // is gone with it.
    let owner = common::kill_the_holder(&audio_ports, &mut instances).await;

    // The client resumes through the gateway, on the other host, from the durable point, and
    // resends what it kept.
    let (mut socket, resumed) = resume_when_free(&url, &id, &token).await;
    let next_seq = resumed["nextSeq"].as_u64().unwrap();
    assert!(
        (durable..=11).contains(&next_seq),
        "resumed at {next_seq}, durable was {durable}: {resumed}"
    );
    assert_eq!(resumed["bytes"].as_u64().unwrap(), next_seq * 3000);
    for i in next_seq..20 {
        socket
            .send(ws::Message::Binary(chunk(7, i as usize).into()))
            .await
            .unwrap();
        loop {
            let frame = next(&mut socket).await;
            if frame["type"] == "ack" {
                assert_eq!(frame["seq"], i);
                break;
            }
        }
    }
    send_end(&mut socket).await;
    let completed = loop {
        let frame = next(&mut socket).await;
        if frame["type"] == "completed" {
            break frame;
        }
    };
    assert_eq!(completed["bytes"], 20 * 3000);
    let survivor = format!("http://127.0.0.1:{}", audio_ports[1 - owner]);
    until_processed(&survivor, &id).await;
    let (code, stored) = download(&survivor, completed["fileName"].as_str().unwrap()).await;
    assert_eq!(code, 200);
    let sent: Vec<u8> = (0..20).flat_map(|c| chunk(7, c)).collect();
    assert!(
        stored == sent,
        "the stored file is not every byte the client sent ({} bytes, {} sent)",
        stored.len(),
        sent.len()
    );
}

/// A PostgreSQL server of this test's own (so that it can be restarted), on a free port.
struct Postgres {
    port: u16,
    dir: tempfile::TempDir,
}

impl Postgres {
    fn start() -> Self {
        let postgres = Self {
            port: free_port(),
            dir: tempfile::Builder::new()
                .prefix("audio-test-postgres")
                .tempdir_in("/tmp")
                .unwrap(),
        };
        postgres.script("start");
        postgres
    }

    fn script(&self, command: &str) {
        let out = Command::new("bash")
            .arg(common::root().join("scripts/postgres/server"))
            .args([command, "--port", &self.port.to_string(), "--dir"])
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/postgres/server {command} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.script("stop");
    }
}

/// A recording client of the database-restart test.
struct Streamer {
    socket: Socket,
    id: String,
    seed: usize,
    sent: usize,
}

/// Every streamer sends a chunk and checks its ack, `rounds` times, 100 ms apart.
async fn stream(streamers: &mut [Streamer], rounds: usize) {
    for _ in 0..rounds {
        for s in streamers.iter_mut() {
            s.socket
                .send(ws::Message::Binary(chunk(s.seed, s.sent).into()))
                .await
                .unwrap();
            let ack = next(&mut s.socket).await;
            assert_eq!(ack["type"], "ack", "{ack}");
            assert_eq!(ack["seq"], s.sent);
            s.sent += 1;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn completed(socket: &mut Socket, within: Duration) -> Value {
    loop {
        let frame = actix_rt::time::timeout(within, next(socket))
            .await
            .expect("completed in time");
        if frame["type"] == "completed" {
            return frame;
        }
    }
}

#[actix_rt::test]
async fn the_database_restarted_under_load_loses_no_chunk_no_end_and_no_event() {
    let postgres = Postgres::start();
    let (port, data) = (free_port(), tempfile::tempdir().unwrap());
    let mut args = audio_args(port, data.path());
    args.extend(["--database-url".into(), postgres.url()]);
    let _audio = audio_with(args, &[]);
    until_healthy(port).await;
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("ws://127.0.0.1:{port}/ws/record");

    // Six sessions streaming a chunk every 100 ms.
    let mut streamers = Vec::new();
    for n in 0..6 {
        let mut socket = connect(&url).await;
        let start = json!({"action": "record-start", "metaId": format!("db-restart-{n}")});
        socket
            .send(ws::Message::Text(start.to_string().into()))
            .await
            .unwrap();
        let started = next(&mut socket).await;
        assert_eq!(started["type"], "started", "{started}");
        let id = started["recordingId"].as_str().unwrap().to_owned();
        streamers.push(Streamer {
            socket,
            id,
            seed: 20 + n,
            sent: 0,
        });
    }
    stream(&mut streamers, 10).await;

    // The database goes down (a fast shutdown, as a restart does).
    postgres.script("stop");
    // Chunks are still acknowledged: they never touch the database.
    stream(&mut streamers, 10).await;
    // Two clients end their recordings meanwhile: they wait for `completed`.
    let mut others = streamers.split_off(2);
    let mut ending = streamers;
    for s in &mut ending {
        send_end(&mut s.socket).await;
    }
    // The service answers clearly meanwhile: up, and the list a 503 to try again.
    assert!(get_json(&format!("{base}/health")).await.is_some());
    let mut list = awc::Client::new()
        .get(format!("{base}/api/recordings"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status().as_u16(), 503);
    let body: Value = list.json().await.unwrap();
    assert_eq!(body["error"], "index-unavailable", "{body}");

    // Back a few seconds later.
    actix_rt::time::sleep(Duration::from_secs(3)).await;
    postgres.script("start");

    // The two waiting ends complete with every byte; the others stream on, then end.
    for s in &mut ending {
        let done = completed(&mut s.socket, Duration::from_secs(60)).await;
        assert_eq!(done["bytes"], s.sent as u64 * 3000, "{}", s.id);
    }
    stream(&mut others, 5).await;
    for s in &mut others {
        send_end(&mut s.socket).await;
        let done = completed(&mut s.socket, Duration::from_secs(60)).await;
        assert_eq!(done["bytes"], s.sent as u64 * 3000, "{}", s.id);
    }

    // Every event delivered (post-processing ran on each), every byte stored.
    for s in ending.iter().chain(&others) {
        until_processed(&base, &s.id).await;
        let meta = get_json(&format!("{base}/api/recordings/{}", s.id))
            .await
            .unwrap();
        assert_eq!(meta["endedAs"], "completed", "{meta}");
        let (code, stored) = download(&base, meta["fileName"].as_str().unwrap()).await;
        assert_eq!(code, 200);
        let expected: Vec<u8> = (0..s.sent).flat_map(|c| chunk(s.seed, c)).collect();
        assert!(
            stored == expected,
            "recording {} differs from what was sent",
            s.id
        );
    }
}

#[test]
fn two_hosts_taking_over_one_recording_at_once_one_wins_and_nothing_is_clobbered() {
    use audio::domain::{RecordingId, RecordingMime};
    use audio::storage::segments::{self, Durable};
    use audio::storage::{NewRecording, OpenRecording, RecordingState, Storage, StorageError};

    let s3 = S3::start();
    let database = actix_rt::System::new().block_on(common::fresh_database("shared"));
    // The store reads the standard AWS variables, as the service does. (The other tests here
    // give their processes their own, which take precedence over these.)
    for (key, value) in &s3.env {
        std::env::set_var(key, value);
    }
    let bucket = "s3://recordings/take-over";
    let hosts: Vec<(tempfile::TempDir, Storage)> = (0..3)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let storage = Storage::open(dir.path(), Some(&database), Some(bucket))
                .unwrap()
                .with_segment_interval(Duration::from_millis(200));
            (dir, storage)
        })
        .collect();

    // Host 0 records 3 chunks, makes them durable, and goes away (its lease let go).
    let id = RecordingId::new();
    let new = NewRecording {
        id,
        session_id: "s".into(),
        meta_id: None,
        user_id: None,
        mime: RecordingMime::webm(),
    };
    let mut recording = OpenRecording::create(&hosts[0].1, new, "token").unwrap();
    for i in 0..3 {
        recording.append(None, &chunk(30, i), 1 << 20).unwrap();
    }
    let to = Durable {
        chunks: 3,
        bytes: 9000,
    };
    assert!(segments::flush(&hosts[0].1, id, recording.durable(), to).unwrap());
    segments::release(&hosts[0].1, id).unwrap();
    drop(recording);

    // Hosts 1 and 2 resume it at the same moment: one takes it, the other is told it is busy.
    let barrier = std::sync::Barrier::new(2);
    let results: Vec<Result<OpenRecording, StorageError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = hosts[1..]
            .iter()
            .map(|(_, storage)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    OpenRecording::resume(storage, id, "token", None)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (won, lost): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert_eq!((won.len(), lost.len()), (1, 1));
    assert!(
        matches!(lost[0], Err(StorageError::Busy)),
        "the other host: {:?}",
        lost[0].as_ref().err()
    );
    let mut winner = won.into_iter().next().unwrap().unwrap();
    assert_eq!((winner.next_seq(), winner.bytes()), (3, 9000));
    winner.append(None, &chunk(30, 3), 1 << 20).unwrap();
    let meta = winner
        .finish(RecordingState::Completed, |_| Ok(None))
        .unwrap();

    // Host 0 comes back and tries to finish its stale copy: refused, the stored file intact.
    let late = OpenRecording::resume(&hosts[0].1, id, "token", None);
    assert!(
        matches!(late, Err(StorageError::AlreadyEnded(_))),
        "{:?}",
        late.err()
    );
    let name = audio::domain::FileName::parse(&meta.file_name).unwrap();
    let stored = hosts[2].1.blobs().read(&name).unwrap().unwrap();
    let sent: Vec<u8> = (0..4).flat_map(|i| chunk(30, i)).collect();
    assert!(stored == sent, "the stored file differs from what was sent");
}
