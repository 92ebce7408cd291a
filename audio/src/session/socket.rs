//! The `RecordingSession`: one actor per WebSocket. It owns the open recording (and so its file
//! handle and lock), its sequence and byte counters, and the socket's heartbeat deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_http::ws::Item;
use actix_web_actors::ws::{self, CloseCode, CloseReason};
use bytes::{Bytes, BytesMut};

use super::end_grace::ChunkStyle;
use super::recorder::{self, not_started, Flushed, HoldsRecording, Refusal};
use super::SessionConfig;
use crate::cache_trim::{Trim, TrimMarks};
use crate::domain::{with_decoded_chunk, RecordingId};
use crate::identity::Caller;
use crate::protocol::{ClientMessage, DurableMark, ErrorCode, ParseError, ServerMessage};
use crate::storage::{AppendOutcome, OpenRecording, RecordingState, StorageError};
use crate::supervisor::{Attached, EndForShutdown, Finished, Joined, RecordingSupervisor};

pub struct RecordingSession {
    session_id: String,
    /// Who opened the socket: their recordings are theirs, and only theirs resume here.
    caller: Caller,
    supervisor: Addr<RecordingSupervisor>,
    config: Arc<SessionConfig>,
    recording: Option<OpenRecording>,
    last_seen: Instant,
    /// Since when this socket holds no recording.
    idle_since: Option<Instant>,
    /// A fragmented message being reassembled: (is text, bytes so far).
    fragment: Option<(bool, BytesMut)>,
    /// The recording's recent lengths, for trimming the page cache behind it.
    trim_marks: TrimMarks,
    /// Whether the client numbers its chunks, which decides how `record-end` finishes.
    style: ChunkStyle,
    /// `record-end` came and the finish waits for a late chunk (see `end_grace`).
    end_timer: Option<SpawnHandle>,
    /// A flush to the shared store is under way (see `recorder::watch_durability`).
    flushing: bool,
}

impl RecordingSession {
    pub fn new(
        session_id: String,
        caller: Caller,
        supervisor: Addr<RecordingSupervisor>,
        config: Arc<SessionConfig>,
    ) -> Self {
        Self {
            session_id,
            caller,
            supervisor,
            config,
            recording: None,
            last_seen: Instant::now(),
            idle_since: Some(Instant::now()),
            fragment: None,
            trim_marks: TrimMarks::default(),
            flushing: false,
            style: ChunkStyle::default(),
            end_timer: None,
        }
    }

    fn send(&self, ctx: &mut ws::WebsocketContext<Self>, message: &ServerMessage) {
        ctx.text(message.to_json());
    }

    fn fail(
        &self,
        ctx: &mut ws::WebsocketContext<Self>,
        code: ErrorCode,
        message: impl Into<String>,
    ) {
        self.send(ctx, &ServerMessage::error(code, message));
    }

    fn refuse(&self, ctx: &mut ws::WebsocketContext<Self>, refusal: Refusal) {
        self.fail(ctx, refusal.code, refusal.message);
    }

    /// Pings on an interval; a socket silent past the timeout is closed, leaving its recording
    /// resumable.
    fn watch_heartbeat(&self, ctx: &mut ws::WebsocketContext<Self>) {
        let every = self
            .config
            .ping_interval
            .min(self.config.start_timeout / 2)
            .max(Duration::from_millis(50));
        ctx.run_interval(every, |act, ctx| {
            let idle = act.recording.is_none()
                && act
                    .idle_since
                    .is_some_and(|since| since.elapsed() > act.config.start_timeout);
            if idle {
                log::info!(
                    "session {}: no recording within {:?}, closing",
                    act.session_id,
                    act.config.start_timeout
                );
                ctx.close(Some(CloseReason {
                    code: CloseCode::Policy,
                    description: Some("no recording started".into()),
                }));
                ctx.stop();
            } else if act.last_seen.elapsed() > act.config.heartbeat_timeout {
                log::info!("session {}: heartbeat timeout, closing", act.session_id);
                ctx.close(Some(CloseReason {
                    code: CloseCode::Away,
                    description: Some("heartbeat timeout".into()),
                }));
                ctx.stop();
            } else {
                ctx.ping(b"");
            }
        });
    }

    /// Asks for the recording's older bytes to leave the page cache (see `cache_trim`).
    fn watch_cache(&self, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(trim) = self.config.cache_trim.clone() else {
            return;
        };
        ctx.run_interval(trim.tick(), move |act, _| {
            let Some(recording) = &act.recording else {
                return;
            };
            if let Some((start, end)) = act.trim_marks.tick(recording.id(), recording.bytes()) {
                trim.trimmer.do_send(Trim {
                    path: recording.part_path(),
                    start,
                    end,
                });
            }
        });
    }

    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let message = match ClientMessage::parse(text) {
            Ok(message) => message,
            Err(err) => {
                let code = match err {
                    ParseError::BadJson(_) => ErrorCode::BadJson,
                    ParseError::UnknownAction(_) => ErrorCode::UnknownAction,
                    ParseError::BadMessage { .. } => ErrorCode::BadMessage,
                };
                return self.fail(ctx, code, err.to_string());
            }
        };
        match message {
            ClientMessage::RecordStart {
                meta_id,
                meta_data,
                mime_type,
            } => {
                // A signed-in user records as themselves, whatever `metaData.userId` says.
                let user_id = self.caller.recording_user(meta_data.user_id);
                self.start(
                    meta_id.as_deref(),
                    user_id.as_deref(),
                    mime_type.as_deref(),
                    ctx,
                )
            }
            ClientMessage::RecordIdle { chunk, seq } => {
                self.style.saw(seq);
                if let Err(err) = with_decoded_chunk(&chunk, |bytes| self.append(seq, bytes, ctx)) {
                    self.fail(ctx, ErrorCode::BadBase64, err.to_string())
                }
            }
            ClientMessage::RecordEnd {} => self.on_record_end(ctx),
            ClientMessage::Heartbeat {} => self.send(
                ctx,
                &ServerMessage::Heartbeat {
                    message: "Heartbeat acknowledged".into(),
                },
            ),
            ClientMessage::RecordResume {
                recording_id,
                resume_token,
            } => self.resume(&recording_id, resume_token, ctx),
        }
    }

    fn start(
        &mut self,
        meta_id: Option<&str>,
        user_id: Option<&str>,
        mime: Option<&str>,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        // A new start while the last recording waits for its late chunk: that one ends now.
        self.finish_pending(ctx);
        if let Some(recording) = &self.recording {
            let message = format!(
                "recording {} is already in progress on this socket",
                recording.id()
            );
            return self.fail(ctx, ErrorCode::AlreadyStarted, message);
        }
        let new = match recorder::new_recording(self.session_id.clone(), meta_id, user_id, mime) {
            Ok(new) => new,
            Err(refusal) => return self.refuse(ctx, refusal),
        };
        let token = uuid::Uuid::new_v4().simple().to_string();
        let work = recorder::create(&self.config, new, token.clone());
        // `wait` holds back later frames so chunks never overtake their start.
        ctx.wait(
            work.into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(recording) => {
                        let meta = recording.meta();
                        let started = ServerMessage::Started {
                            recording_id: meta.id,
                            session_id: act.session_id.clone(),
                            file_name: meta.file_name.clone(),
                            mime_type: meta.mime_type.clone(),
                            resume_token: token,
                            message: format!("Start record response: {}", meta.file_name),
                        };
                        recorder::announce_start(&act.supervisor, &act.session_id, meta);
                        act.recording = Some(recording);
                        act.style = ChunkStyle::default();
                        act.idle_since = None;
                        act.send(ctx, &started);
                    }
                    Err(err) => {
                        log::error!(
                            "session {}: could not start a recording: {err}",
                            act.session_id
                        );
                        act.fail(
                            ctx,
                            ErrorCode::StorageError,
                            format!("could not start the recording: {err}"),
                        );
                    }
                }),
        );
    }

    fn append(&mut self, seq: Option<u64>, chunk: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        let Some(recording) = self.recording.as_mut() else {
            return self.refuse(ctx, not_started());
        };
        // A positioned write into the page cache: it survives a crash of this process and is
        // cheap enough to do on the arbiter; fsync waits for the end of the recording.
        match recording.append(seq, chunk, self.config.max_recording_bytes) {
            Ok(outcome) => {
                let (seq, bytes, duplicate) = match outcome {
                    AppendOutcome::Written { seq, bytes } => (seq, bytes, false),
                    AppendOutcome::Duplicate { seq, bytes } => (seq, bytes, true),
                };
                let durable = durable_mark(recording);
                self.send(
                    ctx,
                    &ServerMessage::Ack {
                        seq,
                        bytes,
                        duplicate,
                        durable,
                    },
                )
            }
            Err(err) => {
                if let StorageError::Io(_) = err {
                    log::error!("session {}: chunk not stored: {err}", self.session_id);
                }
                self.refuse(ctx, Refusal::storage(&err, "chunk not stored"))
            }
        }
    }

    /// `record-end`: finishes now, or after the grace for a client whose last chunk may still
    /// be on its way (see `end_grace`).
    fn on_record_end(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        if self.end_timer.is_some() {
            return; // already finishing; the recording ends once
        }
        if self.recording.is_none() {
            return self.fail(
                ctx,
                ErrorCode::NotStarted,
                "no recording in progress on this socket",
            );
        }
        let delay = self.style.end_delay(self.config.end_grace);
        if delay.is_zero() {
            return self.end_as(RecordingState::Completed, ctx);
        }
        self.end_timer = Some(ctx.run_later(delay, |act, ctx| {
            act.end_timer = None;
            act.end_as(RecordingState::Completed, ctx);
        }));
    }

    /// A finish that waits for the grace happens now.
    fn finish_pending(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        if let Some(timer) = self.end_timer.take() {
            ctx.cancel_future(timer);
            self.end_as(RecordingState::Completed, ctx);
        }
    }

    /// Finishes the recording as `status` (`completed` for `record-end`, `interrupted` at
    /// shutdown): fsynced, its event in the outbox, then the client told.
    fn end_as(&mut self, status: RecordingState, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(recording) = self.recording.take() else {
            return self.fail(
                ctx,
                ErrorCode::NotStarted,
                "no recording in progress on this socket",
            );
        };
        self.idle_since = Some(Instant::now());
        let id = recording.id();
        let work = recorder::finish(&self.config, recording, status);
        ctx.wait(work.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok((meta, event)) => {
                    act.send(
                        ctx,
                        &ServerMessage::Completed {
                            recording_id: meta.id,
                            file_name: meta.file_name.clone(),
                            bytes: meta.size,
                            chunks: meta.chunks,
                            status: meta.ended_as.unwrap_or(meta.status).as_str().into(),
                            message: format!("End record response: {}", meta.file_name),
                        },
                    );
                    act.supervisor.do_send(Finished {
                        session_id: act.session_id.clone(),
                        meta,
                        event,
                    });
                }
                Err(err) => {
                    // The bytes stay in the partial folder; the sweep ends the recording later.
                    log::error!(
                        "session {}: recording {id} could not be finished: {err}",
                        act.session_id
                    );
                    act.fail(
                        ctx,
                        ErrorCode::StorageError,
                        format!("recording {id} could not be finished: {err}"),
                    );
                }
            }
        }));
    }

    fn resume(&mut self, recording_id: &str, token: String, ctx: &mut ws::WebsocketContext<Self>) {
        if let Some(recording) = &self.recording {
            let message = format!(
                "recording {} is already in progress on this socket",
                recording.id()
            );
            return self.fail(ctx, ErrorCode::AlreadyStarted, message);
        }
        let Ok(id) = recording_id.parse::<RecordingId>() else {
            return self.fail(
                ctx,
                ErrorCode::RecordingNotFound,
                "recordingId is not a recording id",
            );
        };
        let storage = self.config.storage.clone();
        let owner = self.caller.owner_filter().map(str::to_owned);
        let work = actix_web::rt::task::spawn_blocking(move || {
            OpenRecording::resume(&storage, id, &token, owner.as_deref())
        });
        self.finish_pending(ctx);
        ctx.wait(work.into_actor(self).map(move |result, act, ctx| {
            match result
                .map_err(|err| StorageError::Io(err.into()))
                .and_then(|r| r)
            {
                Ok(recording) => {
                    let resumed = ServerMessage::Resumed {
                        recording_id: id,
                        file_name: recording.meta().file_name.clone(),
                        bytes: recording.bytes(),
                        chunks: recording.chunks(),
                        seq: recording.last_seq(),
                        next_seq: recording.next_seq(),
                    };
                    log::info!(
                        "session {}: resumed recording {id} at {} bytes",
                        act.session_id,
                        recording.bytes()
                    );
                    act.supervisor.do_send(Attached {
                        session_id: act.session_id.clone(),
                        recording_id: id,
                    });
                    act.recording = Some(recording);
                    act.style = ChunkStyle::default();
                    act.idle_since = None;
                    act.send(ctx, &resumed);
                }
                Err(err) => act.refuse(ctx, Refusal::storage(&err, &format!("cannot resume {id}"))),
            }
        }));
    }

    fn on_binary(&mut self, bytes: &[u8], ctx: &mut ws::WebsocketContext<Self>) {
        self.style.saw_binary();
        self.append(None, bytes, ctx);
    }

    /// Reassembles a fragmented message, bounded by the frame limit.
    fn on_fragment(&mut self, item: Item, ctx: &mut ws::WebsocketContext<Self>) {
        let (first, text, data) = match item {
            Item::FirstText(data) => (true, true, data),
            Item::FirstBinary(data) => (true, false, data),
            Item::Continue(data) => (false, false, data),
            Item::Last(data) => {
                self.push_fragment(false, false, data, ctx);
                if let Some((text, whole)) = self.fragment.take() {
                    self.dispatch(text, whole.freeze(), ctx);
                }
                return;
            }
        };
        self.push_fragment(first, text, data, ctx);
    }

    fn push_fragment(
        &mut self,
        first: bool,
        text: bool,
        data: Bytes,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if first {
            self.fragment = Some((text, BytesMut::new()));
        }
        let Some((_, buffer)) = self.fragment.as_mut() else {
            return self.fail(
                ctx,
                ErrorCode::UnsupportedFrame,
                "continuation frame without a first frame",
            );
        };
        buffer.extend_from_slice(&data);
        if buffer.len() > self.config.max_frame_bytes {
            self.fragment = None;
            self.close_oversize(ctx);
        }
    }

    fn dispatch(&mut self, text: bool, data: Bytes, ctx: &mut ws::WebsocketContext<Self>) {
        if !text {
            return self.on_binary(&data, ctx);
        }
        match std::str::from_utf8(&data) {
            Ok(text) => self.on_text(text, ctx),
            Err(_) => self.fail(ctx, ErrorCode::BadJson, "text message is not UTF-8"),
        }
    }

    fn close_oversize(&self, ctx: &mut ws::WebsocketContext<Self>) {
        ctx.close(Some(CloseReason {
            code: CloseCode::Size,
            description: Some(format!(
                "message larger than {} bytes",
                self.config.max_frame_bytes
            )),
        }));
        ctx.stop();
    }
}

impl HoldsRecording for RecordingSession {
    fn recording(&mut self) -> &mut Option<OpenRecording> {
        &mut self.recording
    }

    fn flushing(&mut self) -> &mut bool {
        &mut self.flushing
    }

    /// The client hears how far its recording is durable (it keeps its chunks until then), or
    /// that the recording is another instance's now.
    fn flushed(&mut self, news: Flushed, ctx: &mut Self::Context) {
        match news {
            Flushed::Moved(to) => self.send(
                ctx,
                &ServerMessage::Durable {
                    chunks: to.chunks,
                    bytes: to.bytes,
                },
            ),
            Flushed::TakenOver(id) => {
                self.idle_since = Some(Instant::now());
                self.fail(
                    ctx,
                    ErrorCode::RecordingBusy,
                    format!("recording {id} was taken over by another instance; resume it there"),
                );
            }
        }
    }
}

impl Actor for RecordingSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.watch_heartbeat(ctx);
        self.watch_cache(ctx);
        recorder::watch_durability::<Self>(&self.config, ctx);
        self.supervisor.do_send(Joined {
            session_id: self.session_id.clone(),
            actor: ctx.address().recipient(),
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
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

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for RecordingSession {
    fn handle(&mut self, frame: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_seen = Instant::now();
        match frame {
            Ok(ws::Message::Text(text)) => self.on_text(&text, ctx),
            Ok(ws::Message::Binary(bytes)) => self.on_binary(&bytes, ctx),
            Ok(ws::Message::Continuation(item)) => self.on_fragment(item, ctx),
            Ok(ws::Message::Ping(payload)) => ctx.pong(&payload),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Err(ws::ProtocolError::Overflow) => self.close_oversize(ctx),
            Err(err) => {
                log::info!("session {}: protocol error: {err}", self.session_id);
                ctx.close(Some(CloseReason {
                    code: CloseCode::Protocol,
                    description: Some(err.to_string()),
                }));
                ctx.stop();
            }
        }
    }
}

impl Handler<EndForShutdown> for RecordingSession {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: EndForShutdown, ctx: &mut Self::Context) -> Self::Result {
        if let Some(timer) = self.end_timer.take() {
            // Its client asked to end: it ends `completed`, as asked.
            ctx.cancel_future(timer);
            self.end_as(RecordingState::Completed, ctx);
        } else if self.recording.is_some() {
            log::info!(
                "session {}: ending its recording for shutdown",
                self.session_id
            );
            self.end_as(RecordingState::Interrupted, ctx);
        }
        // A response future runs after the context's `wait` (the finish above), so the
        // supervisor hears back only once the recording is stored and its event written.
        Box::pin(
            actix::fut::ready(()).map(|_, _, ctx: &mut ws::WebsocketContext<Self>| {
                ctx.close(Some(CloseReason {
                    code: CloseCode::Away,
                    description: Some("server shutting down".into()),
                }));
                ctx.stop();
            }),
        )
    }
}

/// How far the recording is durable, for its acknowledgements: only when that differs from
/// what is acknowledged (recordings in a shared store).
fn durable_mark(recording: &OpenRecording) -> Option<DurableMark> {
    recording.storage().segmented().then(|| {
        let durable = recording.durable();
        DurableMark {
            chunks: durable.chunks,
            bytes: durable.bytes,
        }
    })
}
