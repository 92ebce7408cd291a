//! The load generator's flags.

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "loadgen",
    about = "Concurrent recording sessions, every ack and every file checked"
)]
pub struct Args {
    /// The recording WebSocket.
    #[arg(long, default_value = "ws://127.0.0.1:5000/ws/record")]
    pub url: String,
    /// Base URL of the REST API used to verify stored files (default: from --url).
    #[arg(long)]
    pub http: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub sessions: usize,
    #[arg(long, default_value_t = 5_000)]
    pub chunk_bytes: usize,
    /// Pause between a session's chunks; 0 sends as fast as `--in-flight` allows.
    #[arg(long, default_value_t = 250)]
    pub interval_ms: u64,
    /// At most this many chunks a session has sent and not yet seen acknowledged. With
    /// `--interval-ms 0 --in-flight 1` each session sends its next chunk the moment the last
    /// one is acknowledged: a closed loop, whose chunks/s is what the path can carry.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub in_flight: Option<u64>,
    /// How long each session streams.
    #[arg(long, default_value_t = 30)]
    pub duration_s: u64,
    /// Sessions start spread over this time.
    #[arg(long, default_value_t = 10)]
    pub ramp_up_s: u64,
    /// Send the original's JSON frames with data-URL chunks instead of binary frames.
    #[arg(long)]
    pub json: bool,
    /// Hard bound on the whole run, in seconds (default: ramp-up + duration + 120). A session
    /// still running then counts as an error that names the step it was stuck in.
    #[arg(long)]
    pub max_total_s: Option<u64>,
    /// Threads generating load (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Skip checking the stored files.
    #[arg(long)]
    pub no_verify: bool,
    /// Print the figures so far on stderr every this many seconds while the sessions run (0:
    /// never).
    #[arg(long, default_value_t = 10)]
    pub progress_s: u64,
    /// Where to write the report as JSON.
    #[arg(long)]
    pub report: Option<std::path::PathBuf>,
}
