//! The `Balancer` actor: the gateway's view of every routed service. It follows the `UP`
//! instances in the registry client's `Discovery` cache, which pushes each change as soon as its
//! copy has it (so routing goes on from the last copy while the registry is down, and an
//! instance back after a restart is routed to on the copy's next refresh, not one later), picks
//! an instance per request (round-robin for HTTP, least open sockets for WebSockets), and ejects
//! instances that refuse connections or fail repeatedly, for a while.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use registry_client::{Discovery, InstancesChanged, ServiceInstance, Subscribe};
use serde::Serialize;

use crate::client::LocalSockets;

#[derive(Debug, Default, Clone)]
struct Health {
    failures: u32,
    ejected_until: Option<Instant>,
    open_websockets: usize,
}

pub struct Balancer {
    discovery: Addr<Discovery>,
    services: Vec<String>,
    ejection: Duration,
    max_failures: u32,
    instances: HashMap<String, Vec<ServiceInstance>>,
    cursors: HashMap<String, usize>,
    health: HashMap<String, Health>,
    ejections_total: u64,
    /// Where the instances on this host that have a Unix socket get published for the
    /// connectors; `None` when the gateway relays over TCP only.
    local_sockets: Option<LocalSockets>,
}

impl Balancer {
    pub fn new(
        discovery: Addr<Discovery>,
        services: Vec<String>,
        ejection: Duration,
        max_failures: u32,
    ) -> Self {
        Self {
            discovery,
            services,
            ejection,
            max_failures,
            instances: HashMap::new(),
            cursors: HashMap::new(),
            health: HashMap::new(),
            ejections_total: 0,
            local_sockets: None,
        }
    }

    pub fn with_local_sockets(mut self, local_sockets: Option<LocalSockets>) -> Self {
        self.local_sockets = local_sockets;
        self
    }

    /// Publishes the Unix sockets of every known instance that has one on this host.
    fn publish_local_sockets(&self) {
        let Some(local) = &self.local_sockets else {
            return;
        };
        let sockets = self
            .instances
            .values()
            .flatten()
            .filter_map(|i| Some(((i.host.clone(), i.port), i.unix_socket.clone()?)))
            .collect();
        local.replace(sockets);
    }

    fn ejected(&self, id: &str, now: Instant) -> bool {
        self.health
            .get(id)
            .and_then(|h| h.ejected_until)
            .is_some_and(|until| until > now)
    }

    fn eject(&mut self, id: &str, why: &str) {
        let until = Instant::now() + self.ejection;
        let health = self.health.entry(id.to_owned()).or_default();
        if health.ejected_until.is_none_or(|u| u <= Instant::now()) {
            self.ejections_total += 1;
            log::warn!("ejecting {id} for {:?}: {why}", self.ejection);
        }
        health.ejected_until = Some(until);
        health.failures = 0;
    }
}

impl Actor for Balancer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.discovery.do_send(Subscribe {
            services: self.services.clone(),
            recipient: ctx.address().recipient(),
        });
    }
}

impl Handler<InstancesChanged> for Balancer {
    type Result = ();

    fn handle(&mut self, msg: InstancesChanged, _: &mut Self::Context) {
        let InstancesChanged { service, instances } = msg;
        let before = self.instances.get(&service).map_or(0, Vec::len);
        if before != instances.len() {
            log::info!("{service}: {before} -> {} instances", instances.len());
        }
        self.instances.insert(service, instances);
        self.publish_local_sockets();
    }
}

/// An instance chosen for one request or socket.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub instance_id: String,
    /// `host:port`.
    pub authority: String,
}

/// Chooses an instance of `service`, skipping `exclude` (instances already tried).
#[derive(Message)]
#[rtype(result = "Option<Upstream>")]
pub struct Pick {
    pub service: String,
    pub websocket: bool,
    pub exclude: Vec<String>,
}

impl Handler<Pick> for Balancer {
    type Result = Option<Upstream>;

    fn handle(&mut self, msg: Pick, _: &mut Self::Context) -> Option<Upstream> {
        let now = Instant::now();
        let all = self.instances.get(&msg.service)?;
        let untried: Vec<&ServiceInstance> = all
            .iter()
            .filter(|i| !msg.exclude.contains(&i.instance_id))
            .collect();
        let healthy: Vec<&ServiceInstance> = untried
            .iter()
            .copied()
            .filter(|i| !self.ejected(&i.instance_id, now))
            .collect();
        // When every instance is ejected, try them anyway rather than fail outright.
        let candidates = if healthy.is_empty() { untried } else { healthy };
        if candidates.is_empty() {
            return None;
        }
        let cursor = self.cursors.entry(msg.service.clone()).or_default();
        *cursor = cursor.wrapping_add(1);
        let start = *cursor % candidates.len();
        let chosen = if msg.websocket {
            // Least open sockets; ties go round-robin from the cursor.
            let open = |i: &ServiceInstance| {
                self.health
                    .get(&i.instance_id)
                    .map_or(0, |h| h.open_websockets)
            };
            (0..candidates.len())
                .map(|k| candidates[(start + k) % candidates.len()])
                .min_by_key(|i| open(i))?
        } else {
            candidates[start]
        };
        Some(Upstream {
            instance_id: chosen.instance_id.clone(),
            authority: format!("{}:{}", chosen.host, chosen.port),
        })
    }
}

/// How a request to an instance went.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Outcome {
    pub instance_id: String,
    pub result: Attempt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Success,
    /// The connection was refused or could not be made: ejected at once.
    Refused,
    /// A 5xx or a timeout: ejected after repeated failures.
    Failed,
}

impl Handler<Outcome> for Balancer {
    type Result = ();

    fn handle(&mut self, msg: Outcome, _: &mut Self::Context) {
        match msg.result {
            Attempt::Success => {
                if let Some(health) = self.health.get_mut(&msg.instance_id) {
                    health.failures = 0;
                }
            }
            Attempt::Refused => self.eject(&msg.instance_id, "connection refused"),
            Attempt::Failed => {
                let health = self.health.entry(msg.instance_id.clone()).or_default();
                health.failures += 1;
                if health.failures >= self.max_failures {
                    let failures = health.failures;
                    self.eject(&msg.instance_id, &format!("{failures} failures in a row"));
                }
            }
        }
    }
}

/// A proxied socket opened (`true`) or closed (`false`) on an instance.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SocketCount {
    pub instance_id: String,
    pub opened: bool,
}

impl Handler<SocketCount> for Balancer {
    type Result = ();

    fn handle(&mut self, msg: SocketCount, _: &mut Self::Context) {
        let health = self.health.entry(msg.instance_id).or_default();
        if msg.opened {
            health.open_websockets += 1;
        } else {
            health.open_websockets = health.open_websockets.saturating_sub(1);
        }
    }
}

/// What the balancer knows, for `/health` and `/metrics`.
#[derive(Message)]
#[rtype(result = "BalancerStatus")]
pub struct GetStatus;

#[derive(Debug, Clone, Serialize, MessageResponse)]
#[serde(rename_all = "camelCase")]
pub struct BalancerStatus {
    pub services: HashMap<String, Vec<InstanceStatus>>,
    pub ejections_total: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceStatus {
    pub instance_id: String,
    pub address: String,
    pub ejected: bool,
    pub open_websockets: usize,
    pub failures: u32,
    /// The Unix socket the gateway connects to instead of `address` (an instance on this host
    /// that advertises one), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unix_socket: Option<String>,
}

impl Handler<GetStatus> for Balancer {
    type Result = BalancerStatus;

    fn handle(&mut self, _: GetStatus, _: &mut Self::Context) -> BalancerStatus {
        let now = Instant::now();
        let services = self
            .services
            .iter()
            .map(|service| {
                let instances = self
                    .instances
                    .get(service)
                    .into_iter()
                    .flatten()
                    .map(|i| {
                        let health = self.health.get(&i.instance_id).cloned().unwrap_or_default();
                        InstanceStatus {
                            instance_id: i.instance_id.clone(),
                            address: format!("{}:{}", i.host, i.port),
                            ejected: self.ejected(&i.instance_id, now),
                            open_websockets: health.open_websockets,
                            failures: health.failures,
                            unix_socket: self
                                .local_sockets
                                .as_ref()
                                .and(i.unix_socket.as_ref())
                                .map(|p| p.display().to_string()),
                        }
                    })
                    .collect();
                (service.clone(), instances)
            })
            .collect();
        BalancerStatus {
            services,
            ejections_total: self.ejections_total,
        }
    }
}
