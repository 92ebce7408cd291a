//! Recording sessions: the owners of recordings in progress. Two kinds of client drive a
//! recording, and both go through the same steps, the same supervisor and the same storage:
//!
//! - a WebSocket (`/ws/record`, or `/ws/audio` as the original's page calls it): one
//!   [`RecordingSession`] actor per socket;
//! - the original gateway's HTTP calls (`POST /record/start|idle|end`, each carrying the
//!   gateway's `sessionId`): one `HttpSession` actor per `sessionId`, found in [`HttpSessions`].
//!
//! Layout
//! - `socket.rs`: the WebSocket actor.
//! - `http.rs`: the HTTP-driven actor and the table that finds it by `sessionId`.
//! - `recorder.rs`: what both do off the arbiter: start a recording, finish it.
//! - `end_grace.rs`: when `record-end` waits for a chunk still on its way.

mod end_grace;
mod http;
mod recorder;
mod socket;

use std::time::Duration;

pub use http::{HttpChunk, HttpEnd, HttpSessions, HttpStart, Progress, StartRefused};
pub use recorder::{not_started, Refusal};
pub use socket::RecordingSession;

use crate::cache_trim::CacheTrim;
use crate::storage::Storage;

/// What every session of an instance shares.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub storage: Storage,
    pub max_frame_bytes: usize,
    pub max_recording_bytes: u64,
    pub heartbeat_timeout: Duration,
    pub ping_interval: Duration,
    pub start_timeout: Duration,
    /// How long `record-end` waits for a late chunk from a client that numbers none of its
    /// chunks (the original's page sends its last chunk after `record-end`); zero finishes at
    /// once.
    pub end_grace: Duration,
    /// An HTTP-driven session that hears nothing for this long lets its recording go; the
    /// stale-session sweep then ends it, every accepted byte kept.
    pub http_idle_timeout: Duration,
    /// Dropping recorded bytes from the page cache once old enough; `None` keeps them.
    pub cache_trim: Option<CacheTrim>,
}
