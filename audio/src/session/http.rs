//! Recordings driven over HTTP, as the original's gateway drives its audio server: it keeps the
//! browser's socket itself and turns each frame into `POST /record/start|idle|end`, naming the
//! socket by `sessionId`. One [`HttpSession`] actor per `sessionId` owns the recording, exactly
//! as a [`super::RecordingSession`] does for a WebSocket: the same supervisor (and so the same
//! session limit), the same storage, the same completion event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use actix::prelude::*;
use serde::Serialize;

use super::end_grace::ChunkStyle;
use super::recorder::{self, not_started, Flushed, HoldsRecording, Refusal};
use super::SessionConfig;
use crate::domain::{RecordingId, SessionKey};
use crate::protocol::ErrorCode;
use crate::storage::{AppendOutcome, OpenRecording, RecordingState};
use crate::supervisor::{Admit, EndForShutdown, Finished, Joined, Leave, RecordingSupervisor};

/// The live HTTP-driven sessions by the gateway's `sessionId`, each with the user who started
/// it (a signed-in user's calls reach only their own sessions). Shared by the request handlers;
/// each actor takes itself out when it stops.
#[derive(Clone, Default)]
pub struct HttpSessions(Arc<Mutex<HashMap<SessionKey, Entry>>>);

struct Entry {
    addr: Addr<HttpSession>,
    /// The subject who started it (`None` on an open service).
    owner: Option<String>,
}

impl HttpSessions {
    fn table(&self) -> MutexGuard<'_, HashMap<SessionKey, Entry>> {
        // A panic while holding the lock leaves a plain map behind: still usable.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The session of `key`, if one is live and `owner`'s (another user's is not seen).
    pub fn get(&self, key: &SessionKey, owner: Option<&str>) -> Option<Addr<HttpSession>> {
        self.table()
            .get(key)
            .filter(|entry| entry.addr.connected() && entry.owner.as_deref() == owner)
            .map(|entry| entry.addr.clone())
    }

    /// The session of `key`, started for `owner` (and admitted by the supervisor, which may
    /// refuse it for the session limit) when there is none.
    pub async fn get_or_start(
        &self,
        key: &SessionKey,
        owner: Option<&str>,
        supervisor: &Addr<RecordingSupervisor>,
        config: &Arc<SessionConfig>,
    ) -> Result<Addr<HttpSession>, StartRefused> {
        let existing = |table: &HashMap<SessionKey, Entry>| match table.get(key) {
            Some(entry) if entry.addr.connected() => Some(if entry.owner.as_deref() == owner {
                Ok(entry.addr.clone())
            } else {
                Err(StartRefused::OtherUsers)
            }),
            _ => None,
        };
        if let Some(found) = existing(&self.table()) {
            return found;
        }
        let session_id = supervisor
            .send(Admit)
            .await
            .map_err(|_| StartRefused::Unavailable)?
            .map_err(|full| StartRefused::Full(full.0))?;
        let mut table = self.table();
        // Another request for the same key may have started it meanwhile: one owner only.
        if let Some(found) = existing(&table) {
            supervisor.do_send(Leave {
                session_id,
                finishing: false,
            });
            return found;
        }
        let addr = HttpSession {
            key: key.clone(),
            session_id,
            supervisor: supervisor.clone(),
            config: config.clone(),
            sessions: self.clone(),
            recording: None,
            style: ChunkStyle::default(),
            end_timer: None,
            last_seen: Instant::now(),
            flushing: false,
        }
        .start();
        table.insert(
            key.clone(),
            Entry {
                addr: addr.clone(),
                owner: owner.map(str::to_owned),
            },
        );
        Ok(addr)
    }
}

/// Why no session could be had for a start.
#[derive(Debug, Clone, Copy)]
pub enum StartRefused {
    /// The instance holds all the sessions it may.
    Full(usize),
    /// The supervisor is gone (shutting down).
    Unavailable,
    /// Another user's session has this `sessionId`.
    OtherUsers,
}

/// One HTTP-driven session: owns its recording (and so its file handle) between calls.
pub struct HttpSession {
    key: SessionKey,
    /// The supervisor's id for this session.
    session_id: String,
    supervisor: Addr<RecordingSupervisor>,
    config: Arc<SessionConfig>,
    sessions: HttpSessions,
    recording: Option<OpenRecording>,
    style: ChunkStyle,
    end_timer: Option<SpawnHandle>,
    /// The last call, for the idle timeouts.
    last_seen: Instant,
    /// A flush to the shared store is under way (see `recorder::watch_durability`).
    flushing: bool,
}

/// Where a recording stands, as the answers to the calls report it. An end with nothing to end
/// answers the session id, `idle` and a message only, hence the fields not required.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RecordProgress)]
pub struct Progress {
    pub session_id: String,
    #[schema(value_type = String, format = "uuid", required = false)]
    pub recording_id: RecordingId,
    #[schema(required = false)]
    pub file_name: String,
    #[schema(required = false)]
    pub bytes: u64,
    #[schema(required = false)]
    pub chunks: u64,
    /// `recording`, `finishing` (waiting out the grace for a late chunk), `completed`,
    /// `interrupted`, or `idle` (nothing to end).
    #[schema(value_type = String, pattern = "^(recording|finishing|completed|interrupted|idle)$")]
    pub status: &'static str,
    /// The original's words for the step (`Start record response: ...` and so on).
    pub message: String,
    /// For `finishing`: how long until the recording is finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finishes_in_ms: Option<u64>,
}

/// `POST /record/start`.
#[derive(Message)]
#[rtype(result = "Result<Progress, Refusal>")]
pub struct HttpStart {
    pub meta_id: Option<String>,
    pub user_id: Option<String>,
    pub mime_type: Option<String>,
}

/// `POST /record/idle`: one decoded chunk.
#[derive(Message)]
#[rtype(result = "Result<Progress, Refusal>")]
pub struct HttpChunk {
    pub bytes: bytes::Bytes,
    pub seq: Option<u64>,
}

/// `POST /record/end`. `None` when the session holds no recording (the original gateway also
/// sends it when a socket closes, whether or not it recorded).
#[derive(Message)]
#[rtype(result = "Result<Option<Progress>, Refusal>")]
pub struct HttpEnd;

impl HttpSession {
    fn progress(
        &self,
        recording: &OpenRecording,
        status: &'static str,
        message: String,
    ) -> Progress {
        Progress {
            session_id: self.key.to_string(),
            recording_id: recording.id(),
            file_name: recording.meta().file_name.clone(),
            bytes: recording.bytes(),
            chunks: recording.chunks(),
            status,
            message,
            finishes_in_ms: None,
        }
    }

    /// Finishes the recording now; the supervisor hears of it, and the future answers with what
    /// was stored.
    fn finish(
        &mut self,
        status: RecordingState,
    ) -> Option<impl ActorFuture<Self, Output = Result<Progress, Refusal>> + 'static> {
        let recording = self.recording.take()?;
        let id = recording.id();
        let work = recorder::finish(&self.config, recording, status);
        Some(
            work.into_actor(self)
                .map(move |result, act, _| match result {
                    Ok((meta, event)) => {
                        let progress = Progress {
                            session_id: act.key.to_string(),
                            recording_id: meta.id,
                            file_name: meta.file_name.clone(),
                            bytes: meta.size,
                            chunks: meta.chunks,
                            status: meta.ended_as.unwrap_or(meta.status).as_str(),
                            message: format!("End record response: {}", meta.file_name),
                            finishes_in_ms: None,
                        };
                        act.supervisor.do_send(Finished {
                            session_id: act.session_id.clone(),
                            meta,
                            event,
                        });
                        Ok(progress)
                    }
                    Err(err) => {
                        // The bytes stay in the partial folder; the sweep ends the recording later.
                        log::error!(
                            "http session {}: recording {id} could not be finished: {err}",
                            act.key
                        );
                        Err(Refusal::storage(
                            &err,
                            &format!("recording {id} could not be finished"),
                        ))
                    }
                }),
        )
    }

    /// A finish that waits out the grace happens now.
    fn finish_pending(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.end_timer.take() {
            ctx.cancel_future(timer);
            if let Some(work) = self.finish(RecordingState::Completed) {
                ctx.wait(work.map(|_, _, _| ()));
            }
        }
    }

    /// Ends the session when its caller has gone quiet: with no recording after the start
    /// timeout; with a recording after the HTTP idle timeout, leaving the recording to the
    /// stale-session sweep (which keeps every accepted byte).
    fn watch_idle(&self, ctx: &mut Context<Self>) {
        let every = (self.config.start_timeout.min(self.config.http_idle_timeout) / 4)
            .max(std::time::Duration::from_millis(50));
        ctx.run_interval(every, |act, ctx| {
            let quiet = act.last_seen.elapsed();
            let gone = match &act.recording {
                None => quiet > act.config.start_timeout,
                Some(_) if act.end_timer.is_some() => false,
                Some(recording) => {
                    let gone = quiet > act.config.http_idle_timeout;
                    if gone {
                        log::info!(
                            "http session {}: silent for {quiet:?}; recording {} left to the sweep",
                            act.key,
                            recording.id()
                        );
                    }
                    gone
                }
            };
            if gone {
                ctx.stop();
            }
        });
    }
}

impl HoldsRecording for HttpSession {
    fn recording(&mut self) -> &mut Option<OpenRecording> {
        &mut self.recording
    }

    fn flushing(&mut self) -> &mut bool {
        &mut self.flushing
    }

    /// Its caller is told nothing between calls: the answers to them say how things stand.
    fn flushed(&mut self, _: Flushed, _: &mut Self::Context) {}
}

impl Actor for HttpSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.watch_idle(ctx);
        // The original gateway does not resume; the segments let another host end the
        // recording with its bytes if this one is lost.
        recorder::watch_durability::<Self>(&self.config, ctx);
        self.supervisor.do_send(Joined {
            session_id: self.session_id.clone(),
            actor: ctx.address().recipient(),
        });
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        let mut table = self.sessions.table();
        if table.get(&self.key).map(|entry| &entry.addr) == Some(&ctx.address()) {
            table.remove(&self.key);
        }
        drop(table);
        let finishing = self.end_timer.is_some();
        recorder::leave(
            &self.config,
            &self.supervisor,
            &self.session_id,
            self.recording.take(),
            finishing,
        );
    }
}

impl Handler<HttpStart> for HttpSession {
    type Result = AtomicResponse<Self, Result<Progress, Refusal>>;

    fn handle(&mut self, msg: HttpStart, ctx: &mut Self::Context) -> Self::Result {
        self.last_seen = Instant::now();
        self.finish_pending(ctx);
        if let Some(recording) = &self.recording {
            let refusal = Refusal::new(
                ErrorCode::AlreadyStarted,
                format!(
                    "recording {} is already in progress for session {}",
                    recording.id(),
                    self.key
                ),
            );
            return AtomicResponse::new(Box::pin(actix::fut::ready(Err(refusal))));
        }
        // Without a metaId the file is named after the gateway's sessionId, as the original's.
        let new = match recorder::new_recording(
            self.key.to_string(),
            msg.meta_id.as_deref(),
            msg.user_id.as_deref(),
            msg.mime_type.as_deref(),
        ) {
            Ok(new) => new,
            Err(refusal) => return AtomicResponse::new(Box::pin(actix::fut::ready(Err(refusal)))),
        };
        // The original gateway has no use for a resume token: one is kept for form's sake and
        // never told, so these recordings are never resumed.
        let token = uuid::Uuid::new_v4().simple().to_string();
        let work = recorder::create(&self.config, new, token);
        AtomicResponse::new(Box::pin(work.into_actor(self).map(|result, act, _| {
            let recording = result.map_err(|err| {
                log::error!(
                    "http session {}: could not start a recording: {err}",
                    act.key
                );
                Refusal::new(
                    ErrorCode::StorageError,
                    format!("could not start the recording: {err}"),
                )
            })?;
            let meta = recording.meta();
            recorder::announce_start(&act.supervisor, &act.session_id, meta);
            let message = format!("Start record response: {}", meta.file_name);
            let progress = act.progress(&recording, "recording", message);
            act.recording = Some(recording);
            act.style = ChunkStyle::default();
            Ok(progress)
        })))
    }
}

impl Handler<HttpChunk> for HttpSession {
    type Result = Result<Progress, Refusal>;

    fn handle(&mut self, msg: HttpChunk, _: &mut Self::Context) -> Self::Result {
        self.last_seen = Instant::now();
        self.style.saw(msg.seq);
        let max = self.config.max_recording_bytes;
        let recording = self.recording.as_mut().ok_or_else(not_started)?;
        match recording.append(msg.seq, &msg.bytes, max) {
            Ok(AppendOutcome::Written { .. } | AppendOutcome::Duplicate { .. }) => {}
            Err(err) => return Err(Refusal::storage(&err, "chunk not stored")),
        }
        let status = if self.end_timer.is_some() {
            "finishing"
        } else {
            "recording"
        };
        let recording = self.recording.as_ref().ok_or_else(not_started)?;
        let message = format!("Idle chunk processed: {}", recording.meta().file_name);
        Ok(self.progress(recording, status, message))
    }
}

impl Handler<HttpEnd> for HttpSession {
    type Result = AtomicResponse<Self, Result<Option<Progress>, Refusal>>;

    fn handle(&mut self, _: HttpEnd, ctx: &mut Self::Context) -> Self::Result {
        self.last_seen = Instant::now();
        let ready = |answer| AtomicResponse::new(Box::pin(actix::fut::ready(answer)));
        let Some(recording) = &self.recording else {
            return ready(Ok(None));
        };
        let delay = self.style.end_delay(self.config.end_grace);
        if self.end_timer.is_some() || !delay.is_zero() {
            // Finished a grace later, so that a chunk still on its way is kept; a repeated end
            // (the original gateway sends one when the socket closes) changes nothing.
            let mut progress = self.progress(
                recording,
                "finishing",
                format!("End record response: {}", recording.meta().file_name),
            );
            progress.finishes_in_ms = Some(delay.as_millis() as u64);
            if self.end_timer.is_none() {
                self.end_timer = Some(ctx.run_later(delay, |act, ctx| {
                    act.end_timer = None;
                    if let Some(work) = act.finish(RecordingState::Completed) {
                        ctx.wait(work.map(|_, _, _| ()));
                    }
                }));
            }
            return ready(Ok(Some(progress)));
        }
        match self.finish(RecordingState::Completed) {
            Some(work) => AtomicResponse::new(Box::pin(work.map(|result, _, _| result.map(Some)))),
            None => ready(Ok(None)),
        }
    }
}

impl Handler<EndForShutdown> for HttpSession {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _: EndForShutdown, ctx: &mut Self::Context) -> Self::Result {
        // Asked to end: `completed`, as asked; otherwise `interrupted`, every byte kept.
        let status = match self.end_timer.take() {
            Some(timer) => {
                ctx.cancel_future(timer);
                RecordingState::Completed
            }
            None => RecordingState::Interrupted,
        };
        match self.finish(status) {
            Some(work) => AtomicResponse::new(Box::pin(
                work.map(|_, _, ctx: &mut Context<Self>| ctx.stop()),
            )),
            None => {
                ctx.stop();
                AtomicResponse::new(Box::pin(actix::fut::ready(())))
            }
        }
    }
}
