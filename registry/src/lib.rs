//! A Eureka-compatible service registry built on one actor. The client services use to
//! register and discover, and the wire model both share, are the `registry-client` crate
//! (`registry/client/`), re-exported here as `client` and `model`.
//!
//! # Layout
//! - `registry`: the `Registry` actor: applications, instances, leases, eviction and
//!   self-preservation, all in its state.
//! - `routes/`: Eureka's REST API, the dashboard, health and metrics, and peer replication.
//! - `peers/`: one actor per peer that replicates every change to it, and the start-up sync.
//! - `validate`: what a registration must hold; `auth`: the optional token.
//! - `startup`: builds the server; `state`: what every handler can reach; `config`; `error`.

mod auth;
mod config;
mod error;
mod peers;
mod registry;
mod routes;
mod startup;
mod state;
mod validate;

pub use config::Settings;
pub use registry_client as client;
pub use registry_client::model;
pub use startup::Application;
pub use validate::validate_registration;
