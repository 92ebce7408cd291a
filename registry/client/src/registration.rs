use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;

use crate::model::{
    DataCenterInfo, InstanceEnvelope, InstanceInfo, InstanceStatus, LeaseInfo, PortInfo,
};
use crate::RegistryEndpoint;

/// What an instance registers as.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    pub app: String,
    pub instance_id: String,
    pub host: String,
    pub port: u16,
    /// Path of the health endpoint, e.g. `/health`.
    pub health_path: String,
    pub metadata: BTreeMap<String, String>,
    pub renewal_interval: Duration,
    pub lease_duration: Duration,
}

impl InstanceSpec {
    pub fn new(app: &str, host: &str, port: u16) -> Self {
        Self {
            app: app.to_ascii_uppercase(),
            instance_id: format!("{host}:{}:{port}", app.to_ascii_lowercase()),
            host: host.into(),
            port,
            health_path: "/health".into(),
            metadata: BTreeMap::new(),
            renewal_interval: Duration::from_secs(30),
            lease_duration: Duration::from_secs(90),
        }
    }

    fn to_instance(&self, dirty_timestamp: i64) -> InstanceInfo {
        let base = format!("http://{}:{}", self.host, self.port);
        InstanceInfo {
            instance_id: self.instance_id.clone(),
            host_name: self.host.clone(),
            app: self.app.clone(),
            ip_addr: self.host.clone(),
            status: InstanceStatus::Up,
            overridden_status: InstanceStatus::Unknown,
            port: Some(PortInfo {
                port: self.port.into(),
                enabled: true,
            }),
            secure_port: Some(PortInfo {
                port: 443,
                enabled: false,
            }),
            country_id: 1,
            data_center_info: DataCenterInfo::default(),
            lease_info: LeaseInfo {
                renewal_interval_in_secs: Some(self.renewal_interval.as_secs().max(1)),
                duration_in_secs: Some(self.lease_duration.as_secs().max(1)),
                ..LeaseInfo::default()
            },
            metadata: self.metadata.clone(),
            home_page_url: Some(format!("{base}/")),
            status_page_url: Some(format!("{base}{}", self.health_path)),
            health_check_url: Some(format!("{base}{}", self.health_path)),
            secure_health_check_url: None,
            vip_address: Some(self.app.to_ascii_lowercase()),
            secure_vip_address: Some(self.app.to_ascii_lowercase()),
            is_coordinating_discovery_server: "false".into(),
            last_updated_timestamp: dirty_timestamp.to_string(),
            last_dirty_timestamp: dirty_timestamp.to_string(),
            action_type: None,
        }
    }
}

/// Keeps one instance registered: registers at start, heartbeats on its interval, registers
/// again when the registry answers 404 (it restarted or evicted us), and backs off while the
/// registry is unreachable. The service keeps running whatever the registry does.
pub struct Registration {
    endpoint: RegistryEndpoint,
    spec: InstanceSpec,
    client: awc::Client,
    registered: bool,
    failures: u32,
    dirty_timestamp: i64,
    stopped: bool,
}

impl Registration {
    pub fn new(endpoint: RegistryEndpoint, spec: InstanceSpec) -> Self {
        Self {
            endpoint,
            spec,
            client: awc::Client::default(),
            registered: false,
            failures: 0,
            dirty_timestamp: chrono::Utc::now().timestamp_millis(),
            stopped: false,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.stopped {
            return;
        }
        let app = self.spec.app.clone();
        let id = self.spec.instance_id.clone();
        let registering = !self.registered;
        let request = if registering {
            let body = InstanceEnvelope {
                instance: self.spec.to_instance(self.dirty_timestamp),
            };
            let req = self
                .endpoint
                .prepare(self.client.post(self.endpoint.url(&format!("/apps/{app}"))))
                .force_close();
            futures_util::future::Either::Left(req.send_json(&body))
        } else {
            let url = self.endpoint.url(&format!(
                "/apps/{app}/{id}?status=UP&lastDirtyTimestamp={}",
                self.dirty_timestamp
            ));
            // A fresh connection each time: a pooled one to a registry that died can hang until
            // the timeout, and registrations are rare enough not to need keep-alive.
            futures_util::future::Either::Right(
                self.endpoint
                    .prepare(self.client.put(url))
                    .force_close()
                    .send(),
            )
        };
        ctx.wait(request.into_actor(self).map(move |result, act, ctx| {
            let next = match result.map(|response| response.status().as_u16()) {
                Ok(200..=299) => {
                    if registering {
                        log::info!("registered {app}/{id} with {}", act.endpoint.base());
                    }
                    act.registered = true;
                    act.failures = 0;
                    act.spec.renewal_interval
                }
                Ok(404) => {
                    log::info!("registry does not know {app}/{id}: registering again");
                    act.registered = false;
                    Duration::ZERO
                }
                outcome => {
                    act.failures += 1;
                    let failed = act.endpoint.base().to_owned();
                    // With peers, the next one is tried at once (it knows the instance from
                    // replication, or answers 404 and it registers again); alone, back off.
                    if act.endpoint.fail_over() {
                        log::warn!(
                            "registry at {failed} unreachable for {app}/{id} ({outcome:?}); trying {}",
                            act.endpoint.base()
                        );
                        Duration::from_millis(100)
                    } else {
                        let backoff = Duration::from_millis(250 * 2u64.pow(act.failures.min(7)))
                            .min(act.spec.renewal_interval.max(Duration::from_secs(1)));
                        log::warn!(
                            "registry at {failed} unreachable for {app}/{id} ({outcome:?}); retrying in {backoff:?}"
                        );
                        backoff
                    }
                }
            };
            ctx.run_later(next, |act, ctx| act.tick(ctx));
        }));
    }
}

impl Actor for Registration {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.tick(ctx);
    }
}

/// Removes the instance from the registry and stops heartbeating (graceful shutdown).
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Deregister;

impl Handler<Deregister> for Registration {
    type Result = ResponseActFuture<Self, Result<(), String>>;

    fn handle(&mut self, _: Deregister, _: &mut Self::Context) -> Self::Result {
        self.stopped = true;
        let path = format!("/apps/{}/{}", self.spec.app, self.spec.instance_id);
        // The current registry first, then its peers: one that answers is enough (it
        // replicates the cancel to the others).
        let endpoint = self.endpoint.clone();
        let client = self.client.clone();
        let attempts = endpoint.bases().len();
        let cancel = async move {
            let mut last = String::new();
            for _ in 0..attempts {
                let request = endpoint.prepare(client.delete(endpoint.url(&path)));
                match request.send().await {
                    Ok(response)
                        if response.status().is_success() || response.status().as_u16() == 404 =>
                    {
                        return Ok(());
                    }
                    Ok(response) => last = format!("registry answered {}", response.status()),
                    Err(err) => last = err.to_string(),
                }
                if !endpoint.fail_over() {
                    break;
                }
            }
            Err(last)
        };
        Box::pin(cancel.into_actor(self).map(|result, act, _| {
            if result.is_ok() {
                log::info!("deregistered {}/{}", act.spec.app, act.spec.instance_id);
                act.registered = false;
            }
            result
        }))
    }
}
