use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::model::{Applications, ApplicationsEnvelope, InstanceInfo, InstanceStatus};
use crate::{local_socket, RegistryEndpoint};

/// The least time between the starts of two fetches that callers asked for with [`FetchNow`], so
/// that callers finding nothing while a service is down cannot flood the registry.
const FETCH_NOW_GAP: Duration = Duration::from_millis(200);

/// An instance a caller can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInstance {
    pub instance_id: String,
    pub host: String,
    pub port: u16,
    /// The instance's Unix socket, when it has one and runs on this host (`local_socket`).
    pub unix_socket: Option<PathBuf>,
}

/// A local copy of the registry: fetched whole at start, then kept fresh with deltas on an
/// interval (and whole again when the delta's hash code disagrees with the copy). Lookups are
/// answered from memory; while the registry is down, the last copy keeps serving. Subscribers
/// are told of each change to the services they follow as soon as the copy has it.
pub struct Discovery {
    endpoint: RegistryEndpoint,
    client: awc::Client,
    interval: Duration,
    apps: HashMap<String, HashMap<String, InstanceInfo>>,
    have_full_copy: bool,
    /// This kernel's, to tell which instances' Unix sockets are reachable.
    boot_id: Option<String>,
    fetching: bool,
    last_success: Option<Instant>,
    last_fetch_started: Option<Instant>,
    subscribers: Vec<Subscriber>,
    /// Callers of `FetchNow` waiting for the next fetch to start, then end.
    waiting_for_next: Vec<oneshot::Sender<()>>,
    /// Callers of `FetchNow` waiting for the fetch under way to end.
    waiting_for_current: Vec<oneshot::Sender<()>>,
    fetch_scheduled: bool,
}

struct Subscriber {
    recipient: Recipient<InstancesChanged>,
    /// Each service it follows, by the name it gave, in its order, with what it was last told
    /// (`None` until it is told anything).
    told: Vec<(String, Option<Vec<ServiceInstance>>)>,
}

impl Discovery {
    pub fn new(endpoint: RegistryEndpoint, interval: Duration) -> Self {
        Self {
            endpoint,
            client: awc::Client::default(),
            interval,
            apps: HashMap::new(),
            have_full_copy: false,
            boot_id: local_socket::boot_id(),
            fetching: false,
            last_success: None,
            last_fetch_started: None,
            subscribers: Vec::new(),
            waiting_for_next: Vec::new(),
            waiting_for_current: Vec::new(),
            fetch_scheduled: false,
        }
    }

    fn refresh(&mut self, ctx: &mut Context<Self>) {
        if self.fetching {
            return;
        }
        self.fetching = true;
        self.last_fetch_started = Some(Instant::now());
        self.waiting_for_current.append(&mut self.waiting_for_next);
        let full = !self.have_full_copy;
        let path = if full { "/apps" } else { "/apps/delta" };
        let request = self
            .endpoint
            .prepare(self.client.get(self.endpoint.url(path)))
            .send();
        let fetch = async move {
            let mut response = request.await.map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("registry answered {}", response.status()));
            }
            response
                .json::<ApplicationsEnvelope>()
                .limit(64 << 20)
                .await
                .map_err(|e| e.to_string())
        };
        ctx.spawn(fetch.into_actor(self).map(move |result, act, ctx| {
            act.fetching = false;
            let done = std::mem::take(&mut act.waiting_for_current);
            match result {
                Ok(envelope) => {
                    act.last_success = Some(Instant::now());
                    if full {
                        act.replace(envelope.applications);
                    } else if !act.apply_delta(envelope.applications) {
                        log::debug!("registry copy out of step: fetching it whole");
                        act.have_full_copy = false;
                        act.refresh(ctx);
                    }
                }
                Err(err) => {
                    let failed = act.endpoint.base().to_owned();
                    if act.endpoint.fail_over() {
                        // Another peer's deltas are not this one's: the next fetch is whole.
                        log::warn!(
                            "registry {failed} unreachable ({err}); asking {}",
                            act.endpoint.base()
                        );
                        act.have_full_copy = false;
                        act.fetch_soon(ctx);
                    } else {
                        log::warn!("registry {failed} unreachable ({err}); serving the last copy");
                    }
                }
            }
            act.tell_subscribers();
            for waiter in done {
                let _ = waiter.send(());
            }
            if !act.waiting_for_next.is_empty() {
                act.fetch_soon(ctx);
            }
        }));
    }

    fn replace(&mut self, applications: Applications) {
        self.apps = applications
            .application
            .into_iter()
            .map(|app| {
                let instances = app
                    .instance
                    .into_iter()
                    .map(|i| (i.instance_id.clone(), i))
                    .collect();
                (app.name.to_ascii_uppercase(), instances)
            })
            .collect();
        self.have_full_copy = true;
    }

    /// Applies changes in order; answers whether the copy now matches the registry's hash.
    fn apply_delta(&mut self, delta: Applications) -> bool {
        for app in delta.application {
            let name = app.name.to_ascii_uppercase();
            for instance in app.instance {
                let instances = self.apps.entry(name.clone()).or_default();
                match instance.action_type.as_deref() {
                    Some("DELETED") => {
                        instances.remove(&instance.instance_id);
                    }
                    _ => {
                        instances.insert(instance.instance_id.clone(), instance);
                    }
                }
            }
            if self.apps.get(&name).is_some_and(|i| i.is_empty()) {
                self.apps.remove(&name);
            }
        }
        let ours = Applications::hashcode_of(self.apps.values().flat_map(|i| i.values()));
        ours == delta.apps_hashcode
    }
}

impl Discovery {
    /// The `UP` instances of an app (case-insensitive) with an enabled port, by instance id.
    fn up_instances(&self, app: &str) -> Vec<ServiceInstance> {
        let mut found: Vec<ServiceInstance> = self
            .apps
            .get(&app.to_ascii_uppercase())
            .into_iter()
            .flat_map(|instances| instances.values())
            .filter(|i| i.status == InstanceStatus::Up)
            .filter_map(|i| {
                let port = i.port.as_ref().filter(|p| p.enabled)?.port;
                Some(ServiceInstance {
                    instance_id: i.instance_id.clone(),
                    host: if i.ip_addr.is_empty() {
                        i.host_name.clone()
                    } else {
                        i.ip_addr.clone()
                    },
                    port: u16::try_from(port).ok()?,
                    unix_socket: local_socket::same_host_socket(
                        &i.metadata,
                        self.boot_id.as_deref(),
                    ),
                })
            })
            .collect();
        found.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        found
    }

    /// Starts a fetch as soon as `FETCH_NOW_GAP` allows, unless one is under way or planned.
    fn fetch_soon(&mut self, ctx: &mut Context<Self>) {
        if self.fetching || self.fetch_scheduled {
            return;
        }
        let wait = self.last_fetch_started.map_or(Duration::ZERO, |at| {
            FETCH_NOW_GAP.saturating_sub(at.elapsed())
        });
        if wait.is_zero() {
            self.refresh(ctx);
        } else {
            self.fetch_scheduled = true;
            ctx.run_later(wait, |act, ctx| {
                act.fetch_scheduled = false;
                act.fetch_soon(ctx);
            });
        }
    }

    /// Sends each subscriber the services whose instances differ from what it was last told.
    /// The message is in the subscriber's mailbox before this handler returns, so whoever sees
    /// the change in this copy and then asks the subscriber finds it there too.
    fn tell_subscribers(&mut self) {
        self.subscribers.retain(|s| s.recipient.connected());
        let mut subscribers = std::mem::take(&mut self.subscribers);
        for subscriber in &mut subscribers {
            for (service, told) in &mut subscriber.told {
                let now = self.up_instances(service);
                if told.as_ref() != Some(&now) {
                    *told = Some(now.clone());
                    subscriber.recipient.do_send(InstancesChanged {
                        service: service.clone(),
                        instances: now,
                    });
                }
            }
        }
        self.subscribers = subscribers;
    }
}

impl Actor for Discovery {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.refresh(ctx);
        ctx.run_interval(self.interval, |act, ctx| act.refresh(ctx));
    }
}

/// The `UP` instances of an app (case-insensitive), from memory.
#[derive(Message)]
#[rtype(result = "Vec<ServiceInstance>")]
pub struct Lookup(pub String);

impl Handler<Lookup> for Discovery {
    type Result = MessageResult<Lookup>;

    fn handle(&mut self, msg: Lookup, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.up_instances(&msg.0))
    }
}

/// The `UP` instances of a service a subscriber follows, sent when they change.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct InstancesChanged {
    /// The service's name as the subscriber gave it.
    pub service: String,
    pub instances: Vec<ServiceInstance>,
}

/// Follow `services`: each is sent at once as an [`InstancesChanged`] with what the copy holds
/// (possibly nothing yet), then again whenever a refresh changes it. Without this a follower
/// polling with `Lookup` on its own interval lags the copy by up to that interval.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub services: Vec<String>,
    pub recipient: Recipient<InstancesChanged>,
}

impl Handler<Subscribe> for Discovery {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Self::Context) {
        self.subscribers.push(Subscriber {
            recipient: msg.recipient,
            told: msg.services.into_iter().map(|s| (s, None)).collect(),
        });
        // Tells the new one everything; the others, who have been told, get nothing new.
        self.tell_subscribers();
    }
}

/// Answers once a fetch that started after this message arrived has ended (successful or not;
/// at most one such fetch starts every 200 ms), subscribers told first. For a caller that found
/// no instance and would rather look again than fail: an instance that has just registered is
/// in the registry before the next interval's fetch.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FetchNow;

impl Handler<FetchNow> for Discovery {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: FetchNow, ctx: &mut Self::Context) -> Self::Result {
        let (done, wait) = oneshot::channel();
        self.waiting_for_next.push(done);
        self.fetch_soon(ctx);
        Box::pin(async move {
            let _ = wait.await;
        })
    }
}

/// Everything the copy holds, and how old it is.
#[derive(Message)]
#[rtype(result = "Snapshot")]
pub struct GetSnapshot;

#[derive(Debug, Clone, MessageResponse)]
pub struct Snapshot {
    pub apps: HashMap<String, Vec<InstanceInfo>>,
    pub age: Option<Duration>,
}

impl Handler<GetSnapshot> for Discovery {
    type Result = Snapshot;

    fn handle(&mut self, _: GetSnapshot, _: &mut Self::Context) -> Snapshot {
        Snapshot {
            apps: self
                .apps
                .iter()
                .map(|(name, instances)| (name.clone(), instances.values().cloned().collect()))
                .collect(),
            age: self.last_success.map(|at| at.elapsed()),
        }
    }
}
