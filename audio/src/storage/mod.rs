//! Everything an instance keeps, behind two seams:
//!
//! - the **recording index** ([`RecordingIndex`]): one record per recording and the event
//!   outbox, in a database (SQLite in the data folder by default, PostgreSQL with
//!   `AUDIO_DATABASE_URL`);
//! - the **recordings' store** ([`Blobs`]): finished recordings' bytes, in an object store (the
//!   data folder's `recordings/` by default, S3 with `AUDIO_RECORDINGS_URL`).
//!
//! A recording in progress is local to the host that records it, in the data folder:
//!
//! ```text
//! audio.db                    the index, when it is the embedded SQLite (WAL)
//! recordings/<fileName>       finished recordings, when the store is the local folder
//! originals/<id>.<ext>        uploads that post-processing repaired, as uploaded (local store)
//! partial/<recordingId>.part  the bytes of a recording in progress
//! partial/<recordingId>.idx   one 16-byte entry per accepted chunk: seq, end offset (u64 LE)
//! ```
//!
//! The `.part` file is locked (`flock`) by whoever owns the recording: a live session, or the
//! sweep that ends an abandoned one. Because the lock and the chunk index live on disk, another
//! instance sharing the folder can resume or end a recording after this one died; the index's
//! conditional updates make sure one of two instances finishing it at once wins.

mod atomic;
mod blobs;
mod index;
mod layout;
mod meta;
mod open;
mod s3_http;
pub mod segments;
mod sweep;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use atomic::write_atomically;
use layout::Layout;

pub use blobs::{BlobMeta, BlobStream, Blobs};
pub use index::{redact, Page, RecordingIndex, RecordingQuery, SqlIndex};
pub use meta::{Processing, RecordingMeta, RecordingState};
pub use open::{AppendOutcome, NewRecording, OpenRecording, StorageError};
pub use sweep::{end_abandoned, Swept};

/// An instance's storage: the recording index with its outbox, the recordings' store, and the
/// data folder for recordings in progress.
#[derive(Clone)]
pub struct Storage {
    layout: Layout,
    index: Arc<dyn RecordingIndex>,
    outbox: kafka_core::Outbox,
    blobs: Blobs,
    /// This instance's name in leases: kept in `<data>/instance-id`, so a restart is the same
    /// holder (and every process sharing one folder is one holder, the file locks deciding
    /// between them).
    instance: Arc<str>,
    /// How often a recording in progress is made durable in a remote store.
    segment_interval: Duration,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("root", &self.layout.root())
            .field("recordings", &self.blobs.describe())
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Opens the data folder (created when missing), the index at `database_url` (or the
    /// embedded SQLite index `<data>/audio.db`) and the recordings' store at `recordings_url`
    /// (or `<data>/recordings`); imports a `meta/` folder left by an older version. Blocking.
    pub fn open(
        root: impl Into<std::path::PathBuf>,
        database_url: Option<&str>,
        recordings_url: Option<&str>,
    ) -> std::io::Result<Self> {
        let layout = Layout::create(root)?;
        let blobs = Blobs::open(layout.root(), recordings_url)?;
        let url = match database_url {
            Some(url) => url.to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                layout.root().join("audio.db").display()
            ),
        };
        let index = Arc::new(SqlIndex::open(&url).map_err(std::io::Error::other)?);
        index::import_meta_folder(&layout, index.as_ref())?;
        let outbox = kafka_core::Outbox::new(index.clone());
        index::import_outbox_folder(&layout, &outbox)?;
        let instance = if blobs.is_remote() {
            instance_id(&layout)?
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        Ok(Self {
            layout,
            index,
            outbox,
            blobs,
            instance: instance.into(),
            segment_interval: Duration::from_secs(5),
        })
    }

    /// Sets how often a recording in progress is made durable in a remote store.
    pub fn with_segment_interval(mut self, interval: Duration) -> Self {
        self.segment_interval = interval.max(Duration::from_millis(100));
        self
    }

    /// Whether recordings in progress are made durable in the shared store as they go
    /// (`segments`): with a remote store only.
    pub fn segmented(&self) -> bool {
        self.blobs.is_remote()
    }

    pub fn segment_interval(&self) -> Duration {
        self.segment_interval
    }

    /// This instance's name in leases.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The data folder.
    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    pub fn index(&self) -> &dyn RecordingIndex {
        self.index.as_ref()
    }

    /// The events waiting for delivery: a table of the index, written in the same transaction
    /// as the changes they announce.
    pub fn outbox(&self) -> &kafka_core::Outbox {
        &self.outbox
    }
}

/// The data folder's instance id, made once.
fn instance_id(layout: &Layout) -> std::io::Result<String> {
    let path = layout.root().join("instance-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    // Made in a file of its own, then linked into place: a link never replaces a file, so of
    // instances starting together on one folder, the first link wins and the others read it
    // (each keeping its own id would make them strangers in each other's leases).
    let id = uuid::Uuid::new_v4().to_string();
    let made = layout.root().join(format!(".instance-id.{id}"));
    write_atomically(&made, id.as_bytes())?;
    let linked = std::fs::hard_link(&made, &path);
    let _ = std::fs::remove_file(&made);
    match linked {
        Ok(()) => {
            atomic::sync_dir(layout.root())?;
            Ok(id)
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(&path)?.trim().to_owned())
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_starting_together_on_one_folder_agree_on_its_instance_id() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..8)
            .map(|_| {
                let root = dir.path().to_owned();
                std::thread::spawn(move || instance_id(&Layout::create(root).unwrap()).unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect();
        assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
        // And a restart reads it back.
        assert_eq!(
            instance_id(&Layout::create(dir.path()).unwrap()).unwrap(),
            ids[0]
        );
    }
}
