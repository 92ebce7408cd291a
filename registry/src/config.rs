//! Typed configuration: `--flags` with `REGISTRY_*` environment variables of the same meaning.

use std::time::Duration;

use clap::Parser;
use stack_common::settings::{millis, seconds};

use crate::registry::LeaseRules;

#[derive(Debug, Clone, Parser)]
#[command(name = "registry", about = "A Eureka-compatible service registry")]
pub struct Settings {
    #[arg(long, env = "REGISTRY_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to bind (Eureka's usual 8761); 0 picks a free one.
    #[arg(long, env = "REGISTRY_PORT", default_value_t = 8761)]
    pub port: u16,

    /// Renewal interval assumed for instances that don't state one.
    #[arg(long = "renewal-interval", visible_alias = "renewal-interval-secs", env = "REGISTRY_RENEWAL_INTERVAL_SECS", default_value = "30s", value_parser = seconds)]
    pub renewal_interval: Duration,

    /// Lease duration assumed for instances that don't state one.
    #[arg(long = "lease-duration", visible_alias = "lease-duration-secs", env = "REGISTRY_LEASE_DURATION_SECS", default_value = "90s", value_parser = seconds)]
    pub lease_duration: Duration,

    /// How often expired leases are evicted.
    #[arg(long = "eviction-interval", visible_alias = "eviction-interval-ms", env = "REGISTRY_EVICTION_INTERVAL_MS", default_value = "60s", value_parser = millis)]
    pub eviction_interval: Duration,

    /// Self-preservation: stop evicting when renewals drop below the threshold.
    #[arg(long, env = "REGISTRY_SELF_PRESERVATION", default_value_t = true, action = clap::ArgAction::Set)]
    pub self_preservation: bool,

    /// Share of expected renewals below which self-preservation starts.
    #[arg(long, env = "REGISTRY_RENEWAL_THRESHOLD", default_value_t = 0.85)]
    pub renewal_threshold: f64,

    /// Window in which renewals are counted (Eureka: one minute).
    #[arg(long = "renewal-window", visible_alias = "renewal-window-ms", env = "REGISTRY_RENEWAL_WINDOW_MS", default_value = "60s", value_parser = millis)]
    pub renewal_window: Duration,

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
    /// The declared defaults, whatever the environment holds: what tests build on.
    pub fn defaults() -> Self {
        stack_common::settings::declared_defaults()
    }

    /// The environment's `REGISTRY_*` settings: what the one-process stack starts with.
    pub fn from_env() -> Self {
        stack_common::settings::from_environment()
    }

    pub fn lease_rules(&self) -> LeaseRules {
        LeaseRules {
            default_renewal_interval: self.renewal_interval,
            default_lease_duration: self.lease_duration,
            eviction_interval: self.eviction_interval.max(Duration::from_millis(10)),
            self_preservation: self.self_preservation,
            renewal_threshold: self.renewal_threshold,
            renewal_window: self.renewal_window.max(Duration::from_millis(10)),
            max_instances: self.max_instances,
            ..LeaseRules::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_flags_are_well_formed() {
        Settings::command().debug_assert();
    }
}
