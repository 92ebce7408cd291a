//! The API gateway: every user request enters here (port 5000, as in the original), is routed by
//! path to a service found through the registry, balanced over its instances, and proxied (HTTP
//! streamed both ways, WebSockets byte for byte after the upgrade). Other paths serve the web pages.
//!
//! # Layout
//! - `startup`: builds the gateway (registration, discovery, balancer, server); `state`: what
//!   every handler can reach.
//! - `route`: which service a path goes to; `balancer`: which instance (least sockets, ejection);
//!   `client`: the HTTP client to instances.
//! - `proxy/`: HTTP streamed both ways, and the WebSocket upgrade followed by a byte relay
//!   (`relay`, `frames`), within the open-files budget (`budget`).
//! - `auth/`: who may pass (open, one token, users' JWTs) and the identity vouched to services.
//! - `routes`: the gateway's own endpoints; `web`: the pages; `metrics`; `error`; `config`.
//!
//! Public: the settings and the application, the balancer (its tests drive it directly), and
//! the descriptors a relayed session holds (for the one-process stack's budget).

mod auth;
pub mod balancer;
mod client;
mod config;
mod error;
mod metrics;
mod proxy;
mod route;
mod routes;
mod startup;
mod state;
mod web;

pub use config::{JwtSettings, Settings};
pub use proxy::budget::PER_RELAY as DESCRIPTORS_PER_RELAY;
pub use startup::Application;
