//! `loadgen`: N concurrent recording sessions against a recording WebSocket (through the
//! gateway, straight to an audio instance, or through any proxy). Each streams chunks at a set
//! size and interval (by default what MediaRecorder sends: about 5 KB every 250 ms), as binary
//! frames or as the original's JSON data-URL frames; every ack is checked, and at the end every
//! stored recording is checked to hold exactly the bytes sent. Prints the figures and writes
//! them as JSON.

use std::sync::Arc;
use std::time::{Duration, Instant};

use awc::ws;
use base64::Engine;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};

mod progress;
mod verify;

use progress::Progress;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "loadgen",
    about = "Concurrent recording sessions, every ack and every file checked"
)]
struct Args {
    /// The recording WebSocket.
    #[arg(long, default_value = "ws://127.0.0.1:5000/ws/record")]
    url: String,
    /// Base URL of the REST API used to verify stored files (default: from --url).
    #[arg(long)]
    http: Option<String>,
    #[arg(long, default_value_t = 100)]
    sessions: usize,
    #[arg(long, default_value_t = 5_000)]
    chunk_bytes: usize,
    /// Pause between a session's chunks; 0 sends as fast as `--in-flight` allows.
    #[arg(long, default_value_t = 250)]
    interval_ms: u64,
    /// At most this many chunks a session has sent and not yet seen acknowledged. With
    /// `--interval-ms 0 --in-flight 1` each session sends its next chunk the moment the last
    /// one is acknowledged: a closed loop, whose chunks/s is what the path can carry.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    in_flight: Option<u64>,
    /// How long each session streams.
    #[arg(long, default_value_t = 30)]
    duration_s: u64,
    /// Sessions start spread over this time.
    #[arg(long, default_value_t = 10)]
    ramp_up_s: u64,
    /// Send the original's JSON frames with data-URL chunks instead of binary frames.
    #[arg(long)]
    json: bool,
    /// Hard bound on the whole run, in seconds (default: ramp-up + duration + 120).
    #[arg(long)]
    max_total_s: Option<u64>,
    /// Threads generating load (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Skip checking the stored files.
    #[arg(long)]
    no_verify: bool,
    /// Print the figures so far on stderr every this many seconds while the sessions run (0:
    /// never).
    #[arg(long, default_value_t = 10)]
    progress_s: u64,
    /// Where to write the report as JSON.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(rename = "type")]
    kind: String,
    seq: Option<u64>,
    #[serde(rename = "recordingId")]
    recording_id: Option<String>,
    bytes: Option<u64>,
}

#[derive(Debug, Default)]
struct SessionResult {
    recording_id: Option<String>,
    sent: u64,
    acked: u64,
    bytes: u64,
    errors: u64,
    completed: bool,
    latencies_us: Vec<u32>,
    /// When each acked chunk was sent, beside its latency: the tail per window of the run.
    sent_at_acked: Vec<Instant>,
}

#[derive(Debug, Serialize)]
struct Report {
    url: String,
    frames: &'static str,
    sessions_requested: usize,
    sessions_connected: usize,
    sessions_completed: usize,
    chunk_bytes: usize,
    interval_ms: u64,
    in_flight: Option<u64>,
    duration_s: u64,
    chunks_sent: u64,
    chunks_acked: u64,
    chunks_lost: u64,
    errors: u64,
    files_verified: usize,
    files_corrupted: usize,
    chunks_per_s: f64,
    megabytes_per_s: f64,
    ack_latency_ms_p50: f64,
    ack_latency_ms_p99: f64,
    ack_latency_ms_max: f64,
    /// p99 ack latency of the chunks sent in each 10 s window from the first session's start
    /// (whether the tail is the ramp-up's, the steady state's or the end's).
    ack_latency_ms_p99_by_10s: Vec<f64>,
    wall_s: f64,
}

type Socket = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

/// A client for one session's socket, with Nagle's algorithm off as a browser has it: a pong
/// followed by a chunk must not wait for the server's delayed ACK.
fn recording_client() -> awc::Client {
    use actix_service::ServiceExt;
    use actix_tls::connect::{Connection, Connector, Resolver};
    let tcp = Connector::new(Resolver::default()).service().map(
        |connection: Connection<awc::http::Uri, actix_rt::net::TcpStream>| {
            let _ = connection.io_ref().set_nodelay(true);
            connection
        },
    );
    awc::Client::builder()
        .connector(awc::Connector::new().connector(tcp))
        .timeout(Duration::from_secs(20))
        .finish()
}

fn payload(session: usize, size: usize) -> Vec<u8> {
    (0..size)
        .map(|j| ((session * 31 + j) % 251) as u8)
        .collect()
}

async fn run_session(
    index: usize,
    args: Arc<Args>,
    start_at: Instant,
    progress: Arc<Progress>,
) -> SessionResult {
    let result = stream_session(index, &args, start_at, &progress).await;
    progress.finished(result.errors);
    result
}

async fn stream_session(
    index: usize,
    args: &Args,
    start_at: Instant,
    progress: &Progress,
) -> SessionResult {
    let mut result = SessionResult::default();
    let delay = if args.sessions > 1 {
        Duration::from_secs(args.ramp_up_s).mul_f64(index as f64 / args.sessions as f64)
    } else {
        Duration::ZERO
    };
    actix_rt::time::sleep_until((start_at + delay).into()).await;
    let mut socket: Socket = match recording_client()
        .ws(&args.url)
        .max_frame_size(1 << 20)
        .connect()
        .await
    {
        Ok((_, socket)) => socket,
        Err(_) => {
            result.errors += 1;
            return result;
        }
    };
    let start = format!(r#"{{"action":"record-start","metaId":"load-{index}"}}"#);
    if socket.send(ws::Message::Text(start.into())).await.is_err() {
        result.errors += 1;
        return result;
    }
    match next_reply(&mut socket, Duration::from_secs(20)).await {
        Some(reply) if reply.kind == "started" => {
            result.recording_id = reply.recording_id;
            progress.connected();
        }
        _ => {
            result.errors += 1;
            return result;
        }
    }
    let chunk = payload(index, args.chunk_bytes);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&chunk);
    let bytes_chunk = bytes::Bytes::from(chunk);
    let mut sent_at: Vec<Instant> = Vec::new();
    let mut ticker = (args.interval_ms > 0).then(|| {
        let mut ticker = actix_rt::time::interval(Duration::from_millis(args.interval_ms));
        if args.in_flight.is_some() {
            // A tick missed while the window was full is not made up for with a burst.
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        ticker
    });
    let in_flight = args.in_flight.unwrap_or(u64::MAX);
    let stop_sending = Instant::now() + Duration::from_secs(args.duration_s);
    loop {
        let window_open = (sent_at.len() as u64).saturating_sub(result.acked) < in_flight;
        let next_tick = async {
            if let Some(ticker) = ticker.as_mut() {
                ticker.tick().await;
            }
        };
        tokio::select! {
            _ = next_tick, if window_open => {
                if Instant::now() >= stop_sending {
                    break;
                }
                let seq = sent_at.len() as u64;
                let message = if args.json {
                    ws::Message::Text(format!(r#"{{"action":"record-idle","seq":{seq},"chunk":"data:audio/webm;base64,{encoded}"}}"#).into())
                } else {
                    ws::Message::Binary(bytes_chunk.clone())
                };
                sent_at.push(Instant::now());
                if socket.send(message).await.is_err() {
                    result.errors += 1;
                    break;
                }
            }
            frame = socket.next() => {
                if !handle_frame(frame, &mut socket, &sent_at, &mut result, progress).await {
                    break;
                }
            }
        }
    }
    result.sent = sent_at.len() as u64;
    // Wait for the acks still on their way.
    let drain_until = Instant::now() + Duration::from_secs(15);
    while result.acked < result.sent && Instant::now() < drain_until {
        match actix_rt::time::timeout(drain_until - Instant::now(), socket.next()).await {
            Ok(frame) => {
                if !handle_frame(frame, &mut socket, &sent_at, &mut result, progress).await {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    if socket
        .send(ws::Message::Text(r#"{"action":"record-end"}"#.into()))
        .await
        .is_ok()
    {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(reply) = next_reply(
            &mut socket,
            deadline.saturating_duration_since(Instant::now()),
        )
        .await
        {
            if reply.kind == "completed" {
                result.completed = true;
                result.bytes = reply.bytes.unwrap_or(0);
                break;
            }
        }
    }
    let _ = socket.close().await;
    result
}

/// Handles one incoming frame; false when the socket is gone.
async fn handle_frame(
    frame: Option<Result<ws::Frame, awc::error::WsProtocolError>>,
    socket: &mut Socket,
    sent_at: &[Instant],
    result: &mut SessionResult,
    progress: &Progress,
) -> bool {
    match frame {
        Some(Ok(ws::Frame::Text(text))) => {
            match serde_json::from_slice::<Reply>(&text) {
                Ok(reply) if reply.kind == "ack" => {
                    if let Some(at) = reply.seq.and_then(|seq| sent_at.get(seq as usize)) {
                        let latency_us = at.elapsed().as_micros().min(u32::MAX as u128) as u32;
                        result.latencies_us.push(latency_us);
                        progress.acked(latency_us);
                        result.sent_at_acked.push(*at);
                        result.acked += 1;
                    }
                }
                _ => result.errors += 1,
            }
            true
        }
        Some(Ok(ws::Frame::Ping(payload))) => socket.send(ws::Message::Pong(payload)).await.is_ok(),
        Some(Ok(ws::Frame::Close(_))) | None | Some(Err(_)) => {
            result.errors += 1;
            false
        }
        Some(Ok(_)) => true,
    }
}

async fn next_reply(socket: &mut Socket, limit: Duration) -> Option<Reply> {
    let deadline = Instant::now() + limit;
    loop {
        let frame = actix_rt::time::timeout(
            deadline.saturating_duration_since(Instant::now()),
            socket.next(),
        )
        .await
        .ok()??;
        match frame.ok()? {
            ws::Frame::Text(text) => return serde_json::from_slice(&text).ok(),
            ws::Frame::Ping(payload) => socket.send(ws::Message::Pong(payload)).await.ok()?,
            ws::Frame::Close(_) => return None,
            _ => {}
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

fn main() {
    let args = Args::parse();
    if args.interval_ms == 0 && args.in_flight.is_none() {
        clap::Error::raw(
            clap::error::ErrorKind::ArgumentConflict,
            "--interval-ms 0 needs --in-flight: without a window the sessions would only flood\n",
        )
        .exit();
    }
    let args = Arc::new(args);
    let report_file = args.report.clone();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let max_total = Duration::from_secs(
        args.max_total_s
            .unwrap_or(args.ramp_up_s + args.duration_s + 120),
    );
    let system = actix_rt::System::new();
    let report = system.block_on(async move {
        let arbiters: Vec<actix_rt::Arbiter> =
            (0..threads).map(|_| actix_rt::Arbiter::new()).collect();
        let started = Instant::now();
        let start_at = started + Duration::from_millis(200);
        let progress = Arc::new(Progress::default());
        let mut receivers = Vec::new();
        for index in 0..args.sessions {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let (args, progress) = (args.clone(), progress.clone());
            // The session's future is not Send (awc); it is created on the arbiter's thread.
            arbiters[index % threads].spawn_fn(move || {
                actix_rt::spawn(async move {
                    let _ = tx.send(run_session(index, args, start_at, progress).await);
                });
            });
            receivers.push(rx);
        }
        let reporter = (args.progress_s > 0).then(|| {
            let (every, sessions) = (Duration::from_secs(args.progress_s), args.sessions);
            actix_rt::spawn(async move {
                let mut ticks = actix_rt::time::interval_at((started + every).into(), every);
                loop {
                    ticks.tick().await;
                    eprintln!("{}", progress.line(started.elapsed(), sessions));
                }
            })
        });
        let results: Vec<SessionResult> =
            match actix_rt::time::timeout(max_total, futures_util::future::join_all(receivers))
                .await
            {
                Ok(results) => results.into_iter().map(|r| r.unwrap_or_default()).collect(),
                Err(_) => {
                    eprintln!(
                    "loadgen: the run passed its bound of {max_total:?}; reporting what finished"
                );
                    Vec::new()
                }
            };
        let wall = started.elapsed();
        if let Some(reporter) = reporter {
            reporter.abort();
        }
        for arbiter in arbiters {
            arbiter.stop();
        }

        let verify_base = args.http.clone().unwrap_or_else(|| {
            let http = args
                .url
                .replacen("ws://", "http://", 1)
                .replacen("wss://", "https://", 1);
            http.split("/ws/").next().unwrap_or(&http).to_owned()
        });
        let mut corrupted = 0;
        let mut verified = 0;
        if !args.no_verify {
            let client = awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .finish();
            // Results are in session order (`join_all`), so the index gives each its payload.
            let checks: Vec<verify::Expected> = results
                .iter()
                .enumerate()
                .filter(|(_, r)| r.completed)
                .filter_map(|(index, r)| {
                    Some(verify::Expected {
                        recording_id: r.recording_id.as_deref()?,
                        chunk: payload(index, args.chunk_bytes),
                        chunks: r.sent,
                    })
                })
                .collect();
            let mismatches: Vec<Option<verify::Mismatch>> = futures_util::stream::iter(&checks)
                .map(|expected| verify::check(&client, &verify_base, expected))
                .buffer_unordered(16)
                .collect()
                .await;
            verified = mismatches.len();
            let bad: Vec<verify::Mismatch> = mismatches.into_iter().flatten().collect();
            corrupted = bad.len();
            for mismatch in bad.iter().take(5) {
                eprintln!("loadgen: stored recording does not match what was sent: {mismatch}");
            }
        }

        let mut latencies: Vec<u32> = results
            .iter()
            .flat_map(|r| r.latencies_us.iter().copied())
            .collect();
        latencies.sort_unstable();
        let mut windows: Vec<Vec<u32>> = Vec::new();
        for result in &results {
            for (at, latency) in result.sent_at_acked.iter().zip(&result.latencies_us) {
                let window = (at.saturating_duration_since(start_at).as_secs() / 10) as usize;
                if windows.len() <= window {
                    windows.resize(window + 1, Vec::new());
                }
                windows[window].push(*latency);
            }
        }
        let by_window = windows
            .iter_mut()
            .map(|window| {
                window.sort_unstable();
                percentile(window, 0.99)
            })
            .collect();
        let sent: u64 = results.iter().map(|r| r.sent).sum();
        let acked: u64 = results.iter().map(|r| r.acked).sum();
        let streaming = Duration::from_secs(args.duration_s).as_secs_f64();
        Report {
            url: args.url.clone(),
            frames: if args.json { "json" } else { "binary" },
            sessions_requested: args.sessions,
            sessions_connected: results.iter().filter(|r| r.recording_id.is_some()).count(),
            sessions_completed: results.iter().filter(|r| r.completed).count(),
            chunk_bytes: args.chunk_bytes,
            interval_ms: args.interval_ms,
            in_flight: args.in_flight,
            duration_s: args.duration_s,
            chunks_sent: sent,
            chunks_acked: acked,
            chunks_lost: sent.saturating_sub(acked),
            errors: results.iter().map(|r| r.errors).sum(),
            files_verified: verified,
            files_corrupted: corrupted,
            chunks_per_s: acked as f64 / streaming,
            megabytes_per_s: acked as f64 * args.chunk_bytes as f64 / 1e6 / streaming,
            ack_latency_ms_p50: percentile(&latencies, 0.50),
            ack_latency_ms_p99: percentile(&latencies, 0.99),
            ack_latency_ms_max: percentile(&latencies, 1.0),
            ack_latency_ms_p99_by_10s: by_window,
            wall_s: wall.as_secs_f64(),
        }
    });
    let pace = match (report.interval_ms, report.in_flight) {
        (0, Some(window)) => format!("as fast as {window} unacknowledged allow"),
        (ms, None) => format!("every {ms} ms"),
        (ms, Some(window)) => format!("every {ms} ms, at most {window} unacknowledged"),
    };
    println!(
        "{} sessions ({} connected, {} completed), {} frames of {} B {pace} for {} s",
        report.sessions_requested,
        report.sessions_connected,
        report.sessions_completed,
        report.frames,
        report.chunk_bytes,
        report.duration_s
    );
    println!(
        "chunks sent {} acked {} lost {}; errors {}; files verified {} corrupted {}",
        report.chunks_sent,
        report.chunks_acked,
        report.chunks_lost,
        report.errors,
        report.files_verified,
        report.files_corrupted
    );
    println!(
        "{:.0} chunks/s, {:.2} MB/s; ack latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        report.chunks_per_s,
        report.megabytes_per_s,
        report.ack_latency_ms_p50,
        report.ack_latency_ms_p99,
        report.ack_latency_ms_max
    );
    let windows: Vec<String> = report
        .ack_latency_ms_p99_by_10s
        .iter()
        .map(|p99| format!("{p99:.1}"))
        .collect();
    println!("p99 ack latency by 10 s window, ms: {}", windows.join(" "));
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    if let Some(path) = &report_file {
        if let Err(err) = std::fs::write(path, &json) {
            eprintln!("loadgen: cannot write {}: {err}", path.display());
        }
    }
    let failed = report.chunks_lost > 0
        || report.files_corrupted > 0
        || report.sessions_completed < report.sessions_requested;
    std::process::exit(i32::from(failed));
}
