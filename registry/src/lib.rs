//! A Eureka-compatible service registry built on one actor, and the client services use to
//! register with it and discover each other.

pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod model;
pub mod registry;
pub mod routes;
pub mod startup;
pub mod validate;

pub use config::Settings;
pub use startup::Application;
