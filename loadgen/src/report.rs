//! The run's figures: built from every session's results, printed, and written as JSON.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::args::Args;
use crate::machine::MachineCpu;
use crate::session::SessionResult;

#[derive(Debug, Serialize)]
pub struct Report {
    pub url: String,
    pub frames: &'static str,
    pub sessions_requested: usize,
    pub sessions_connected: usize,
    pub sessions_completed: usize,
    pub chunk_bytes: usize,
    pub interval_ms: u64,
    pub in_flight: Option<u64>,
    pub duration_s: u64,
    pub chunks_sent: u64,
    pub chunks_acked: u64,
    pub chunks_lost: u64,
    pub errors: u64,
    /// How many errors of each kind (what the session saw: a failed connect, a close, ...).
    pub errors_by_kind: BTreeMap<String, u64>,
    pub files_verified: usize,
    pub files_corrupted: usize,
    pub chunks_per_s: f64,
    pub megabytes_per_s: f64,
    pub ack_latency_ms_p50: f64,
    pub ack_latency_ms_p99: f64,
    pub ack_latency_ms_max: f64,
    /// p99 ack latency of the chunks sent in each 10 s window from the first session's start
    /// (whether the tail is the ramp-up's, the steady state's or the end's).
    pub ack_latency_ms_p99_by_10s: Vec<f64>,
    pub wall_s: f64,
    /// With recordings in a shared store (acks that say how far a recording is durable): the
    /// most chunks one session had to keep at once, sent but not yet durable. `null` otherwise.
    pub most_chunks_kept_until_durable: Option<u64>,
    /// The whole machine's CPU from the first session's start to the last one's end (the
    /// end-of-run check left out); `null` where `/proc/stat` cannot be read.
    pub machine_cpu_during_sessions: Option<MachineCpu>,
}

impl Report {
    /// The figures of `results` (every session's, in session order), with how many stored
    /// files were verified and how many of them differed.
    pub fn new(
        args: &Args,
        results: &[SessionResult],
        start_at: Instant,
        (verified, corrupted): (usize, usize),
        wall: Duration,
        machine_cpu: Option<MachineCpu>,
    ) -> Self {
        let mut latencies: Vec<u32> = results
            .iter()
            .flat_map(|r| r.latencies_us.iter().copied())
            .collect();
        latencies.sort_unstable();
        let mut windows: Vec<Vec<u32>> = Vec::new();
        for result in results {
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
            errors: results.iter().map(SessionResult::errors).sum(),
            errors_by_kind: results.iter().flat_map(|r| &r.error_kinds).fold(
                BTreeMap::new(),
                |mut kinds, kind| {
                    *kinds.entry(kind.clone()).or_insert(0) += 1;
                    kinds
                },
            ),
            files_verified: verified,
            files_corrupted: corrupted,
            chunks_per_s: acked as f64 / streaming,
            megabytes_per_s: acked as f64 * args.chunk_bytes as f64 / 1e6 / streaming,
            ack_latency_ms_p50: percentile(&latencies, 0.50),
            ack_latency_ms_p99: percentile(&latencies, 0.99),
            ack_latency_ms_max: percentile(&latencies, 1.0),
            ack_latency_ms_p99_by_10s: by_window,
            wall_s: wall.as_secs_f64(),
            most_chunks_kept_until_durable: results
                .iter()
                .filter(|r| r.durable.is_some())
                .map(|r| r.most_kept)
                .max(),
            machine_cpu_during_sessions: machine_cpu,
        }
    }

    pub fn print(&self) {
        let pace = match (self.interval_ms, self.in_flight) {
            (0, Some(window)) => format!("as fast as {window} unacknowledged allow"),
            (ms, None) => format!("every {ms} ms"),
            (ms, Some(window)) => format!("every {ms} ms, at most {window} unacknowledged"),
        };
        println!(
            "{} sessions ({} connected, {} completed), {} frames of {} B {pace} for {} s",
            self.sessions_requested,
            self.sessions_connected,
            self.sessions_completed,
            self.frames,
            self.chunk_bytes,
            self.duration_s
        );
        println!(
            "chunks sent {} acked {} lost {}; errors {}; files verified {} corrupted {}",
            self.chunks_sent,
            self.chunks_acked,
            self.chunks_lost,
            self.errors,
            self.files_verified,
            self.files_corrupted
        );
        if let Some(kept) = self.most_chunks_kept_until_durable {
            println!("durable in the shared store as it went: at most {kept} chunks kept by one session until durable");
        }
        println!(
            "{:.0} chunks/s, {:.2} MB/s; ack latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.chunks_per_s,
            self.megabytes_per_s,
            self.ack_latency_ms_p50,
            self.ack_latency_ms_p99,
            self.ack_latency_ms_max
        );
        let windows: Vec<String> = self
            .ack_latency_ms_p99_by_10s
            .iter()
            .map(|p99| format!("{p99:.1}"))
            .collect();
        println!("p99 ack latency by 10 s window, ms: {}", windows.join(" "));
        for (kind, count) in &self.errors_by_kind {
            println!("error x{count}: {kind}");
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}
