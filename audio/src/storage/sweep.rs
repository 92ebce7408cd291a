use std::time::{Duration, SystemTime};

use super::open::remove_partial_files;
use super::{OpenRecording, RecordingMeta, RecordingState, Storage, StorageError};
use crate::domain::RecordingId;

/// Ends, as `interrupted`, every recording in progress that nobody owns and that has been left
/// alone longer than `grace`: dropped by its client, or left by an instance that died. Every
/// acknowledged byte is kept. Blocking: run it off the arbiters.
pub fn end_abandoned(
    storage: &Storage,
    grace: Duration,
    announce: &dyn Fn(&RecordingMeta) -> std::io::Result<Option<kafka_core::OutboxEntry>>,
) -> Vec<RecordingMeta> {
    let layout = storage.layout();
    let entries = match std::fs::read_dir(layout.partial_dir()) {
        Ok(entries) => entries,
        Err(err) => {
            log::error!(
                "sweep: cannot read {}: {err}",
                layout.partial_dir().display()
            );
            return Vec::new();
        }
    };
    let now = SystemTime::now();
    let mut ended = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".part"))
            .and_then(|n| n.parse::<RecordingId>().ok())
        else {
            continue;
        };
        let idle = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .unwrap_or_default();
        if idle < grace {
            continue;
        }
        match OpenRecording::reclaim(storage, id)
            .and_then(|r| r.finish(RecordingState::Interrupted, announce))
        {
            Ok(meta) => {
                log::info!(
                    "recording {id} ended as interrupted after {idle:?} without its client ({} bytes kept)",
                    meta.size
                );
                ended.push(meta);
            }
            Err(StorageError::Busy) => {}
            // A crash after the metadata said "ended" but before the clean-up: finish it.
            Err(StorageError::AlreadyEnded(_)) => remove_partial_files(layout, id),
            Err(err) => log::warn!("sweep: recording {id} could not be ended: {err}"),
        }
    }
    ended
}
