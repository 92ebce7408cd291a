//! The audio service: recording WebSockets, storage, and the REST API over stored recordings.
//!
//! The binary (`main.rs`) only parses [`Settings`] and runs [`Application`].
//!
//! # Layout
//! - `startup`: builds the service from its settings (listeners, actors, registration, Kafka);
//!   `state`: what every request handler can reach.
//! - `session/`: one actor per recording in progress (WebSocket or the original's HTTP calls);
//!   `supervisor`: admits sessions, finishes recordings, sweeps the abandoned ones.
//! - `storage/`: the recording index (SQLite or PostgreSQL) and the recordings' store (a folder
//!   or S3), behind two traits; recordings in progress on the local disk.
//! - `postprocess/`: the WebM remuxer and the worker that runs it on each completion event.
//! - `events/`: events built from recordings, and the hub behind the live event stream.
//! - `routes/`: the REST API and the WebSocket endpoints; `error`: their errors as HTTP;
//!   `identity`: who is asking (the gateway's vouched user).
//! - `domain/`: client input parsed once (file names, ids, chunks); `protocol`: WebSocket messages.
//! - `config`: the settings; `open_files`, `cache_trim`, `local_socket`: the host's resources.
//!
//! Public: the settings and the application, the domain types, the storage seams (tests and
//! benches drive them directly), and what the fuzz targets and the one-process stack need.

mod cache_trim;
mod config;
pub mod domain;
mod error;
mod events;
mod identity;
mod local_socket;
mod open_files;
mod postprocess;
mod protocol;
mod routes;
mod session;
mod startup;
mod state;
pub mod storage;
mod supervisor;

pub use cache_trim::trims_pages;
pub use config::Settings;
pub use open_files::PER_SESSION as DESCRIPTORS_PER_SESSION;
pub use postprocess::webm::remux;
pub use protocol::ClientMessage;
pub use startup::{Application, ShutdownHandle};
