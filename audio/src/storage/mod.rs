//! Everything on disk. The layout under the data folder:
//!
//! ```text
//! recordings/<fileName>       finished recordings (what /api/files lists)
//! meta/<recordingId>.json     one record per recording, whatever its status
//! partial/<recordingId>.part  the bytes of a recording in progress
//! partial/<recordingId>.idx   one 16-byte entry per accepted chunk: seq, end offset (u64 LE)
//! ```
//!
//! The `.part` file is locked (`flock`) by whoever owns the recording: a live session, or the
//! sweep that ends an abandoned one. Because the lock and the chunk index live on disk, another
//! instance sharing the folder can resume or end a recording after this one died.

mod atomic;
mod catalog;
mod layout;
mod meta;
mod meta_watch;
mod open;
mod sweep;

pub use atomic::{sync_dir, write_atomically};
pub use catalog::{list_file_names, Catalog, Page, RecordingQuery};
pub use layout::Layout;
pub use meta::{Processing, RecordingMeta, RecordingState};
pub use open::{AppendOutcome, NewRecording, OpenRecording, StorageError};
pub use sweep::end_abandoned;
