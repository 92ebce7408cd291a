//! The `RecordingSupervisor`: one per audio instance. It admits sockets up to the configured
//! limit, tracks which session holds which recording, ends abandoned recordings on its own
//! interval, and is where every finished recording is reported.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde::Serialize;

use kafka_core::{Delivered, OutboxEntry, Publish};

use crate::domain::RecordingId;
use crate::events::{completed_entry, Broadcast, EventHub};
use crate::storage::{self, RecordingMeta, RecordingState, Storage};

pub struct RecordingSupervisor {
    storage: Storage,
    publisher: Recipient<Publish>,
    hub: Addr<EventHub>,
    max_sessions: usize,
    resume_grace: Duration,
    sweep_interval: Duration,
    /// Live sockets and the recording each one holds, if any.
    sessions: HashMap<String, Option<RecordingId>>,
    /// Each live session's actor, to end its recording at shutdown.
    actors: HashMap<String, Recipient<EndForShutdown>>,
    /// Shutting down: no new sessions.
    draining: bool,
    sweeping: bool,
    completed: u64,
    interrupted: u64,
    events_delivered: u64,
    started_at: Instant,
}

/// What the supervisor needs besides its limits: where events go.
pub struct SupervisorLinks {
    pub publisher: Recipient<Publish>,
    pub hub: Addr<EventHub>,
}

impl RecordingSupervisor {
    pub fn new(
        storage: Storage,
        links: SupervisorLinks,
        max_sessions: usize,
        resume_grace: Duration,
        sweep_interval: Duration,
    ) -> Self {
        Self {
            storage,
            publisher: links.publisher,
            hub: links.hub,
            max_sessions,
            resume_grace,
            sweep_interval,
            sessions: HashMap::new(),
            actors: HashMap::new(),
            draining: false,
            sweeping: false,
            completed: 0,
            interrupted: 0,
            events_delivered: 0,
            started_at: Instant::now(),
        }
    }

    /// Looks for recordings nobody owns that outlived the grace period, off the arbiter.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        if self.sweeping {
            return;
        }
        self.sweeping = true;
        let storage = self.storage.clone();
        let grace = self.resume_grace;
        let work = actix_web::rt::task::spawn_blocking(move || {
            let entries = std::cell::RefCell::new(Vec::new());
            let swept = storage::end_abandoned(&storage, grace, &|meta| {
                let entry = completed_entry(storage.blobs(), meta)?;
                entries.borrow_mut().push((meta.id, entry.clone()));
                Ok(Some(entry))
            });
            // Only the events of recordings this sweep did end or store were written with them.
            let entries: Vec<OutboxEntry> = entries
                .into_inner()
                .into_iter()
                .filter(|(id, _)| {
                    swept
                        .ended
                        .iter()
                        .chain(&swept.stored)
                        .any(|meta| meta.id == *id && meta.status != RecordingState::Storing)
                })
                .map(|(_, entry)| entry)
                .collect();
            (swept.ended, entries)
        });
        ctx.spawn(work.into_actor(self).map(|result, act, ctx| {
            act.sweeping = false;
            match result {
                Ok((ended, entries)) => {
                    ended.into_iter().for_each(|meta| act.on_finished(meta));
                    entries
                        .into_iter()
                        .for_each(|entry| act.publish(entry, ctx));
                }
                Err(err) => log::error!("sweep task failed: {err}"),
            }
        }));
    }

    /// Hands an event that is already in the outbox to the publisher, asking to hear of its
    /// delivery.
    fn publish(&mut self, entry: OutboxEntry, ctx: &mut Context<Self>) {
        self.publisher.do_send(Publish {
            entry,
            notify: Some(ctx.address().recipient()),
        });
    }

    /// Every finished recording, ended by its client or by the sweep, passes through here.
    fn on_finished(&mut self, meta: RecordingMeta) {
        let ended = meta.ended_as.unwrap_or(meta.status);
        match ended {
            RecordingState::Interrupted => self.interrupted += 1,
            _ => self.completed += 1,
        }
        log::info!(
            "recording {} finished as {}: {} ({} bytes, {} chunks)",
            meta.id,
            ended.as_str(),
            meta.file_name,
            meta.size,
            meta.chunks
        );
    }
}

impl Actor for RecordingSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Recordings left by a crash are found at once, then on every interval.
        self.sweep(ctx);
        ctx.run_interval(self.sweep_interval, |act, ctx| act.sweep(ctx));
    }
}

/// Asks for a place for a new socket.
#[derive(Message)]
#[rtype(result = "Result<String, SessionsFull>")]
pub struct Admit;

/// Refusal of [`Admit`]: the limit of live sessions is reached.
#[derive(Debug, Clone, Copy)]
pub struct SessionsFull(pub usize);

/// A session went away: its recording, if any, is left resumable, or (`finishing`) is being
/// finished because its client asked to end it just before leaving.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub session_id: String,
    pub finishing: bool,
}

/// The service is shutting down: the session ends its recording as `interrupted` (every
/// acknowledged byte kept, its event written), or `completed` if its client had asked to end
/// it, and then goes away. Answered once the recording is stored and its event written.
#[derive(Message)]
#[rtype(result = "()")]
pub struct EndForShutdown;

/// A session now holds a recording (started or resumed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Attached {
    pub session_id: String,
    pub recording_id: RecordingId,
}

/// A session's client ended its recording; its completion event is in the outbox.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Finished {
    pub session_id: String,
    pub meta: RecordingMeta,
    /// Its completion event, already in the outbox; none while it waits as `storing`.
    pub event: Option<OutboxEntry>,
}

/// Figures for `/health`.
#[derive(Message)]
#[rtype(result = "SupervisorStats")]
pub struct GetStats;

#[derive(Debug, Clone, Serialize, MessageResponse)]
#[serde(rename_all = "camelCase")]
pub struct SupervisorStats {
    pub live_sessions: usize,
    pub live_recordings: usize,
    pub max_sessions: usize,
    pub completed: u64,
    pub interrupted: u64,
    pub events_delivered: u64,
    pub uptime_seconds: u64,
}

impl Handler<Admit> for RecordingSupervisor {
    type Result = Result<String, SessionsFull>;

    fn handle(&mut self, _: Admit, _: &mut Self::Context) -> Self::Result {
        if self.draining || self.sessions.len() >= self.max_sessions {
            return Err(SessionsFull(self.max_sessions));
        }
        let session_id = uuid::Uuid::new_v4().to_string();
        self.sessions.insert(session_id.clone(), None);
        Ok(session_id)
    }
}

impl Handler<Leave> for RecordingSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Leave, _: &mut Self::Context) {
        self.actors.remove(&msg.session_id);
        match self.sessions.remove(&msg.session_id) {
            Some(Some(recording)) if msg.finishing => log::info!(
                "session {} left while recording {recording} finishes",
                msg.session_id
            ),
            Some(Some(recording)) => log::info!(
                "session {} left recording {recording} unfinished; resumable for {:?}",
                msg.session_id,
                self.resume_grace
            ),
            _ => {}
        }
    }
}

impl Handler<Attached> for RecordingSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Attached, _: &mut Self::Context) {
        if let Some(slot) = self.sessions.get_mut(&msg.session_id) {
            *slot = Some(msg.recording_id);
        }
    }
}

impl Handler<Finished> for RecordingSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Finished, ctx: &mut Self::Context) {
        if let Some(slot) = self.sessions.get_mut(&msg.session_id) {
            *slot = None;
        }
        self.on_finished(msg.meta);
        if let Some(event) = msg.event {
            self.publish(event, ctx);
        }
    }
}

impl Handler<GetStats> for RecordingSupervisor {
    type Result = SupervisorStats;

    fn handle(&mut self, _: GetStats, _: &mut Self::Context) -> SupervisorStats {
        SupervisorStats {
            live_sessions: self.sessions.len(),
            live_recordings: self.sessions.values().filter(|r| r.is_some()).count(),
            max_sessions: self.max_sessions,
            completed: self.completed,
            interrupted: self.interrupted,
            events_delivered: self.events_delivered,
            uptime_seconds: self.started_at.elapsed().as_secs(),
        }
    }
}

impl Handler<Delivered> for RecordingSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Delivered, _: &mut Self::Context) {
        self.events_delivered += 1;
        log::debug!("event {} delivered to {}", msg.event_id, msg.topic);
    }
}

/// A recording started somewhere in this instance: tell the live pages.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Started(pub serde_json::Value);

impl Handler<Started> for RecordingSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Started, _: &mut Self::Context) {
        self.hub.do_send(Broadcast {
            kind: "started",
            data: msg.0,
        });
    }
}

/// A session's actor is running (sent from its `started`), with the address it ends its
/// recording at for shutdown.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Joined {
    pub session_id: String,
    pub actor: Recipient<EndForShutdown>,
}

impl Handler<Joined> for RecordingSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Joined, _: &mut Self::Context) {
        if self.sessions.contains_key(&msg.session_id) {
            self.actors.insert(msg.session_id, msg.actor);
        }
    }
}

/// Shutdown, step one: refuse new sessions. Answers how many recordings are live.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Drain;

impl Handler<Drain> for RecordingSupervisor {
    type Result = usize;

    fn handle(&mut self, _: Drain, _: &mut Self::Context) -> usize {
        self.draining = true;
        self.sessions.values().filter(|r| r.is_some()).count()
    }
}

/// Shutdown, step two (after the grace period): end every live recording as `interrupted`.
/// Answers when each session has stored its recording and written its event.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct EndAll;

impl Handler<EndAll> for RecordingSupervisor {
    type Result = ResponseFuture<usize>;

    fn handle(&mut self, _: EndAll, _: &mut Self::Context) -> Self::Result {
        let live: Vec<Recipient<EndForShutdown>> = self
            .sessions
            .iter()
            .filter(|(_, recording)| recording.is_some())
            .filter_map(|(id, _)| self.actors.get(id).cloned())
            .collect();
        Box::pin(async move {
            let count = live.len();
            futures_util::future::join_all(live.iter().map(|actor| actor.send(EndForShutdown)))
                .await;
            count
        })
    }
}
