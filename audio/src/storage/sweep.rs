use std::time::{Duration, SystemTime};

use super::open::remove_partial_files;
use super::{OpenRecording, RecordingMeta, RecordingState, Storage, StorageError};
use crate::domain::RecordingId;

/// How long a recording that could not be stored waits before the next try.
const STORE_RETRY: Duration = Duration::from_secs(5);

/// What one sweep did.
#[derive(Debug, Default)]
pub struct Swept {
    /// Recordings it ended as `interrupted` (stored, or waiting as `storing`).
    pub ended: Vec<RecordingMeta>,
    /// Recordings that had ended while the recordings' store was unreachable, stored now.
    pub stored: Vec<RecordingMeta>,
}

/// Ends, as `interrupted`, every recording in progress that nobody owns and that has been left
/// alone longer than `grace` (dropped by its client, or left by an instance that died), and
/// stores every recording of this host still `storing`. Every acknowledged byte is kept.
/// Blocking: run it off the arbiters.
pub fn end_abandoned(
    storage: &Storage,
    grace: Duration,
    announce: &dyn Fn(&RecordingMeta) -> std::io::Result<Option<kafka_core::OutboxEntry>>,
) -> Swept {
    let layout = storage.layout();
    let mut swept = Swept::default();
    let entries = match std::fs::read_dir(layout.partial_dir()) {
        Ok(entries) => entries,
        Err(err) => {
            log::error!(
                "sweep: cannot read {}: {err}",
                layout.partial_dir().display()
            );
            return swept;
        }
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".part"))
            .and_then(|n| n.parse::<RecordingId>().ok())
        else {
            continue;
        };
        // Live recordings are written to all the time: they never get past this.
        let idle = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .unwrap_or_default();
        if idle < grace.min(STORE_RETRY) {
            continue;
        }
        let status = match storage.index().get(id) {
            Ok(meta) => meta.map(|meta| meta.status),
            Err(err) => {
                log::warn!("sweep: recording {id}: {err}");
                continue;
            }
        };
        // An end that was asked but could not be recorded then: now, as asked.
        let asked = OpenRecording::ended_as(storage, id);
        match status {
            Some(RecordingState::Recording) if idle < grace && asked.is_none() => continue,
            Some(RecordingState::Recording | RecordingState::Storing) | None => {}
            // A crash after the record said "ended" but before the clean-up: finish it.
            Some(_) => {
                remove_partial_files(layout, id);
                continue;
            }
        }
        let ending = asked.unwrap_or(RecordingState::Interrupted);
        match OpenRecording::reclaim(storage, id).and_then(|r| r.finish(ending, announce)) {
            Ok(meta) if status == Some(RecordingState::Storing) => {
                if meta.status != RecordingState::Storing {
                    log::info!("recording {id} stored in {}", storage.blobs().describe());
                    swept.stored.push(meta);
                }
            }
            Ok(meta) => {
                match asked {
                    Some(asked) => log::info!(
                        "recording {id} ended as {} as its client had asked ({} bytes)",
                        asked.as_str(),
                        meta.size
                    ),
                    None => log::info!(
                        "recording {id} ended as interrupted after {idle:?} without its client ({} bytes kept)",
                        meta.size
                    ),
                }
                swept.ended.push(meta);
            }
            Err(StorageError::Busy) => {}
            Err(StorageError::AlreadyEnded(_)) => remove_partial_files(layout, id),
            Err(err) => log::warn!("sweep: recording {id} could not be ended: {err}"),
        }
    }
    if storage.segmented() {
        end_orphans(storage, grace, announce, &mut swept);
    }
    swept
}

/// Ends, as `interrupted`, the recordings of hosts that are gone (their lease ran out, and
/// nobody resumed them since), from what their segments hold in the shared store. The host
/// itself, if it is only restarting, gets there first: it waits the grace, this waits twice it
/// past the lease.
fn end_orphans(
    storage: &Storage,
    grace: Duration,
    announce: &dyn Fn(&RecordingMeta) -> std::io::Result<Option<kafka_core::OutboxEntry>>,
    swept: &mut Swept,
) {
    let before = chrono::Utc::now()
        - chrono::Duration::from_std(grace * 2).unwrap_or(chrono::Duration::minutes(2));
    let orphans = match storage.index().expired_leases(before, 50) {
        Ok(ids) => ids,
        Err(err) => {
            log::warn!("sweep: {err}");
            return;
        }
    };
    for id in orphans {
        if storage.layout().part_file(id).exists() {
            continue; // here: the loop over the partial folder has it
        }
        match OpenRecording::reclaim(storage, id)
            .and_then(|r| r.finish(RecordingState::Interrupted, announce))
        {
            Ok(meta) => {
                log::info!(
                    "recording {id} of a host that is gone ended as interrupted ({} bytes kept)",
                    meta.size
                );
                swept.ended.push(meta);
            }
            Err(StorageError::Busy | StorageError::AlreadyEnded(_) | StorageError::NotFound) => {}
            Err(err) => log::warn!("sweep: recording {id} could not be ended: {err}"),
        }
    }
}
