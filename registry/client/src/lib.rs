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

/// Where the registry is, e.g. `http://127.0.0.1:8761` (a trailing `/eureka/` is accepted),
/// and the token to present if it has one.
#[derive(Debug, Clone)]
pub struct RegistryEndpoint {
    base: String,
    token: Option<String>,
}

impl RegistryEndpoint {
    pub fn new(url: &str, token: Option<String>) -> Self {
        let trimmed = url.trim_end_matches('/');
        let base = trimmed
            .strip_suffix("/eureka")
            .unwrap_or(trimmed)
            .to_owned();
        Self {
            base,
            token: token.filter(|t| !t.is_empty()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/eureka{path}", self.base)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn prepare(&self, request: awc::ClientRequest) -> awc::ClientRequest {
        let request = request
            .insert_header(("Accept", "application/json"))
            .timeout(std::time::Duration::from_secs(3));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}
