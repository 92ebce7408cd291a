//! The `Registry` actor: every application, instance and lease lives in its state, and every
//! change goes through its mailbox, so nothing is shared by locks. Eviction runs on the actor's
//! own interval; the renewal rate that self-preservation needs is measured in fixed windows.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde::Serialize;

use crate::model::{Application, Applications, InstanceInfo, InstanceStatus, LeaseInfo};
use crate::validate::{validate_registration, InvalidInstance};

/// Lease rules, as Eureka's server configures them.
#[derive(Debug, Clone)]
pub struct LeaseRules {
    /// Renewal interval assumed for instances that don't state one.
    pub default_renewal_interval: Duration,
    /// Lease duration assumed for instances that don't state one.
    pub default_lease_duration: Duration,
    /// How often expired leases are looked for.
    pub eviction_interval: Duration,
    /// Stop evicting when renewals fall below `renewal_threshold` of what is expected.
    pub self_preservation: bool,
    pub renewal_threshold: f64,
    /// The window in which renewals are counted (Eureka: one minute).
    pub renewal_window: Duration,
    /// How long changes stay in `/eureka/apps/delta`.
    pub delta_retention: Duration,
    /// Most instances held; more registrations are refused.
    pub max_instances: usize,
}

impl Default for LeaseRules {
    fn default() -> Self {
        Self {
            default_renewal_interval: Duration::from_secs(30),
            default_lease_duration: Duration::from_secs(90),
            eviction_interval: Duration::from_secs(60),
            self_preservation: true,
            renewal_threshold: 0.85,
            renewal_window: Duration::from_secs(60),
            delta_retention: Duration::from_secs(180),
            max_instances: 100_000,
        }
    }
}

#[derive(Debug, Clone)]
struct Lease {
    instance: InstanceInfo,
    registered_at: i64,
    last_renewal: Instant,
    last_renewal_ms: i64,
    service_up_at: i64,
    duration: Duration,
    renewal_interval: Duration,
    /// Whether this registry has seen the instance register or renew (not only copied from a
    /// peer at start): self-preservation expects renewals only from these.
    renewed_here: bool,
}

impl Lease {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.last_renewal) > self.duration
    }

    /// The instance as reported: lease timestamps filled in.
    fn report(&self) -> InstanceInfo {
        let mut instance = self.instance.clone();
        instance.lease_info = LeaseInfo {
            renewal_interval_in_secs: Some(self.renewal_interval.as_secs().max(1)),
            duration_in_secs: Some(self.duration.as_secs().max(1)),
            registration_timestamp: self.registered_at,
            last_renewal_timestamp: self.last_renewal_ms,
            eviction_timestamp: 0,
            service_up_timestamp: self.service_up_at,
        };
        instance
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("no such instance")]
    NotFound,
    #[error("{0}")]
    Invalid(#[from] InvalidInstance),
    #[error("the registry holds its maximum of {0} instances")]
    Full(usize),
}

pub struct Registry {
    rules: LeaseRules,
    apps: BTreeMap<String, BTreeMap<String, Lease>>,
    instance_count: usize,
    changes: VecDeque<(Instant, InstanceInfo)>,
    version: u64,
    renewals_this_window: u64,
    renewals_last_window: u64,
    /// False until one full window has been measured, as in Eureka.
    window_measured: bool,
    evicted_total: u64,
    started_at: Instant,
}

impl Registry {
    pub fn new(rules: LeaseRules) -> Self {
        Self {
            rules,
            apps: BTreeMap::new(),
            instance_count: 0,
            changes: VecDeque::new(),
            version: 0,
            renewals_this_window: 0,
            renewals_last_window: 0,
            window_measured: false,
            evicted_total: 0,
            started_at: Instant::now(),
        }
    }

    fn record_change(&mut self, mut instance: InstanceInfo, action: &str) {
        let now = Instant::now();
        instance.action_type = Some(action.into());
        self.version += 1;
        self.changes.push_back((now, instance));
        while let Some((at, _)) = self.changes.front() {
            if now.duration_since(*at) > self.rules.delta_retention {
                self.changes.pop_front();
            } else {
                break;
            }
        }
    }

    fn lease_mut(&mut self, app: &str, id: &str) -> Result<&mut Lease, RegistryError> {
        self.apps
            .get_mut(&app.to_ascii_uppercase())
            .and_then(|instances| instances.get_mut(id))
            .ok_or(RegistryError::NotFound)
    }

    fn find(&self, id: &str) -> Option<&Lease> {
        self.apps.values().find_map(|instances| instances.get(id))
    }

    /// Renewals expected per window if every instance seen renewing renews on its interval.
    fn expected_renewals(&self) -> f64 {
        let window = self.rules.renewal_window.as_secs_f64();
        self.apps
            .values()
            .flat_map(|instances| instances.values())
            .filter(|lease| lease.renewed_here)
            .map(|lease| window / lease.renewal_interval.as_secs_f64().max(0.001))
            .sum()
    }

    fn renewal_threshold(&self) -> u64 {
        (self.expected_renewals() * self.rules.renewal_threshold).floor() as u64
    }

    /// Eureka's rule: evict only while renewals of the last full window exceed the threshold.
    pub fn self_preservation_active(&self) -> bool {
        if !self.rules.self_preservation {
            return false;
        }
        let threshold = self.renewal_threshold();
        if threshold == 0 {
            return false; // nothing registered that renews: nothing to protect
        }
        !(self.window_measured && self.renewals_last_window > threshold)
    }

    fn evict_expired(&mut self) {
        if self.self_preservation_active() {
            let expired = self.count_expired();
            if expired > 0 {
                log::warn!(
                    "self-preservation: {expired} expired lease(s) kept (renewals {} <= threshold {})",
                    self.renewals_last_window,
                    self.renewal_threshold()
                );
            }
            return;
        }
        let now = Instant::now();
        let mut evicted = Vec::new();
        for instances in self.apps.values_mut() {
            instances.retain(|_, lease| {
                let keep = !lease.expired(now);
                if !keep {
                    evicted.push(lease.report());
                }
                keep
            });
        }
        self.apps.retain(|_, instances| !instances.is_empty());
        for instance in evicted {
            log::info!(
                "evicted {}/{} (lease expired)",
                instance.app,
                instance.instance_id
            );
            self.instance_count -= 1;
            self.evicted_total += 1;
            self.record_change(instance, "DELETED");
        }
    }

    fn count_expired(&self) -> usize {
        let now = Instant::now();
        self.apps
            .values()
            .flat_map(|instances| instances.values())
            .filter(|lease| lease.expired(now))
            .count()
    }

    fn all_instances(&self) -> impl Iterator<Item = &Lease> {
        self.apps.values().flat_map(|instances| instances.values())
    }

    fn applications(&self, filter: impl Fn(&InstanceInfo) -> bool) -> Applications {
        let application = self
            .apps
            .iter()
            .filter_map(|(name, instances)| {
                let instance: Vec<InstanceInfo> = instances
                    .values()
                    .map(Lease::report)
                    .filter(|i| filter(i))
                    .collect();
                (!instance.is_empty()).then(|| Application {
                    name: name.clone(),
                    instance,
                })
            })
            .collect();
        Applications {
            versions_delta: self.version.to_string(),
            apps_hashcode: Applications::hashcode_of(self.all_instances().map(|l| &l.instance)),
            application,
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.rules.eviction_interval, |act, _| act.evict_expired());
        ctx.run_interval(self.rules.renewal_window, |act, _| {
            act.renewals_last_window = act.renewals_this_window;
            act.renewals_this_window = 0;
            act.window_measured = true;
        });
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `POST /eureka/apps/{app}` (from a client, or replicated by a peer): answers the instance as
/// held now.
#[derive(Message)]
#[rtype(result = "Result<Box<InstanceInfo>, RegistryError>")]
pub struct Register {
    pub app: String,
    pub instance: InstanceInfo,
}

impl Handler<Register> for Registry {
    type Result = Result<Box<InstanceInfo>, RegistryError>;

    fn handle(&mut self, msg: Register, _: &mut Self::Context) -> Self::Result {
        self.register(&msg.app, msg.instance, true)
    }
}

impl Registry {
    /// Adds or replaces an instance's lease; `renewed_here` is false for one only copied from a
    /// peer at start.
    fn register(
        &mut self,
        app: &str,
        instance: InstanceInfo,
        renewed_here: bool,
    ) -> Result<Box<InstanceInfo>, RegistryError> {
        let mut instance = validate_registration(app, instance)?;
        let app = instance.app.clone();
        let id = instance.instance_id.clone();
        let existing = self.apps.get(&app).and_then(|i| i.get(&id)).cloned();
        if existing.is_none() && self.instance_count >= self.rules.max_instances {
            return Err(RegistryError::Full(self.rules.max_instances));
        }
        let now = now_ms();
        // An override set by an operator survives the instance re-registering, as in Eureka.
        if let Some(previous) = &existing {
            if previous.instance.overridden_status != InstanceStatus::Unknown {
                instance.overridden_status = previous.instance.overridden_status;
                instance.status = previous.instance.overridden_status;
            }
        }
        let renewal_interval = instance
            .lease_info
            .renewal_interval_in_secs
            .map(Duration::from_secs)
            .unwrap_or(self.rules.default_renewal_interval);
        let duration = instance
            .lease_info
            .duration_in_secs
            .map(Duration::from_secs)
            .unwrap_or(self.rules.default_lease_duration);
        instance.last_updated_timestamp = now.to_string();
        if instance.last_dirty_timestamp.is_empty() {
            instance.last_dirty_timestamp = now.to_string();
        }
        let lease = Lease {
            registered_at: existing.as_ref().map_or(now, |l| l.registered_at),
            service_up_at: existing.as_ref().map_or(now, |l| l.service_up_at),
            instance,
            last_renewal: Instant::now(),
            last_renewal_ms: now,
            duration,
            renewal_interval,
            renewed_here,
        };
        let report = lease.report();
        self.apps
            .entry(app.clone())
            .or_default()
            .insert(id.clone(), lease);
        if existing.is_none() {
            self.instance_count += 1;
        }
        log::info!("registered {app}/{id} ({})", report.status.as_str());
        self.record_change(
            report.clone(),
            if existing.is_some() {
                "MODIFIED"
            } else {
                "ADDED"
            },
        );
        Ok(Box::new(report))
    }
}

/// A peer's registry, fetched at start: its instances that this registry does not hold yet (or
/// holds older data of) are added. Answers how many.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct SyncFrom(pub Vec<InstanceInfo>);

impl Handler<SyncFrom> for Registry {
    type Result = usize;

    fn handle(&mut self, msg: SyncFrom, _: &mut Self::Context) -> usize {
        let mut loaded = 0;
        for instance in msg.0 {
            let theirs: i64 = instance.last_dirty_timestamp.parse().unwrap_or(0);
            let ours = self
                .apps
                .get(&instance.app.to_ascii_uppercase())
                .and_then(|i| i.get(&instance.instance_id))
                .map(|lease| {
                    lease
                        .instance
                        .last_dirty_timestamp
                        .parse::<i64>()
                        .unwrap_or(0)
                });
            if ours.is_some_and(|ours| ours >= theirs) {
                continue;
            }
            let app = instance.app.clone();
            match self.register(&app, instance, false) {
                Ok(_) => loaded += 1,
                Err(err) => log::warn!("a peer's instance of {app} was not taken: {err}"),
            }
        }
        loaded
    }
}

/// `PUT /eureka/apps/{app}/{id}`: a heartbeat. `NotFound` tells the client to register again.
#[derive(Message)]
#[rtype(result = "Result<(), RegistryError>")]
pub struct Renew {
    pub app: String,
    pub id: String,
    pub last_dirty_timestamp: Option<i64>,
}

impl Handler<Renew> for Registry {
    type Result = Result<(), RegistryError>;

    fn handle(&mut self, msg: Renew, _: &mut Self::Context) -> Self::Result {
        let lease = self.lease_mut(&msg.app, &msg.id)?;
        // The client holds newer instance data than we do: it must register again.
        let ours: i64 = lease.instance.last_dirty_timestamp.parse().unwrap_or(0);
        if msg.last_dirty_timestamp.is_some_and(|theirs| theirs > ours) {
            return Err(RegistryError::NotFound);
        }
        lease.last_renewal = Instant::now();
        lease.last_renewal_ms = now_ms();
        lease.renewed_here = true;
        self.renewals_this_window += 1;
        Ok(())
    }
}

/// `DELETE /eureka/apps/{app}/{id}`.
#[derive(Message)]
#[rtype(result = "Result<(), RegistryError>")]
pub struct Cancel {
    pub app: String,
    pub id: String,
}

impl Handler<Cancel> for Registry {
    type Result = Result<(), RegistryError>;

    fn handle(&mut self, msg: Cancel, _: &mut Self::Context) -> Self::Result {
        let app = msg.app.to_ascii_uppercase();
        let instances = self.apps.get_mut(&app).ok_or(RegistryError::NotFound)?;
        let lease = instances.remove(&msg.id).ok_or(RegistryError::NotFound)?;
        if instances.is_empty() {
            self.apps.remove(&app);
        }
        self.instance_count -= 1;
        log::info!("cancelled {app}/{}", msg.id);
        self.record_change(lease.report(), "DELETED");
        Ok(())
    }
}

/// `PUT .../status?value=X` (set) and `DELETE .../status` (remove, with an optional new status).
#[derive(Message)]
#[rtype(result = "Result<Box<InstanceInfo>, RegistryError>")]
pub struct OverrideStatus {
    pub app: String,
    pub id: String,
    /// `Some` sets the override; `None` removes it.
    pub value: Option<InstanceStatus>,
    /// With a removal: the status the instance takes (Eureka's `value` on DELETE).
    pub fallback: Option<InstanceStatus>,
}

impl Handler<OverrideStatus> for Registry {
    type Result = Result<Box<InstanceInfo>, RegistryError>;

    fn handle(&mut self, msg: OverrideStatus, _: &mut Self::Context) -> Self::Result {
        let lease = self.lease_mut(&msg.app, &msg.id)?;
        match msg.value {
            Some(status) => {
                lease.instance.overridden_status = status;
                lease.instance.status = status;
            }
            None => {
                lease.instance.overridden_status = InstanceStatus::Unknown;
                lease.instance.status = msg.fallback.unwrap_or(InstanceStatus::Unknown);
            }
        }
        lease.instance.last_updated_timestamp = now_ms().to_string();
        let report = lease.report();
        self.record_change(report.clone(), "MODIFIED");
        Ok(Box::new(report))
    }
}

/// `PUT .../metadata?key=value...`: answers the instance as held now.
#[derive(Message)]
#[rtype(result = "Result<Box<InstanceInfo>, RegistryError>")]
pub struct UpdateMetadata {
    pub app: String,
    pub id: String,
    pub entries: Vec<(String, String)>,
}

impl Handler<UpdateMetadata> for Registry {
    type Result = Result<Box<InstanceInfo>, RegistryError>;

    fn handle(&mut self, msg: UpdateMetadata, _: &mut Self::Context) -> Self::Result {
        let lease = self.lease_mut(&msg.app, &msg.id)?;
        let mut metadata = lease.instance.metadata.clone();
        metadata.extend(msg.entries);
        crate::validate::validate_metadata(&metadata)?;
        lease.instance.metadata = metadata;
        let now = now_ms().to_string();
        lease.instance.last_updated_timestamp = now.clone();
        // Newer data than peers hold: a replicated registration of it replaces theirs.
        lease.instance.last_dirty_timestamp = now;
        let report = lease.report();
        self.record_change(report.clone(), "MODIFIED");
        Ok(Box::new(report))
    }
}

/// Read queries; each answers with Eureka's JSON shape.
#[derive(Message)]
#[rtype(result = "Query")]
pub enum Lookup {
    AllApps,
    Delta,
    App(String),
    Instance { app: Option<String>, id: String },
    Vip(String),
}

#[derive(MessageResponse)]
pub enum Query {
    Apps(Applications),
    App(Option<Application>),
    Instance(Option<Box<InstanceInfo>>),
}

impl Handler<Lookup> for Registry {
    type Result = Query;

    fn handle(&mut self, msg: Lookup, _: &mut Self::Context) -> Query {
        match msg {
            Lookup::AllApps => Query::Apps(self.applications(|_| true)),
            Lookup::Delta => {
                let mut by_app: BTreeMap<String, Vec<InstanceInfo>> = BTreeMap::new();
                for (_, change) in &self.changes {
                    by_app
                        .entry(change.app.clone())
                        .or_default()
                        .push(change.clone());
                }
                let mut apps = self.applications(|_| false);
                apps.application = by_app
                    .into_iter()
                    .map(|(name, instance)| Application { name, instance })
                    .collect();
                Query::Apps(apps)
            }
            Lookup::App(app) => {
                let name = app.to_ascii_uppercase();
                Query::App(self.apps.get(&name).map(|instances| Application {
                    name: name.clone(),
                    instance: instances.values().map(Lease::report).collect(),
                }))
            }
            Lookup::Instance { app: Some(app), id } => Query::Instance(
                self.apps
                    .get(&app.to_ascii_uppercase())
                    .and_then(|i| i.get(&id))
                    .map(|lease| Box::new(lease.report())),
            ),
            Lookup::Instance { app: None, id } => {
                Query::Instance(self.find(&id).map(|lease| Box::new(lease.report())))
            }
            Lookup::Vip(vip) => Query::Apps(self.applications(|i| {
                i.vip_address.as_deref().is_some_and(|v| {
                    v.split(',')
                        .any(|one| one.trim().eq_ignore_ascii_case(&vip))
                })
            })),
        }
    }
}

/// Figures for `/health` and the dashboard.
#[derive(Message)]
#[rtype(result = "RegistryStatus")]
pub struct GetStatus;

#[derive(Debug, Clone, Serialize, MessageResponse)]
#[serde(rename_all = "camelCase")]
pub struct RegistryStatus {
    pub applications: usize,
    pub instances: usize,
    pub self_preservation_enabled: bool,
    pub self_preservation_active: bool,
    pub renewals_last_window: u64,
    pub renewal_threshold: u64,
    pub renewal_window_seconds: f64,
    pub evicted_total: u64,
    pub version: u64,
    pub uptime_seconds: u64,
    #[serde(skip)]
    pub rows: Vec<DashboardRow>,
}

/// One line of the dashboard.
#[derive(Debug, Clone)]
pub struct DashboardRow {
    pub app: String,
    pub instance_id: String,
    pub status: InstanceStatus,
    pub address: String,
    pub last_heartbeat_age: Duration,
    pub up_since_ms: i64,
    pub expired: bool,
}

impl Handler<GetStatus> for Registry {
    type Result = RegistryStatus;

    fn handle(&mut self, _: GetStatus, _: &mut Self::Context) -> RegistryStatus {
        let now = Instant::now();
        let rows = self
            .all_instances()
            .map(|lease| DashboardRow {
                app: lease.instance.app.clone(),
                instance_id: lease.instance.instance_id.clone(),
                status: lease.instance.status,
                address: format!(
                    "{}:{}",
                    lease.instance.host_name,
                    lease.instance.port.as_ref().map_or(0, |p| p.port)
                ),
                last_heartbeat_age: now.duration_since(lease.last_renewal),
                up_since_ms: lease.service_up_at,
                expired: lease.expired(now),
            })
            .collect();
        RegistryStatus {
            applications: self.apps.len(),
            instances: self.instance_count,
            self_preservation_enabled: self.rules.self_preservation,
            self_preservation_active: self.self_preservation_active(),
            renewals_last_window: self.renewals_last_window,
            renewal_threshold: self.renewal_threshold(),
            renewal_window_seconds: self.rules.renewal_window.as_secs_f64(),
            evicted_total: self.evicted_total,
            version: self.version,
            uptime_seconds: self.started_at.elapsed().as_secs(),
            rows,
        }
    }
}
