//! One recording session: connect, `record-start`, chunks on a schedule with every ack
//! checked, `record-end`, and what it saw.

use std::sync::Arc;
use std::time::{Duration, Instant};

use awc::ws;
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;

use crate::args::Args;
use crate::progress::Progress;

#[derive(Deserialize)]
struct Reply {
    #[serde(rename = "type")]
    kind: String,
    seq: Option<u64>,
    #[serde(rename = "recordingId")]
    recording_id: Option<String>,
    bytes: Option<u64>,
}

/// What one session saw, for the report.
#[derive(Debug, Default)]
pub struct SessionResult {
    pub recording_id: Option<String>,
    pub sent: u64,
    pub acked: u64,
    pub bytes: u64,
    pub errors: u64,
    pub completed: bool,
    pub latencies_us: Vec<u32>,
    /// When each acked chunk was sent, beside its latency: the tail per window of the run.
    pub sent_at_acked: Vec<Instant>,
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

/// The chunk a session sends, every time: distinct per session, so that a recording holding
/// another session's bytes is caught.
pub fn payload(session: usize, size: usize) -> Vec<u8> {
    (0..size)
        .map(|j| ((session * 31 + j) % 251) as u8)
        .collect()
}

/// Runs session `index` to its end, counting it in `progress`.
pub async fn run_session(
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
