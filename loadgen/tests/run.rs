//! The load generator against a real audio instance: its figures add up, and its end-of-run
//! check catches a stored recording that differs from what was sent.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// An audio instance killed when dropped.
struct Audio {
    child: Child,
    port: u16,
}

impl Drop for Audio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The audio service's binary, beside this package's own (`cargo test --workspace` builds it).
fn audio_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_loadgen")).with_file_name("audio");
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo test --workspace does)",
        path.display()
    );
    path
}

fn start_audio(data: &Path) -> Audio {
    start_audio_with(data, &[])
}

fn start_audio_with(data: &Path, env: &[(&str, &str)]) -> Audio {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(audio_binary())
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(data)
        .env_remove("KAFKA_BROKERS")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let audio = Audio { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !healthy(port) {
        assert!(
            Instant::now() < deadline,
            "the audio service did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    audio
}

fn healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut answer = String::new();
    // HTTP/1.0: the service closes the connection after its answer.
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.split_whitespace().nth(1) == Some("200")
}

/// Runs the load generator to its end; its output and its JSON report.
fn loadgen(audio: &Audio, report: &Path, args: &[&str]) -> (Output, Value) {
    loadgen_at(audio.port, report, args)
}

fn loadgen_at(port: u16, report: &Path, args: &[&str]) -> (Output, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("--url")
        .arg(format!("ws://127.0.0.1:{port}/ws/record"))
        .arg("--report")
        .arg(report)
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    (output, json)
}

#[test]
fn every_chunk_is_acked_and_every_recording_checked_byte_for_byte() {
    let data = tempfile::tempdir().unwrap();
    let audio = start_audio(data.path());
    for frames in [None, Some("--json")] {
        let report = data.path().join("report.json");
        let mut args = vec![
            "--sessions",
            "6",
            "--duration-s",
            "2",
            "--ramp-up-s",
            "1",
            "--interval-ms",
            "50",
            "--chunk-bytes",
            "3000",
            "--progress-s",
            "1",
        ];
        args.extend(frames);
        let (output, r) = loadgen(&audio, &report, &args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{frames:?}: {stdout}\n{r}");
        assert_eq!(r["sessions_completed"], 6, "{r}");
        assert_eq!(r["errors"], 0, "{r}");
        assert_eq!(r["chunks_lost"], 0, "{r}");
        assert_eq!(r["chunks_acked"], r["chunks_sent"], "{r}");
        // 2 s at one chunk every 50 ms: about 40 a session.
        let sent = r["chunks_sent"].as_u64().unwrap();
        assert!((6 * 30..=6 * 41).contains(&sent), "{sent} chunks sent: {r}");
        assert_eq!(r["files_verified"], 6, "{r}");
        assert_eq!(r["files_corrupted"], 0, "{r}");
        assert!(r["ack_latency_ms_p99"].as_f64().unwrap() > 0.0, "{r}");
        let cpu = &r["machine_cpu_during_sessions"];
        let shares: f64 = ["user", "system", "idle", "steal"]
            .iter()
            .map(|k| cpu[k].as_f64().unwrap())
            .sum();
        assert!((99.0..=100.0).contains(&shares), "{cpu}");
        assert!(
            cpu["user"].as_f64().unwrap() + cpu["system"].as_f64().unwrap() > 0.0,
            "{cpu}"
        );
        assert!(stdout.contains("lost 0"), "{stdout}");
        // A line a second while the sessions run, the later ones with chunks acked.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let acked: Vec<u64> = stderr
            .lines()
            .filter(|line| line.contains("sessions connected"))
            .filter_map(|line| line.split("; ").nth(1)?.split(' ').next()?.parse().ok())
            .collect();
        assert!(acked.len() >= 2, "progress lines: {stderr}");
        assert!(acked.windows(2).all(|w| w[0] <= w[1]), "{stderr}");
        assert!(*acked.last().unwrap() > 0, "{stderr}");
    }
}

#[test]
fn a_stored_recording_that_differs_from_what_was_sent_is_reported() {
    let data = tempfile::tempdir().unwrap();
    let audio = start_audio(data.path());
    // The first session ends about 3 s before the last, and the check runs after the last: a
    // byte of the first recording is changed on disk in between.
    let recordings = data.path().join("recordings");
    let tamper = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let first = std::fs::read_dir(&recordings)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path())
                .find(|path| path.extension().is_some_and(|ext| ext == "webm"));
            if let Some(path) = first {
                let mut bytes = std::fs::read(&path).unwrap();
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0xff;
                std::fs::write(&path, bytes).unwrap();
                return middle;
            }
            assert!(Instant::now() < deadline, "no recording was stored");
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let report = data.path().join("report.json");
    let (output, r) = loadgen(
        &audio,
        &report,
        &[
            "--sessions",
            "3",
            "--duration-s",
            "1",
            "--ramp-up-s",
            "4",
            "--interval-ms",
            "50",
            "--chunk-bytes",
            "3000",
        ],
    );
    let changed_at = tamper.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a mismatch fails the run: {r}");
    assert_eq!(r["chunks_lost"], 0, "{r}");
    assert_eq!(r["files_verified"], 3, "{r}");
    assert_eq!(r["files_corrupted"], 1, "{r}");
    assert!(
        stderr.contains(&format!("differs at byte {changed_at} ")),
        "the changed byte is named: {stderr}"
    );
}

#[test]
fn sessions_the_server_refuses_are_counted_with_what_it_answered() {
    let data = tempfile::tempdir().unwrap();
    // Room for two sessions: of four started at once, two are refused with 503.
    let audio = start_audio_with(data.path(), &[("AUDIO_MAX_SESSIONS", "2")]);
    let report = data.path().join("report.json");
    let (output, r) = loadgen(
        &audio,
        &report,
        &[
            "--sessions",
            "4",
            "--duration-s",
            "2",
            "--ramp-up-s",
            "0",
            "--interval-ms",
            "100",
            "--progress-s",
            "0",
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "refused sessions fail the run: {r}"
    );
    assert_eq!(r["sessions_completed"], 2, "{r}");
    assert_eq!(r["errors"], 2, "{r}");
    assert_eq!(r["files_verified"], 2, "{r}");
    let kinds = r["errors_by_kind"].as_object().unwrap();
    assert_eq!(kinds.len(), 1, "{r}");
    let (kind, count) = kinds.iter().next().unwrap();
    assert!(
        kind.starts_with("connect: ") && kind.contains("503"),
        "{kind}"
    );
    assert_eq!(count, 2, "{r}");
    assert!(stdout.contains(&format!("error x2: {kind}")), "{stdout}");
}

#[test]
fn sessions_still_running_at_the_bound_are_reported_with_where_they_were() {
    // A server that accepts connections and never answers: every session waits in its
    // upgrade, which the load generator would give 20 s.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let data = tempfile::tempdir().unwrap();
    let report = data.path().join("report.json");
    let started = Instant::now();
    let (output, r) = loadgen_at(
        port,
        &report,
        &[
            "--sessions",
            "3",
            "--duration-s",
            "1",
            "--ramp-up-s",
            "0",
            "--max-total-s",
            "2",
            "--no-verify",
        ],
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the bound held"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{r}");
    assert_eq!(r["sessions_completed"], 0, "{r}");
    assert_eq!(r["errors"], 3, "{r}");
    assert_eq!(
        r["errors_by_kind"]["unfinished at the run's bound, connecting"], 3,
        "{r}"
    );
    assert!(
        stderr.contains("3 sessions still running at the run's bound"),
        "{stderr}"
    );
}
