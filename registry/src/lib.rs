//! A Eureka-compatible service registry built on one actor. The client services use to
//! register and discover, and the wire model both share, are the `registry-client` crate
//! (`registry/client/`), re-exported here as `client` and `model`.

pub mod auth;
pub mod config;
pub mod error;
pub mod peers;
pub mod registry;
pub mod routes;
pub mod startup;
pub mod validate;

pub use config::Settings;
pub use registry_client as client;
pub use registry_client::model;
pub use startup::Application;
