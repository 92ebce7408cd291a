//! One `PeerNode` actor per peer registry: a bounded queue of what this registry's clients did,
//! sent in batches (`POST /eureka/peerreplication/batch`), in order, retried with a backoff
//! while the peer cannot be reached.
//!
//! - A heartbeat the peer answers 404 (it does not know the instance, or holds older data) is
//!   followed by a registration of the instance as this registry holds it, as Eureka does.
//! - When the queue is full (the peer has been away longer than the queue holds), what is queued
//!   is dropped and, once the peer answers again, this registry's whole content is sent as
//!   registrations: a full sync. Instances cancelled meanwhile expire on the peer with their
//!   lease.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde::Serialize;

use super::protocol::{
    Action, ReplicationInstance, ReplicationList, ReplicationListResponse, REPLICATION_HEADER,
};
use crate::registry::{Lookup, Query, Registry};

/// Items sent in one batch (Eureka's default is 250).
const BATCH: usize = 250;
/// How long a change waits for others to share its batch.
const GATHER: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the peer holds what its queue stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FullSync {
    /// The queue holds every change the peer has not had.
    NotNeeded,
    /// Changes were dropped: the peer gets a full sync once it answers again.
    Owed,
    /// The queue holds a full sync not yet delivered.
    Delivering,
}

pub struct PeerNode {
    url: String,
    token: Option<String>,
    registry: Addr<Registry>,
    client: awc::Client,
    queue: VecDeque<(Instant, ReplicationInstance)>,
    capacity: usize,
    sending: bool,
    scheduled: bool,
    failures: u32,
    full_sync: FullSync,
    reachable: Option<bool>,
    last_success: Option<Instant>,
    last_error: Option<String>,
    sent_total: u64,
    failed_batches_total: u64,
    dropped_total: u64,
    full_syncs_total: u64,
}

impl PeerNode {
    pub fn new(
        url: String,
        token: Option<String>,
        registry: Addr<Registry>,
        capacity: usize,
    ) -> Self {
        Self {
            url,
            token,
            registry,
            client: awc::Client::builder().timeout(TIMEOUT).finish(),
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            sending: false,
            scheduled: false,
            failures: 0,
            full_sync: FullSync::NotNeeded,
            reachable: None,
            last_success: None,
            last_error: None,
            sent_total: 0,
            failed_batches_total: 0,
            dropped_total: 0,
            full_syncs_total: 0,
        }
    }

    fn push(&mut self, item: ReplicationInstance) {
        if self.queue.len() >= self.capacity {
            // Longer away than the queue holds: what is queued no longer describes the gap.
            self.dropped_total += self.queue.len() as u64 + 1;
            self.queue.clear();
            if self.full_sync != FullSync::Owed {
                log::warn!(
                    "replication to {}: queue full ({} changes); a full sync follows once it answers",
                    self.url,
                    self.capacity
                );
            }
            // A full sync being delivered is cut short too: it starts again.
            self.full_sync = FullSync::Owed;
            return;
        }
        self.queue.push_back((Instant::now(), item));
    }

    fn schedule(&mut self, ctx: &mut Context<Self>, after: Duration) {
        if self.scheduled || self.sending {
            return;
        }
        self.scheduled = true;
        ctx.run_later(after, |act, ctx| {
            act.scheduled = false;
            act.send_next(ctx);
        });
    }

    fn backoff(&self) -> Duration {
        (Duration::from_millis(100) * 2u32.saturating_pow(self.failures.min(6))).min(MAX_BACKOFF)
    }

    fn send_next(&mut self, ctx: &mut Context<Self>) {
        if self.sending {
            return;
        }
        // A full sync waits until the peer answers: until then an empty batch probes it.
        if self.full_sync == FullSync::Owed && self.reachable == Some(true) {
            return self.start_full_sync(ctx);
        }
        if self.queue.is_empty() && self.full_sync != FullSync::Owed {
            return;
        }
        self.sending = true;
        let take = self.queue.len().min(BATCH);
        let batch: Vec<(Instant, ReplicationInstance)> = self.queue.drain(..take).collect();
        let body = ReplicationList {
            replication_list: batch.iter().map(|(_, item)| item.clone()).collect(),
        };
        let mut request = self
            .client
            .post(format!("{}/eureka/peerreplication/batch", self.url))
            .insert_header((REPLICATION_HEADER, "true"))
            .insert_header(("Accept", "application/json"));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let call = async move {
            let mut response = request.send_json(&body).await.map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("answered {}", response.status()));
            }
            response
                .json::<ReplicationListResponse>()
                .limit(16 << 20)
                .await
                .map_err(|e| format!("unreadable answer: {e}"))
        };
        ctx.spawn(call.into_actor(self).map(move |result, act, ctx| {
            act.sending = false;
            match result {
                Ok(answer) => {
                    if act.reachable != Some(true) {
                        log::info!("replication to {}: reachable", act.url);
                    }
                    act.reachable = Some(true);
                    act.failures = 0;
                    act.last_success = Some(Instant::now());
                    act.last_error = None;
                    act.sent_total += batch.len() as u64;
                    if act.full_sync == FullSync::Delivering && act.queue.is_empty() {
                        act.full_sync = FullSync::NotNeeded;
                        act.full_syncs_total += 1;
                        log::info!("replication to {}: full sync delivered", act.url);
                    }
                    act.follow_up(&batch, &answer, ctx);
                    act.schedule(ctx, Duration::ZERO);
                }
                Err(err) => {
                    if act.reachable != Some(false) {
                        log::warn!("replication to {} failed: {err}; retrying", act.url);
                    }
                    act.reachable = Some(false);
                    act.failures += 1;
                    act.failed_batches_total += 1;
                    act.last_error = Some(err);
                    if act.full_sync == FullSync::Owed {
                        // What was queued is superseded by the full sync to come.
                        act.queue.clear();
                        let wait = act.backoff();
                        return act.schedule(ctx, wait);
                    }
                    // Back at the front, in order, for the next try.
                    for item in batch.into_iter().rev() {
                        act.queue.push_front(item);
                    }
                    if act.queue.len() > act.capacity {
                        // Still away, and more has happened than the queue holds (a full sync
                        // under way is started again once the peer answers).
                        if act.full_sync != FullSync::Delivering {
                            act.dropped_total += act.queue.len() as u64;
                        }
                        act.queue.clear();
                        act.full_sync = FullSync::Owed;
                    }
                    let wait = act.backoff();
                    act.schedule(ctx, wait);
                }
            }
        }));
    }

    /// A heartbeat the peer did not know: register the instance there as held here.
    fn follow_up(
        &mut self,
        batch: &[(Instant, ReplicationInstance)],
        answer: &ReplicationListResponse,
        ctx: &mut Context<Self>,
    ) {
        for ((_, item), response) in batch.iter().zip(&answer.response_list) {
            if item.action != Action::Heartbeat || response.status_code != 404 {
                continue;
            }
            let lookup = self.registry.send(Lookup::Instance {
                app: Some(item.app_name.clone()),
                id: item.id.clone(),
            });
            ctx.spawn(lookup.into_actor(self).map(|found, act, ctx| {
                if let Ok(Query::Instance(Some(instance))) = found {
                    act.push(ReplicationInstance::register(*instance));
                    act.schedule(ctx, Duration::ZERO);
                }
            }));
        }
    }

    /// Queues this registry's whole content as registrations.
    fn start_full_sync(&mut self, ctx: &mut Context<Self>) {
        self.sending = true;
        let all = self.registry.send(Lookup::AllApps);
        ctx.spawn(all.into_actor(self).map(|found, act, ctx| {
            act.sending = false;
            let Ok(Query::Apps(apps)) = found else {
                return;
            };
            act.full_sync = FullSync::Delivering;
            let instances: Vec<_> = apps
                .application
                .into_iter()
                .flat_map(|app| app.instance)
                .collect();
            log::info!(
                "replication to {}: full sync of {} instances",
                act.url,
                instances.len()
            );
            // A full sync may be longer than the queue: it is what the queue stands for.
            act.queue = instances
                .into_iter()
                .map(|i| (Instant::now(), ReplicationInstance::register(i)))
                .collect();
            act.schedule(ctx, Duration::ZERO);
        }));
    }
}

impl Actor for PeerNode {
    type Context = Context<Self>;
}

/// A change to replicate.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Enqueue(pub ReplicationInstance);

impl Handler<Enqueue> for PeerNode {
    type Result = ();

    fn handle(&mut self, msg: Enqueue, ctx: &mut Self::Context) {
        self.push(msg.0);
        let wait = if self.failures > 0 {
            self.backoff()
        } else {
            GATHER
        };
        self.schedule(ctx, wait);
    }
}

/// How replication to one peer stands, for `/health`, `/metrics` and the dashboard.
#[derive(Debug, Clone, Serialize, MessageResponse)]
#[serde(rename_all = "camelCase")]
pub struct PeerStatus {
    pub url: String,
    /// `null` until the first batch was tried.
    pub reachable: Option<bool>,
    pub backlog: usize,
    /// Age of the oldest change not yet delivered, in seconds.
    pub lag_seconds: f64,
    pub last_success_seconds_ago: Option<f64>,
    pub last_error: Option<String>,
    pub sent_total: u64,
    pub failed_batches_total: u64,
    pub dropped_total: u64,
    /// Full syncs delivered to the peer.
    pub full_syncs_total: u64,
}

#[derive(Message)]
#[rtype(result = "PeerStatus")]
pub struct GetPeerStatus;

impl Handler<GetPeerStatus> for PeerNode {
    type Result = PeerStatus;

    fn handle(&mut self, _: GetPeerStatus, _: &mut Self::Context) -> PeerStatus {
        PeerStatus {
            url: self.url.clone(),
            reachable: self.reachable,
            backlog: self.queue.len(),
            lag_seconds: self
                .queue
                .front()
                .map_or(0.0, |(at, _)| at.elapsed().as_secs_f64()),
            last_success_seconds_ago: self.last_success.map(|at| at.elapsed().as_secs_f64()),
            last_error: self.last_error.clone(),
            sent_total: self.sent_total,
            failed_batches_total: self.failed_batches_total,
            dropped_total: self.dropped_total,
            full_syncs_total: self.full_syncs_total,
        }
    }
}
