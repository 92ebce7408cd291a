//! Abusive clients and hostile conditions against real processes on loopback: readers of
//! downloads that never read, floods of registrations, a data folder that turns read-only, and
//! tokens that must never reach a log. Limits hold, other users are served, nothing accepted is
//! lost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use awc::ws;
use base64::Engine;
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::{
    audio, audio_args, connect, free_port, gateway, gateway_args, get_json, next_json,
    registered_audio_args, registry, rss_kib, spawn, spawn_with, until, until_healthy, Socket,
};

async fn send_text(socket: &mut Socket, value: Value) {
    socket
        .send(ws::Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// Records `chunks` over `url` and answers the `completed` message.
async fn record(url: &str, meta_id: &str, chunks: &[Vec<u8>]) -> Value {
    let mut socket = connect(url).await;
    send_text(
        &mut socket,
        json!({"action": "record-start", "metaId": meta_id}),
    )
    .await;
    assert_eq!(next_json(&mut socket).await["type"], "started");
    for chunk in chunks {
        socket
            .send(ws::Message::Binary(chunk.clone().into()))
            .await
            .unwrap();
        let ack = next_json(&mut socket).await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    send_text(&mut socket, json!({"action": "record-end"})).await;
    let completed = next_json(&mut socket).await;
    assert_eq!(completed["type"], "completed", "{completed}");
    completed
}

fn chunk(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| ((i * 131 + j * 7) % 251) as u8).collect()
}

/// Reads an HTTP/1.1 response with a `Content-Length` body: `(head, body)`.
async fn read_response(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "response cut short"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a Content-Length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (head, body)
}

#[actix_rt::test]
async fn readers_of_downloads_that_never_read_hold_little_memory_and_others_are_served() {
    let (registry_port, audio_port, gateway_port) = (free_port(), free_port(), free_port());
    let data = tempfile::tempdir().unwrap();
    let _registry = registry(registry_port);
    let audio_proc = audio(audio_port, data.path(), registry_port);
    let gateway_proc = gateway(gateway_port, registry_port);
    let gateway_http = format!("http://127.0.0.1:{gateway_port}");
    until(Duration::from_secs(30), "the gateway routes", || async {
        get_json(&format!("{gateway_http}/api/files"))
            .await
            .is_some()
    })
    .await;

    // A 32 MB recording.
    let chunks: Vec<Vec<u8>> = (0..32).map(|i| chunk(i, 1_000_000)).collect();
    let recorded = chunks.concat();
    let completed = record(
        &format!("ws://127.0.0.1:{audio_port}/ws/record"),
        "big",
        &chunks,
    )
    .await;
    let name = completed["fileName"].as_str().unwrap().to_owned();
    let pids = [audio_proc.0.id(), gateway_proc.0.id()];
    let before: Vec<u64> = pids.iter().map(|pid| rss_kib(*pid)).collect();

    // 300 readers ask for it, through the gateway and straight from the audio service, and
    // read nothing. Buffered, that would be 9.6 GB.
    let mut readers = Vec::new();
    for i in 0..300 {
        let port = if i % 3 == 0 { audio_port } else { gateway_port };
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let request =
            format!("GET /api/download/{name} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        readers.push(stream);
    }
    actix_rt::time::sleep(Duration::from_secs(3)).await;

    // Others are served meanwhile: the list answers, and a recording goes through the gateway.
    let asked = Instant::now();
    let list = get_json(&format!("{gateway_http}/api/recordings"))
        .await
        .expect("the list answers");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "the list took {:?}",
        asked.elapsed()
    );
    assert!(list["total"].as_u64().unwrap() >= 1, "{list}");
    let small: Vec<Vec<u8>> = (0..5).map(|i| chunk(i, 5000)).collect();
    let other = record(
        &format!("ws://127.0.0.1:{gateway_port}/ws/record"),
        "other-user",
        &small,
    )
    .await;
    assert_eq!(other["bytes"].as_u64(), Some(25_000));

    let after: Vec<u64> = pids.iter().map(|pid| rss_kib(*pid)).collect();
    let grown_mib = after
        .iter()
        .sum::<u64>()
        .saturating_sub(before.iter().sum())
        / 1024;
    eprintln!(
        "300 stalled downloads of 32 MB: audio + gateway resident memory grew by {grown_mib} MiB \
         (audio {} MiB, gateway {} MiB)",
        after[0].saturating_sub(before[0]) / 1024,
        after[1].saturating_sub(before[1]) / 1024,
    );
    assert!(
        grown_mib < 200,
        "the services hold {grown_mib} MiB for readers that read nothing"
    );

    // A stalled reader still gets exactly the file when it reads, through the gateway.
    let (head, body) = read_response(&mut readers[1]).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body == recorded, "the download is the recording");
}

#[actix_rt::test]
async fn a_flood_of_registrations_stops_at_the_limit_and_the_registered_are_served() {
    let port = free_port();
    let registry_proc = spawn(
        "registry",
        &[
            "--port".into(),
            port.to_string(),
            "--max-instances".into(),
            "2000".into(),
        ],
    );
    let base = format!("http://127.0.0.1:{port}/eureka");
    until_healthy(port).await;
    let instance = |app: &str, id: &str| {
        json!({"instance": {"instanceId": id, "hostName": "127.0.0.1", "app": app,
            "status": "UP", "port": {"$": 8000, "@enabled": "true"}}})
    };
    let client = awc::Client::new();
    let status = client
        .post(format!("{base}/apps/AUDIO-SERVICE"))
        .send_json(&instance("AUDIO-SERVICE", "real-1"))
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 204);

    // The registered instance renews and a client reads, all through the flood.
    let stop = std::rc::Rc::new(std::cell::Cell::new(false));
    let watcher = {
        let (stop, base) = (stop.clone(), base.clone());
        actix_rt::spawn(async move {
            let client = awc::Client::new();
            let (mut renewals, mut slowest) = (Vec::new(), Duration::ZERO);
            while !stop.get() {
                let renewal = client
                    .put(format!("{base}/apps/AUDIO-SERVICE/real-1"))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                renewals.push(renewal);
                let asked = Instant::now();
                let found = get_json(&format!("{base}/apps/AUDIO-SERVICE")).await;
                slowest = slowest.max(asked.elapsed());
                assert!(found.is_some(), "the registered app can be read");
                actix_rt::time::sleep(Duration::from_millis(50)).await;
            }
            (renewals, slowest)
        })
    };

    // 16 clients send 5,000 registrations of distinct instances and 800 broken bodies.
    let mut floods = Vec::new();
    for client_no in 0..16 {
        let base = base.clone();
        floods.push(actix_rt::spawn(async move {
            let client = awc::Client::new();
            let mut statuses = Vec::new();
            for i in 0..360 {
                let request = client.post(format!("{base}/apps/FLOOD"));
                let response = if i % 7 == 0 {
                    request
                        .insert_header(("Content-Type", "application/json"))
                        .send_body("{\"instance\": [not json")
                        .await
                } else {
                    request
                        .send_json(&instance("FLOOD", &format!("flood-{client_no}-{i}")))
                        .await
                };
                statuses.push(response.map(|r| r.status().as_u16()).unwrap_or(0));
            }
            statuses
        }));
    }
    let mut statuses = Vec::new();
    for flood in floods {
        statuses.extend(flood.await.unwrap());
    }
    stop.set(true);
    let (renewals, slowest) = watcher.await.unwrap();

    let count = |code: u16| statuses.iter().filter(|s| **s == code).count();
    eprintln!(
        "flood of {}: {} accepted, {} refused as full, {} refused as invalid; {} renewals, slowest read {slowest:?}",
        statuses.len(),
        count(204),
        count(503),
        count(400),
        renewals.len()
    );
    assert_eq!(
        count(204),
        1999,
        "the limit (2000, one already taken) holds"
    );
    assert_eq!(count(400), 16 * 52, "every broken body is refused");
    assert_eq!(count(503), statuses.len() - 1999 - 16 * 52);
    assert!(renewals.len() >= 5, "the watcher ran through the flood");
    assert!(
        renewals.iter().all(|s| *s == 200),
        "every renewal went through: {renewals:?}"
    );
    assert!(slowest < Duration::from_secs(2), "a read took {slowest:?}");
    let apps: Value = client
        .get(format!("{base}/apps/FLOOD"))
        .insert_header(("Accept", "application/json"))
        .send()
        .await
        .unwrap()
        .json()
        .limit(16 << 20)
        .await
        .unwrap();
    assert_eq!(
        apps["application"]["instance"].as_array().unwrap().len(),
        1999
    );
    let rss_mib = rss_kib(registry_proc.0.id()) / 1024;
    eprintln!("registry resident memory with 2000 instances: {rss_mib} MiB");
    assert!(rss_mib < 200, "{rss_mib} MiB");
}

/// `audio_outbox_pending` from the service's `/metrics`, or `None` if it cannot be read.
async fn outbox_pending(base: &str) -> Option<u64> {
    let mut response = awc::Client::new()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?;
    let body = response.body().await.ok()?;
    std::str::from_utf8(&body)
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("audio_outbox_pending "))?
        .trim()
        .parse()
        .ok()
}

/// A folder bind-mounted on itself, so that it can be made read-only and writable again.
struct Remountable(PathBuf);

impl Remountable {
    fn new(path: &Path) -> Self {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["--bind"])
            .arg(path)
            .arg(path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "bind-mounting failed: the read-only test needs root"
        );
        Self(path.to_owned())
    }

    /// The kernel refuses a read-only remount ("mount point is busy") while any file under it
    /// is open for writing, so a refusal is tried again for up to 5 s before the test fails.
    fn set_read_only(&self, read_only: bool) {
        let option = if read_only {
            "remount,bind,ro"
        } else {
            "remount,bind,rw"
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let status = Command::new("mount")
                .args(["-o", option])
                .arg(&self.0)
                .status()
                .unwrap();
            if status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mount -o {option} failed for 5 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Remountable {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[actix_rt::test]
async fn a_read_only_data_folder_is_a_clear_error_and_loses_nothing_accepted() {
    let root = tempfile::tempdir().unwrap();
    let data = Remountable::new(&root.path().join("data"));
    let port = free_port();
    // The recording index is a database the service keeps open for writing, which the kernel
    // would not let the remount below pass; here it lives beside the folder, as a PostgreSQL
    // index does in production. The folder holds the recordings.
    let mut args = audio_args(port, &data.0);
    args.push("--database-url".into());
    args.push(format!(
        "sqlite://{}?mode=rwc",
        root.path().join("index.db").display()
    ));
    let _audio = spawn("audio", &args);
    until_healthy(port).await;
    let base = format!("http://127.0.0.1:{port}");
    let ws_url = format!("ws://127.0.0.1:{port}/ws/record");
    // Not WebM: processing marks it `failed` and leaves the bytes as they are, quickly.
    let chunks: Vec<Vec<u8>> = (0..5).map(|i| chunk(i, 6000)).collect();
    let before = record(&ws_url, "before", &chunks).await;
    let name = before["fileName"].as_str().unwrap().to_owned();
    let id = before["recordingId"].as_str().unwrap().to_owned();
    until(Duration::from_secs(20), "processed", || async {
        get_json(&format!("{base}/api/recordings/{id}"))
            .await
            .is_some_and(|meta| meta["status"] == "ready" || meta["status"] == "failed")
    })
    .await;
    // The `processed` event is written to the outbox after the status changes; the folder is
    // quiet only once both events have been delivered and removed.
    until(Duration::from_secs(20), "the outbox empty", || async {
        outbox_pending(&base).await == Some(0)
    })
    .await;
    let processed = std::fs::read(data.0.join("recordings").join(&name)).unwrap();

    // The folder turns read-only (a remount: the kernel refuses it while files are open for
    // writing, so it happens between recordings; a live recording's failing writes are the
    // full-disk test's).
    data.set_read_only(true);
    let mut socket = connect(&ws_url).await;
    send_text(
        &mut socket,
        json!({"action": "record-start", "metaId": "ro"}),
    )
    .await;
    let refused = next_json(&mut socket).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "storage-error", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("Read-only"),
        "the reason is given: {refused}"
    );
    // The socket stays, and the service: it still reads and serves what it holds.
    send_text(&mut socket, json!({"action": "heartbeat"})).await;
    assert_eq!(next_json(&mut socket).await["type"], "heartbeat");
    assert!(get_json(&format!("{base}/health")).await.is_some());
    let meta = get_json(&format!("{base}/api/recordings/{id}"))
        .await
        .expect("metadata readable");
    assert_eq!(meta["fileName"], name.as_str());
    let mut download = awc::Client::new()
        .get(format!("{base}/api/download/{name}"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status().as_u16(), 200);
    assert!(download.body().limit(1 << 20).await.unwrap() == processed);
    // Deleting cannot work: a clear JSON error, and the recording is untouched.
    let mut deleted = awc::Client::new()
        .delete(format!("{base}/api/recordings/{id}"))
        .send()
        .await
        .unwrap();
    let status = deleted.status().as_u16();
    let body: Value = deleted.json().await.unwrap();
    assert!(
        status >= 500 && body["error"].is_string(),
        "{status} {body}"
    );
    assert!(get_json(&format!("{base}/api/recordings/{id}"))
        .await
        .is_some());

    // Writable again: recording works at once, and the earlier one is intact.
    data.set_read_only(false);
    let after = record(&ws_url, "after", &chunks[..2]).await;
    assert_eq!(after["bytes"].as_u64(), Some(12_000));
    let file = data.0.join("recordings").join(&name);
    assert!(std::fs::read(file).unwrap() == processed);
}

#[actix_rt::test]
async fn tokens_never_reach_a_log() {
    let gateway_token = format!("gw-5ecret-{}", uuid::Uuid::new_v4().simple());
    let registry_token = format!("reg-5ecret-{}", uuid::Uuid::new_v4().simple());
    let (registry_port, audio_port, gateway_port) = (free_port(), free_port(), free_port());
    let logs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let log = |name: &str| logs.path().join(format!("{name}.log"));
    let debug = ("RUST_LOG", "debug");
    let _registry = spawn_with(
        "registry",
        &["--port".into(), registry_port.to_string()],
        &[debug, ("REGISTRY_TOKEN", &registry_token)],
        Some(&log("registry")),
    );
    let _audio = spawn_with(
        "audio",
        &registered_audio_args(audio_port, data.path(), registry_port),
        &[debug, ("AUDIO_REGISTRY_TOKEN", &registry_token)],
        Some(&log("audio")),
    );
    let _gateway = spawn_with(
        "gateway",
        &gateway_args(gateway_port, registry_port),
        &[
            debug,
            ("GATEWAY_TOKEN", &gateway_token),
            ("GATEWAY_REGISTRY_TOKEN", &registry_token),
        ],
        Some(&log("gateway")),
    );
    let gateway_http = format!("http://127.0.0.1:{gateway_port}");
    let client = awc::Client::new();
    let status_of = |request: awc::ClientRequest| async move {
        request
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let bearer = format!("Bearer {gateway_token}");
    until(Duration::from_secs(30), "the gateway routes", || {
        let request = client
            .get(format!("{gateway_http}/api/files"))
            .insert_header(("Authorization", bearer.as_str()));
        async move { status_of(request).await == 200 }
    })
    .await;

    // The token in each form, right and wrong.
    let list = format!("{gateway_http}/api/recordings");
    let cases = [
        (
            client
                .get(&list)
                .insert_header(("Authorization", bearer.as_str())),
            200,
        ),
        (
            client.get(format!("{list}?access_token={gateway_token}")),
            200,
        ),
        (
            client
                .get(&list)
                .insert_header(("Cookie", format!("gateway_token={gateway_token}"))),
            200,
        ),
        (
            client
                .get(&list)
                .insert_header(("Authorization", format!("Bearer {gateway_token}x"))),
            401,
        ),
        (
            client.get(format!("{list}?access_token=x{gateway_token}")),
            401,
        ),
        (client.get(&list), 401),
    ];
    for (request, expected) in cases {
        assert_eq!(status_of(request).await, expected);
    }
    // A recording through the gateway, the token in the query as a browser sends it.
    let chunks: Vec<Vec<u8>> = (0..3).map(|i| chunk(i, 3000)).collect();
    record(
        &format!("ws://127.0.0.1:{gateway_port}/ws/record?access_token={gateway_token}"),
        "secret-test",
        &chunks,
    )
    .await;
    // The registry: a write with a wrong token, reads with the right one in each form.
    let registry_base = format!("http://127.0.0.1:{registry_port}/eureka");
    let wrong = client
        .post(format!("{registry_base}/apps/INTRUDER"))
        .insert_header(("Authorization", format!("Bearer x{registry_token}")))
        .send_json(&json!({"instance": {"instanceId": "i", "hostName": "h", "app": "INTRUDER"}}))
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("eureka:{registry_token}"));
    for (name, value) in [
        ("Authorization", format!("Basic {basic}")),
        ("X-Registry-Token", registry_token.clone()),
    ] {
        let request = client
            .get(format!("{registry_base}/apps/AUDIO-SERVICE"))
            .insert_header((name, value));
        assert_eq!(status_of(request).await, 200);
    }
    // Let renewals with the token happen too, then stop everyone.
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    drop((_gateway, _audio, _registry));

    // On the S3 run, the store's secret key is one more secret the audio instance holds.
    let mut secrets = vec![gateway_token.clone(), registry_token.clone(), basic.clone()];
    secrets.extend(
        std::env::var("AWS_SECRET_ACCESS_KEY")
            .ok()
            .filter(|_| std::env::var_os("AUDIO_TEST_RECORDINGS_URL").is_some()),
    );
    let mut seen_lines = 0;
    for name in ["registry", "audio", "gateway"] {
        let text = std::fs::read_to_string(log(name)).unwrap();
        seen_lines += text.lines().count();
        for secret in &secrets {
            let leaked: Vec<&str> = text
                .lines()
                .filter(|l| l.contains(secret.as_str()))
                .collect();
            assert!(leaked.is_empty(), "{name} logged a token: {leaked:?}");
        }
    }
    // The logs are there and record the requests (debug level), so their silence means something.
    let audio_log = std::fs::read_to_string(log("audio")).unwrap();
    assert!(
        audio_log.contains("/api/recordings"),
        "the audio log has the requests"
    );
    assert!(audio_log.contains("/ws/record"), "and the recording");
    let gateway_log = std::fs::read_to_string(log("gateway")).unwrap();
    assert!(
        gateway_log.contains("websocket /ws/record"),
        "{gateway_log}"
    );
    eprintln!("{seen_lines} log lines at debug level, no token among them");
}

#[test]
fn a_wrong_database_url_stops_the_start_with_one_clear_line() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    for (url, reason) in [
        (
            format!("postgres://audio:pa55word@127.0.0.1:{}/audio", free_port()),
            "Connection refused",
        ),
        ("mysqlx://somewhere/audio".to_owned(), "no driver"),
    ] {
        let out = Command::new(common::binary("audio"))
            .args(audio_args(port, data.path()))
            .args(["--database-url", &url])
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(
            lines[0].starts_with("audio: cannot start: cannot connect to the recording index"),
            "{stderr}"
        );
        assert!(lines[0].contains(reason), "{stderr}");
        assert!(
            !stderr.contains("pa55word"),
            "the password was printed: {stderr}"
        );
    }
}

#[actix_rt::test]
async fn instances_starting_together_on_one_fresh_folder_all_come_up() {
    // They race to create and migrate the same embedded index.
    let data = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
    let _instances: Vec<_> = ports
        .iter()
        .map(|port| spawn("audio", &audio_args(*port, data.path())))
        .collect();
    for port in &ports {
        until_healthy(*port).await;
    }
}

/// Users' tokens (JWTs), the secrets that sign them and the identities the gateway vouches for
/// never reach a log, at debug level, whatever form they come in and whether or not they are
/// accepted.
#[actix_rt::test]
async fn users_tokens_and_vouched_identities_never_reach_a_log() {
    let jwt_secret = format!("jwt-5ecret-{}", uuid::Uuid::new_v4().simple());
    let identity_secret = format!("id-5ecret-{}", uuid::Uuid::new_v4().simple());
    let (registry_port, audio_port, gateway_port) = (free_port(), free_port(), free_port());
    let logs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let log = |name: &str| logs.path().join(format!("{name}.log"));
    let debug = ("RUST_LOG", "debug");
    let _registry = spawn_with(
        "registry",
        &["--port".into(), registry_port.to_string()],
        &[debug],
        Some(&log("registry")),
    );
    let _audio = spawn_with(
        "audio",
        &registered_audio_args(audio_port, data.path(), registry_port),
        &[debug, ("AUDIO_IDENTITY_SECRET", &identity_secret)],
        Some(&log("audio")),
    );
    let _gateway = spawn_with(
        "gateway",
        &gateway_args(gateway_port, registry_port),
        &[
            debug,
            ("GATEWAY_JWT_SECRET", &jwt_secret),
            ("GATEWAY_IDENTITY_SECRET", &identity_secret),
        ],
        Some(&log("gateway")),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = |claims: Value, secret: &str| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let good = sign(json!({"sub": "kim", "exp": now + 600}), &jwt_secret);
    let expired = sign(json!({"sub": "kim", "exp": now - 600}), &jwt_secret);
    let forged = sign(json!({"sub": "kim", "exp": now + 600}), "guessed");
    let gateway_http = format!("http://127.0.0.1:{gateway_port}");
    let client = awc::Client::new();
    let status_of = |request: awc::ClientRequest| async move {
        request
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let bearer = |token: &str| format!("Bearer {token}");
    until(Duration::from_secs(30), "the gateway routes", || {
        let request = client
            .get(format!("{gateway_http}/api/files"))
            .insert_header(("Authorization", bearer(&good)));
        async move { status_of(request).await == 200 }
    })
    .await;
    let list = format!("{gateway_http}/api/recordings");
    let cases = [
        (
            client
                .get(&list)
                .insert_header(("Authorization", bearer(&good))),
            200,
        ),
        (
            client
                .get(&list)
                .insert_header(("Cookie", format!("gateway_token={good}"))),
            200,
        ),
        // A query token on a plain call is refused, and not logged either.
        (client.get(format!("{list}?access_token={good}")), 401),
        (
            client
                .get(&list)
                .insert_header(("Authorization", bearer(&expired))),
            401,
        ),
        (
            client
                .get(&list)
                .insert_header(("Authorization", bearer(&forged))),
            401,
        ),
        (client.get(&list), 401),
    ];
    for (request, expected) in cases {
        assert_eq!(status_of(request).await, expected);
    }
    // A recording through the gateway with the token in the query, as a browser's socket sends it.
    let chunks: Vec<Vec<u8>> = (0..3).map(|i| chunk(i, 3000)).collect();
    record(
        &format!("ws://127.0.0.1:{gateway_port}/ws/record?access_token={good}"),
        "jwt-secret-test",
        &chunks,
    )
    .await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    drop((_gateway, _audio, _registry));

    // Every JWT starts with the base64 of `{"`: none may appear, nor either secret.
    let secrets = [
        good,
        expired,
        forged,
        jwt_secret,
        identity_secret,
        "eyJ".to_owned(),
    ];
    for name in ["registry", "audio", "gateway"] {
        let text = std::fs::read_to_string(log(name)).unwrap();
        for secret in &secrets {
            let leaked: Vec<&str> = text
                .lines()
                .filter(|l| l.contains(secret.as_str()))
                .collect();
            assert!(
                leaked.is_empty(),
                "{name} logged a token or secret: {leaked:?}"
            );
        }
    }
    // The logs record the requests (debug level), so their silence means something.
    let gateway_log = std::fs::read_to_string(log("gateway")).unwrap();
    assert!(gateway_log.contains("refused:"), "{gateway_log}");
    assert!(
        gateway_log.contains("websocket /ws/record"),
        "{gateway_log}"
    );
    let audio_log = std::fs::read_to_string(log("audio")).unwrap();
    assert!(
        audio_log.contains("/api/recordings"),
        "the audio log has the requests"
    );
}
