//! The post-processing worker: a `SyncArbiter` actor (remuxing and hashing block), one
//! recording per message. Processing the same recording twice gives the same result.

use std::io;

use actix::prelude::*;
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::webm::remux;
use crate::domain::{FileName, RecordingId};
use crate::storage::{RecordingMeta, RecordingState, Storage};

pub struct PostProcessor {
    storage: Storage,
    /// Run at the scheduler's idle priority (see `started`).
    background: bool,
}

impl PostProcessor {
    pub fn new(storage: Storage, background: bool) -> Self {
        Self {
            storage,
            background,
        }
    }
}

impl Actor for PostProcessor {
    type Context = SyncContext<Self>;

    /// Runs on the worker's own thread. Post-processing is bulk work (reading, remuxing and
    /// hashing whole recordings) that can wait; live recordings cannot. A burst of recordings
    /// ending together used to take a core from the sessions still streaming and push their
    /// ack latency up, so in the background the thread only gets the CPU that live sessions
    /// leave idle (Linux `SCHED_IDLE`). Its events are durable, so it catches up later.
    fn started(&mut self, _: &mut Self::Context) {
        if self.background {
            if let Err(err) = run_in_background() {
                log::warn!("post-processing stays at normal priority: {err}");
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn run_in_background() -> io::Result<()> {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadPriority, ThreadSchedulePolicy,
    };
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
    )
    .map_err(|err| io::Error::other(format!("{err:?}")))
}

#[cfg(not(target_os = "linux"))]
fn run_in_background() -> io::Result<()> {
    Err(io::Error::other("idle scheduling is Linux-only"))
}

/// Post-process one recording. `Ok(None)`: nothing to do (deleted). An error while the
/// recording is still being finished, so that the event is tried again.
#[derive(Message)]
#[rtype(result = "Result<Option<RecordingMeta>, ProcessError>")]
pub struct Process(pub RecordingId);

impl Handler<Process> for PostProcessor {
    type Result = Result<Option<RecordingMeta>, ProcessError>;

    fn handle(&mut self, msg: Process, _: &mut Self::Context) -> Self::Result {
        process(&self.storage, msg.0)
    }
}

/// Why a recording was not post-processed (its event is tried again).
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The completion event goes to the outbox before the record says the recording ended, so
    /// Kafka can deliver it first: a moment later the record will have caught up.
    #[error("recording {0} is still being finished; its completion event came first")]
    NotFinishedYet(RecordingId),
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Makes the recording seekable and measures it. A file that is not WebM, or is damaged beyond
/// repair, ends `failed` with the reason and is left exactly as uploaded; a repaired file keeps
/// its original bytes in `originals/`. It reads the recording from the recordings' store and
/// writes the result back there.
pub fn process(storage: &Storage, id: RecordingId) -> Result<Option<RecordingMeta>, ProcessError> {
    let (blobs, index) = (storage.blobs(), storage.index());
    let Some(mut meta) = index.get(id)? else {
        return Ok(None);
    };
    // The completion event goes to the outbox before the metadata says the recording ended
    // (so that no finished recording is without its event), and Kafka can deliver it first.
    // An error makes the consumer try again a moment later; a `None` would commit the event
    // and leave the recording unprocessed for good.
    if matches!(
        meta.status,
        RecordingState::Recording | RecordingState::Storing
    ) {
        return Err(ProcessError::NotFinishedYet(id));
    }
    let name = FileName::parse(&meta.file_name)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let Some(bytes) = blobs.read(&name)? else {
        return Ok(None);
    };
    // Already done and untouched since: the same result again, without rewriting the file.
    if matches!(meta.status, RecordingState::Ready | RecordingState::Failed)
        && meta.processing.sha256.as_deref() == Some(sha256_hex(&bytes).as_str())
    {
        return Ok(Some(meta));
    }
    if meta.status != RecordingState::Processing {
        let was = meta.status;
        meta.status = RecordingState::Processing;
        // Deleted (or changed) meanwhile: nothing to do.
        if !index.update_if(&meta, &[was], None)? {
            return Ok(None);
        }
    }

    let is_webm = name.extension() == Some("webm");
    let result = if is_webm { Some(remux(&bytes)) } else { None };
    let now = Utc::now();
    match result {
        Some(Ok(remuxed)) => {
            if remuxed.repaired.is_some() {
                blobs.keep_original(&name, id)?;
            }
            blobs.replace(&name, remuxed.bytes.clone())?;
            meta.status = RecordingState::Ready;
            meta.size = remuxed.bytes.len() as u64;
            meta.processing.duration_ms = Some(remuxed.duration_ms);
            meta.processing.codec = remuxed.codec;
            meta.processing.sample_rate = remuxed.sample_rate;
            meta.processing.channels = remuxed.channels;
            meta.processing.sha256 = Some(sha256_hex(&remuxed.bytes));
            meta.processing.note = remuxed
                .repaired
                .map(|what| format!("repaired: {what}; the original is kept in originals/"));
        }
        Some(Err(err)) => {
            meta.status = RecordingState::Failed;
            meta.processing.sha256 = Some(sha256_hex(&bytes));
            meta.processing.note = Some(err.to_string());
        }
        None => {
            meta.status = RecordingState::Ready;
            meta.processing.sha256 = Some(sha256_hex(&bytes));
            meta.processing.note = Some("not WebM: stored as uploaded".into());
        }
    }
    meta.processing.processed_at = Some(now);
    meta.updated_at = now;
    // Deleted meanwhile (or another worker got there first): do not bring its record back.
    if !index.update_if(&meta, &[RecordingState::Processing], None)? {
        return Ok(None);
    }
    log::info!(
        "recording {id} post-processed: {} ({})",
        meta.status.as_str(),
        meta.processing.note.as_deref().unwrap_or("seekable")
    );
    Ok(Some(meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MetaId, RecordingMime};
    use crate::storage::{NewRecording, OpenRecording};

    #[test]
    fn an_event_ahead_of_the_metadata_is_an_error_to_retry_not_a_skip() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), None, None).unwrap();
        let new = NewRecording {
            id: RecordingId::new(),
            session_id: "s".into(),
            meta_id: Some(MetaId::parse("m").unwrap()),
            user_id: None,
            mime: RecordingMime::webm(),
        };
        let recording = OpenRecording::create(&storage, new, "token").unwrap();
        let err = process(&storage, recording.id()).unwrap_err();
        assert!(matches!(err, ProcessError::NotFinishedYet(_)), "{err}");
        // A recording that is gone altogether is nothing to do.
        assert!(process(&storage, RecordingId::new()).unwrap().is_none());
    }
}
