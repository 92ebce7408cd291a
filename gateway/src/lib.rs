//! The API gateway: every user request enters here (port 5000, as in the original), is routed by
//! path to a service found through the registry, balanced over its instances, and proxied (HTTP
//! streamed both ways, WebSockets byte for byte after the upgrade). Other paths serve the web pages.

pub mod auth;
pub mod balancer;
pub mod client;
pub mod config;
pub mod error;
pub mod metrics;
pub mod proxy;
pub mod route;
pub mod routes;
pub mod startup;
pub mod web;

pub use config::Settings;
pub use startup::Application;
