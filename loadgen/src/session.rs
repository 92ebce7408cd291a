//! One recording session: connect, `record-start`, chunks on a schedule with every ack
//! checked, `record-end`, and what it saw.

use std::sync::atomic::{AtomicU8, Ordering};
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
    /// On a `durable` frame: how many chunks the shared store holds.
    chunks: Option<u64>,
    /// On an ack, with recordings in a shared store: how far the recording is durable there.
    durable: Option<DurableReply>,
}

#[derive(Deserialize)]
struct DurableReply {
    chunks: u64,
}

/// Where a session is, readable from another thread: a session still running at the run's bound
/// is reported with the step it was stuck in.
#[derive(Clone, Default)]
pub struct Phase(Arc<AtomicU8>);

/// The steps of a session, in order.
#[derive(Clone, Copy)]
enum Step {
    Connecting = 1,
    Starting,
    Streaming,
    Draining,
    Ending,
    Closing,
}

impl Phase {
    /// Indexed by `Step` (0: not started yet).
    const NAMES: [&'static str; 7] = [
        "waiting for its start",
        "connecting",
        "waiting for record-start's answer",
        "streaming",
        "waiting for the last acks",
        "waiting for record-end's answer",
        "closing",
    ];

    fn set(&self, step: Step) {
        self.0.store(step as u8, Ordering::Relaxed);
    }

    pub fn name(&self) -> &'static str {
        Self::NAMES[usize::from(self.0.load(Ordering::Relaxed)).min(Self::NAMES.len() - 1)]
    }
}

/// What one session saw, for the report.
#[derive(Debug, Default)]
pub struct SessionResult {
    pub recording_id: Option<String>,
    pub sent: u64,
    pub acked: u64,
    pub bytes: u64,
    /// What went wrong, one line an error, for the report's tally.
    pub error_kinds: Vec<String>,
    pub completed: bool,
    pub latencies_us: Vec<u32>,
    /// When each acked chunk was sent, beside its latency: the tail per window of the run.
    pub sent_at_acked: Vec<Instant>,
    /// With recordings in a shared store: the chunks it holds for good, and the most chunks
    /// this client had to keep (sent, not yet durable) at once. `None`: every ack was final.
    pub durable: Option<u64>,
    pub most_kept: u64,
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

impl SessionResult {
    /// The service says its shared store holds `chunks` chunks; `sent` are sent so far. The
    /// chunks past that point are the ones this client keeps (to resend after a resume).
    fn made_durable(&mut self, chunks: u64, sent: u64) {
        let durable = self.durable.unwrap_or(0).max(chunks);
        self.durable = Some(durable);
        self.most_kept = self.most_kept.max(sent.saturating_sub(durable));
    }

    /// A session that had not ended by the run's bound (what it did before is lost with it).
    pub fn unfinished(phase: &Phase) -> Self {
        let mut result = Self::default();
        result.error(format!("unfinished at the run's bound, {}", phase.name()));
        result
    }

    fn error(&mut self, kind: impl Into<String>) {
        self.error_kinds.push(kind.into());
    }

    pub fn errors(&self) -> u64 {
        self.error_kinds.len() as u64
    }
}

/// Runs session `index` to its end, counting it in `progress`.
pub async fn run_session(
    index: usize,
    args: Arc<Args>,
    start_at: Instant,
    progress: Arc<Progress>,
    phase: Phase,
) -> SessionResult {
    let result = stream_session(index, &args, start_at, &progress, &phase).await;
    progress.finished(result.errors());
    result
}

async fn stream_session(
    index: usize,
    args: &Args,
    start_at: Instant,
    progress: &Progress,
    phase: &Phase,
) -> SessionResult {
    let mut result = SessionResult::default();
    let delay = if args.sessions > 1 {
        Duration::from_secs(args.ramp_up_s).mul_f64(index as f64 / args.sessions as f64)
    } else {
        Duration::ZERO
    };
    actix_rt::time::sleep_until((start_at + delay).into()).await;
    phase.set(Step::Connecting);
    let mut socket: Socket = match recording_client()
        .ws(&args.url)
        .max_frame_size(1 << 20)
        .connect()
        .await
    {
        Ok((_, socket)) => socket,
        Err(err) => {
            result.error(format!("connect: {err} ({err:?})"));
            return result;
        }
    };
    phase.set(Step::Starting);
    let start = format!(r#"{{"action":"record-start","metaId":"load-{index}"}}"#);
    if let Err(err) = socket.send(ws::Message::Text(start.into())).await {
        result.error(format!("record-start not sent: {err}"));
        return result;
    }
    match next_reply(&mut socket, Duration::from_secs(20)).await {
        Some(reply) if reply.kind == "started" => {
            result.recording_id = reply.recording_id;
            progress.connected();
        }
        Some(reply) => {
            result.error(format!("record-start answered with {:?}", reply.kind));
            return result;
        }
        None => {
            result.error("record-start not answered within 20 s");
            return result;
        }
    }
    phase.set(Step::Streaming);
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
                if let Err(err) = socket.send(message).await {
                    result.error(format!("chunk not sent: {err}"));
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
    phase.set(Step::Draining);
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
    phase.set(Step::Ending);
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
                // The service's own count, checked even when the files are not read back.
                let acked_bytes = result.acked * args.chunk_bytes as u64;
                if result.bytes != acked_bytes {
                    result.error(format!(
                        "record-end reported {} bytes where {acked_bytes} were acknowledged",
                        result.bytes
                    ));
                }
                break;
            }
        }
    }
    phase.set(Step::Closing);
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
                Ok(reply) if reply.kind == "durable" => {
                    result.made_durable(reply.chunks.unwrap_or(0), sent_at.len() as u64);
                }
                Ok(reply) if reply.kind == "ack" => {
                    if let Some(durable) = &reply.durable {
                        result.made_durable(durable.chunks, sent_at.len() as u64);
                    }
                    if let Some(at) = reply.seq.and_then(|seq| sent_at.get(seq as usize)) {
                        let latency_us = at.elapsed().as_micros().min(u32::MAX as u128) as u32;
                        result.latencies_us.push(latency_us);
                        progress.acked(latency_us);
                        result.sent_at_acked.push(*at);
                        result.acked += 1;
                    }
                }
                Ok(reply) => result.error(format!("unexpected {:?} while streaming", reply.kind)),
                Err(_) => result.error("a reply that is not JSON"),
            }
            true
        }
        Some(Ok(ws::Frame::Ping(payload))) => socket.send(ws::Message::Pong(payload)).await.is_ok(),
        Some(Ok(ws::Frame::Close(reason))) => {
            result.error(format!("closed by the server while streaming: {reason:?}"));
            false
        }
        None => {
            result.error("the connection ended while streaming");
            false
        }
        Some(Err(err)) => {
            result.error(format!("protocol error while streaming: {err}"));
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
