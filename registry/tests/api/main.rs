//! Integration tests of the registry: real servers on port 0, real HTTP.

mod bad_input;
mod client;
mod eureka_api;
mod helpers;
mod leases;
mod peers;
#[path = "../support/ports.rs"]
mod ports;
