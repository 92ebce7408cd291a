//! The steps every session takes with a recording, whatever its client: parse what a start
//! asks for, create the recording, finish it. Creating and finishing block (files, fsync), so
//! they run off the arbiter and hand back a future.

use std::future::Future;

use actix::prelude::*;
use kafka_core::OutboxEntry;

use super::SessionConfig;
use crate::domain::{MetaId, RecordingId, RecordingMime, UserId};
use crate::events::completed_entry;
use crate::protocol::ErrorCode;
use crate::storage::segments::{self, Durable};
use crate::storage::{NewRecording, OpenRecording, RecordingMeta, RecordingState, StorageError};
use crate::supervisor::{Attached, Finished, Leave, RecordingSupervisor, Started};

/// A request a session cannot carry out: the stable code and the words the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The refusal for a storage error, with the code a client can act on.
    pub fn storage(err: &StorageError, doing: &str) -> Self {
        let code = match err {
            StorageError::SeqGap { .. } => ErrorCode::SeqGap,
            StorageError::TooLarge { .. } => ErrorCode::RecordingTooLarge,
            StorageError::NotFound => ErrorCode::RecordingNotFound,
            StorageError::Busy => ErrorCode::RecordingBusy,
            StorageError::WrongToken | StorageError::AlreadyEnded(_) => ErrorCode::ResumeRefused,
            StorageError::Io(_) => ErrorCode::StorageError,
        };
        match code {
            ErrorCode::SeqGap | ErrorCode::RecordingTooLarge => Self::new(code, err.to_string()),
            _ => Self::new(code, format!("{doing}: {err}")),
        }
    }
}

/// A chunk before any start, in the original's words (its clients look for them).
pub fn not_started() -> Refusal {
    Refusal::new(
        ErrorCode::NotStarted,
        "Error: Session user data not found (send record-start or record-resume first)",
    )
}

/// Parses what `record-start` asks for into a new recording of `session_id`.
pub fn new_recording(
    session_id: String,
    meta_id: Option<&str>,
    user_id: Option<&str>,
    mime: Option<&str>,
) -> Result<NewRecording, Refusal> {
    let meta_id = MetaId::parse_optional(meta_id)
        .map_err(|err| Refusal::new(ErrorCode::InvalidMetaId, err.to_string()))?;
    let user_id = UserId::parse_optional(user_id)
        .map_err(|err| Refusal::new(ErrorCode::InvalidUserId, err.to_string()))?;
    let mime = RecordingMime::parse_optional(mime)
        .map_err(|err| Refusal::new(ErrorCode::UnsupportedMimeType, err.to_string()))?;
    Ok(NewRecording {
        id: RecordingId::new(),
        session_id,
        meta_id,
        user_id,
        mime,
    })
}

/// Creates the recording's files and metadata, off the arbiter.
pub fn create(
    config: &SessionConfig,
    new: NewRecording,
    resume_token: String,
) -> impl Future<Output = Result<OpenRecording, StorageError>> + 'static {
    let storage = config.storage.clone();
    let work = actix_web::rt::task::spawn_blocking(move || {
        OpenRecording::create(&storage, new, &resume_token)
    });
    async move { work.await.map_err(|err| StorageError::Io(err.into()))? }
}

/// Finishes the recording as `status`, off the arbiter: data fsynced and stored, then its
/// record and its completion event committed in one transaction of the index before this
/// resolves, so a client told "completed" can count on both. While the recordings' store is
/// unreachable the record says `storing` and there is no event yet: the bytes are fsynced here,
/// and the sweep stores them and writes the event when the store is back.
pub fn finish(
    config: &SessionConfig,
    recording: OpenRecording,
    status: RecordingState,
) -> impl Future<Output = Result<(RecordingMeta, Option<OutboxEntry>), StorageError>> + 'static {
    let storage = config.storage.clone();
    let work = actix_web::rt::task::spawn_blocking(move || {
        let id = recording.id();
        let announced = std::cell::RefCell::new(None);
        let announce = |meta: &RecordingMeta| {
            let entry = completed_entry(storage.blobs(), meta)?;
            *announced.borrow_mut() = Some(entry.clone());
            Ok(Some(entry))
        };
        let mut result = recording.finish(status, announce);
        // The index unreachable (a database restarting): the bytes are fsynced here, the end
        // is remembered beside them, and the finish is tried again while the client waits.
        // Past the wait the sweep finishes it, as asked, once the index is back.
        if matches!(result, Err(StorageError::Io(_))) {
            if let Err(err) = OpenRecording::mark_ended(&storage, id, status) {
                log::warn!("recording {id}: its end could not be remembered: {err}");
            }
            let deadline = std::time::Instant::now() + FINISH_RETRY;
            while matches!(result, Err(StorageError::Io(_) | StorageError::Busy))
                && std::time::Instant::now() < deadline
            {
                if let Err(err) = &result {
                    log::warn!("recording {id} not finished yet, trying again: {err}");
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
                // Only an entry of the attempt that commits is the event.
                announced.borrow_mut().take();
                result = OpenRecording::finish_again(&storage, id, status, announce);
                if let Err(StorageError::AlreadyEnded(_)) = result {
                    // The sweep got there first, with its event (the outbox relays it).
                    announced.borrow_mut().take();
                    result = storage
                        .index()
                        .get(id)
                        .map_err(StorageError::Io)
                        .and_then(|meta| meta.ok_or(StorageError::NotFound));
                }
            }
        }
        let meta = result?;
        let event = announced
            .into_inner()
            .filter(|_| meta.status != RecordingState::Storing);
        Ok::<_, StorageError>((meta, event))
    });
    async move { work.await.map_err(|err| StorageError::Io(err.into()))? }
}

/// How long a finish that the index refused is tried again while the client waits.
const FINISH_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// What a session hears of a flush of its recording (see [`watch_durability`]).
pub enum Flushed {
    /// The shared store holds the recording further than before, up to here.
    Moved(Durable),
    /// Another instance took the recording over: the session has let it go already.
    TakenOver(RecordingId),
}

/// A session that holds a recording, as [`watch_durability`] sees it.
pub trait HoldsRecording: Actor {
    fn recording(&mut self) -> &mut Option<OpenRecording>;
    /// Whether a flush is under way (one at a time).
    fn flushing(&mut self) -> &mut bool;
    /// What came of a flush, for the session to tell its client.
    fn flushed(&mut self, news: Flushed, ctx: &mut Self::Context);
}

/// With recordings in a shared store: every segment interval, makes what the session's
/// recording accepted since the last flush durable there, off the arbiter, and renews this
/// instance's lease on it (see `storage::segments`). A failed flush is logged and tried again
/// next time: the client keeps its chunks until they are durable.
pub fn watch_durability<A>(config: &SessionConfig, ctx: &mut A::Context)
where
    A: HoldsRecording,
    A::Context: AsyncContext<A>,
{
    if !config.storage.segmented() {
        return;
    }
    ctx.run_interval(config.storage.segment_interval(), |act: &mut A, ctx| {
        if *act.flushing() {
            return;
        }
        let Some(recording) = act.recording().as_ref() else {
            return;
        };
        let storage = recording.storage().clone();
        let (id, from) = (recording.id(), recording.durable());
        let to = Durable {
            chunks: recording.chunks(),
            bytes: recording.bytes(),
        };
        let work =
            actix_web::rt::task::spawn_blocking(move || segments::flush(&storage, id, from, to));
        *act.flushing() = true;
        ctx.spawn(work.into_actor(act).map(move |result, act: &mut A, ctx| {
            *act.flushing() = false;
            let slot = act.recording();
            // A recording the session no longer holds (ended meanwhile): nothing to say.
            let Some(recording) = slot.as_mut().filter(|r| r.id() == id) else {
                return;
            };
            match result.map_err(std::io::Error::other).and_then(|r| r) {
                Ok(true) => {
                    let before = recording.durable();
                    recording.set_durable(to);
                    if to > before {
                        act.flushed(Flushed::Moved(to), ctx);
                    }
                }
                Ok(false) => {
                    log::warn!("recording {id} was taken over by another instance");
                    // Not ended, not released: it is another instance's now.
                    drop(slot.take());
                    act.flushed(Flushed::TakenOver(id), ctx);
                }
                Err(err) => log::warn!("recording {id} not made durable yet: {err}"),
            }
        }));
    });
}

/// A session started a recording: the supervisor learns who holds it, and the live pages hear
/// of it.
pub fn announce_start(
    supervisor: &Addr<RecordingSupervisor>,
    session_id: &str,
    meta: &RecordingMeta,
) {
    log::info!(
        "session {session_id}: recording {} started as {}",
        meta.id,
        meta.file_name
    );
    supervisor.do_send(Attached {
        session_id: session_id.to_owned(),
        recording_id: meta.id,
    });
    supervisor.do_send(Started(serde_json::json!({
        "recordingId": meta.id,
        "fileName": meta.file_name,
        "userId": meta.user_id,
        "status": "recording",
    })));
}

/// A session goes away. Its recording, if it holds one, stays resumable; or, when its client
/// had asked to end it (`finishing`: it left during the end grace), it ends now as asked, and
/// the supervisor hears of the finish as of any other.
pub fn leave(
    config: &SessionConfig,
    supervisor: &Addr<RecordingSupervisor>,
    session_id: &str,
    recording: Option<OpenRecording>,
    finishing: bool,
) {
    match recording {
        Some(recording) if finishing => {
            let id = recording.id();
            let work = finish(config, recording, RecordingState::Completed);
            let (supervisor, session_id) = (supervisor.clone(), session_id.to_owned());
            actix::spawn(async move {
                match work.await {
                    Ok((meta, event)) => supervisor.do_send(Finished {
                        session_id,
                        meta,
                        event,
                    }),
                    // The bytes stay in the partial folder; the sweep ends the recording later.
                    Err(err) => log::error!("recording {id} could not be finished: {err}"),
                }
            });
        }
        Some(recording) => {
            // Another host may take it over at once (a client reconnecting elsewhere).
            if recording.storage().segmented() {
                let (storage, id) = (recording.storage().clone(), recording.id());
                let release = move || {
                    if let Err(err) = segments::release(&storage, id) {
                        log::warn!("recording {id}: lease not released: {err}");
                    }
                };
                // A session stopped while the process shuts down has no runtime left to hand
                // the call to (spawning would panic): it releases the lease itself.
                if tokio::runtime::Handle::try_current().is_ok() {
                    actix_web::rt::task::spawn_blocking(release);
                } else {
                    release();
                }
            }
            recording.detach()
        }
        None => {}
    }
    supervisor.do_send(Leave {
        session_id: session_id.to_owned(),
        finishing,
    });
}
