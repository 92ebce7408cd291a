//! What services use to take part in the registry: [`Registration`] keeps an instance
//! registered, [`Discovery`] keeps a local copy of the registry and answers lookups from memory.
//! Its own crate so that the services link this, and the wire model both sides share
//! ([`model`]), without the registry server's routes, dashboard and actor.
//!
//! Layout: `model` (Eureka's JSON shapes), `registration` (keeping one instance registered),
//! `discovery` (the local copy of the registry), `local_socket` (the instance metadata that
//! advertises a Unix socket).

mod discovery;
pub mod local_socket;
pub mod model;
mod registration;

pub use discovery::{
    Discovery, FetchNow, GetSnapshot, InstancesChanged, Lookup, ServiceInstance, Snapshot,
    Subscribe,
};
pub use registration::{Deregister, InstanceSpec, Registration};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use stack_common::secret::Secret;

/// Where the registry is: one URL, e.g. `http://127.0.0.1:8761` (a trailing `/eureka/` is
/// accepted), or several peers, comma-separated, and the token to present if it has one. Calls
/// go to the current one; [`RegistryEndpoint::fail_over`] moves to the next (clones share which
/// one is current, so registration and discovery move together).
#[derive(Debug, Clone)]
pub struct RegistryEndpoint {
    bases: Arc<[String]>,
    current: Arc<AtomicUsize>,
    token: Option<Secret>,
}

/// The registries' base URLs in a comma-separated list, in its order: each trimmed, without a
/// trailing `/` or `/eureka/` (`http://r1:8761/eureka/, http://r2:8761` gives `http://r1:8761`
/// and `http://r2:8761`). The one rule for every list of registries: clients', peers', the
/// gateway's route to the registry.
pub fn registry_bases(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| {
            let trimmed = url.trim_end_matches('/');
            trimmed
                .strip_suffix("/eureka")
                .unwrap_or(trimmed)
                .to_owned()
        })
        .collect()
}

impl RegistryEndpoint {
    pub fn new(urls: &str, token: Option<Secret>) -> Self {
        let mut bases = registry_bases(urls);
        if bases.is_empty() {
            bases.push(String::new());
        }
        Self {
            bases: bases.into(),
            current: Arc::new(AtomicUsize::new(0)),
            token: token.filter(|t| !t.expose().is_empty()),
        }
    }

    /// `path` (e.g. `/apps`) at the current registry.
    pub fn url(&self, path: &str) -> String {
        format!("{}/eureka{path}", self.base())
    }

    /// The current registry's base URL.
    pub fn base(&self) -> &str {
        &self.bases[self.current.load(Ordering::Relaxed) % self.bases.len()]
    }

    /// Every registry this endpoint knows, in the order given.
    pub fn bases(&self) -> &[String] {
        &self.bases
    }

    /// Moves to the next registry; answers whether there is another one to move to.
    pub fn fail_over(&self) -> bool {
        if self.bases.len() < 2 {
            return false;
        }
        let next = (self.current.load(Ordering::Relaxed) + 1) % self.bases.len();
        self.current.store(next, Ordering::Relaxed);
        log::info!("registry: moving to {}", self.bases[next]);
        true
    }

    fn prepare(&self, request: awc::ClientRequest) -> awc::ClientRequest {
        let request = request
            .insert_header(("Accept", "application/json"))
            .timeout(std::time::Duration::from_secs(3));
        match &self.token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_registries_are_tried_in_turn() {
        let one = RegistryEndpoint::new("http://a:8761/eureka/", None);
        assert_eq!(one.url("/apps"), "http://a:8761/eureka/apps");
        assert!(!one.fail_over());
        let peers = RegistryEndpoint::new("http://a:8761/eureka/, http://b:8761 ,", None);
        let clone = peers.clone();
        assert_eq!(peers.bases().len(), 2);
        assert!(peers.fail_over());
        assert_eq!(clone.url("/apps"), "http://b:8761/eureka/apps");
        assert!(peers.fail_over());
        assert_eq!(clone.base(), "http://a:8761");
    }
}
