//! Typed configuration: `--flags` with `REGISTRY_*` environment variables of the same meaning.

use std::time::Duration;

use clap::Parser;

use crate::registry::LeaseRules;

#[derive(Debug, Clone, Parser)]
#[command(name = "registry", about = "A Eureka-compatible service registry")]
pub struct Settings {
    #[arg(long, env = "REGISTRY_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to bind (Eureka's usual 8761); 0 picks a free one.
    #[arg(long, env = "REGISTRY_PORT", default_value_t = 8761)]
    pub port: u16,

    /// Renewal interval assumed for instances that don't state one, in seconds.
    #[arg(long, env = "REGISTRY_RENEWAL_INTERVAL_SECS", default_value_t = 30)]
    pub renewal_interval_secs: u64,

    /// Lease duration assumed for instances that don't state one, in seconds.
    #[arg(long, env = "REGISTRY_LEASE_DURATION_SECS", default_value_t = 90)]
    pub lease_duration_secs: u64,

    /// How often expired leases are evicted, in milliseconds.
    #[arg(long, env = "REGISTRY_EVICTION_INTERVAL_MS", default_value_t = 60_000)]
    pub eviction_interval_ms: u64,

    /// Self-preservation: stop evicting when renewals drop below the threshold.
    #[arg(long, env = "REGISTRY_SELF_PRESERVATION", default_value_t = true, action = clap::ArgAction::Set)]
    pub self_preservation: bool,

    /// Share of expected renewals below which self-preservation starts.
    #[arg(long, env = "REGISTRY_RENEWAL_THRESHOLD", default_value_t = 0.85)]
    pub renewal_threshold: f64,

    /// Window in which renewals are counted, in milliseconds (Eureka: one minute).
    #[arg(long, env = "REGISTRY_RENEWAL_WINDOW_MS", default_value_t = 60_000)]
    pub renewal_window_ms: u64,

    /// Most instances held.
    #[arg(long, env = "REGISTRY_MAX_INSTANCES", default_value_t = 100_000)]
    pub max_instances: usize,

    /// Shared secret: when set, writes need it (Bearer, Basic password or X-Registry-Token).
    #[arg(long, env = "REGISTRY_TOKEN", hide_env_values = true)]
    pub token: Option<stack_common::secret::Secret>,

    /// Whether the server stops itself on Ctrl-C/SIGTERM; a process that embeds the registry
    /// beside other services turns this off and stops it last.
    #[arg(skip = true)]
    pub handle_signals: bool,

    /// Peer registries, comma-separated (`http://host:8761/eureka/,...`): every client change
    /// here is replicated to them, and at start the registry is fetched from the first that
    /// answers. A list that names this registry too (one list shared by every peer) is fine.
    #[arg(long, env = "REGISTRY_PEERS", default_value = "")]
    pub peers: String,

    /// Changes queued for a peer that cannot be reached; past this, the peer gets a full sync
    /// once it answers again.
    #[arg(long, env = "REGISTRY_PEER_QUEUE", default_value_t = 10_000)]
    pub peer_queue: usize,

    /// With a token: whether reads need it too.
    #[arg(long, env = "REGISTRY_PROTECT_READS", default_value_t = false, action = clap::ArgAction::Set)]
    pub protect_reads: bool,
}

impl Settings {
    /// The defaults, without reading flags.
    pub fn defaults() -> Self {
        Settings::parse_from(["registry"])
    }

    pub fn lease_rules(&self) -> LeaseRules {
        LeaseRules {
            default_renewal_interval: Duration::from_secs(self.renewal_interval_secs),
            default_lease_duration: Duration::from_secs(self.lease_duration_secs),
            eviction_interval: Duration::from_millis(self.eviction_interval_ms.max(10)),
            self_preservation: self.self_preservation,
            renewal_threshold: self.renewal_threshold,
            renewal_window: Duration::from_millis(self.renewal_window_ms.max(10)),
            max_instances: self.max_instances,
            ..LeaseRules::default()
        }
    }
}
