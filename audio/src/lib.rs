//! The audio service: recording WebSockets, storage, and the REST API over stored recordings.
//!
//! The binary (`main.rs`) only parses [`config::Settings`] and runs [`startup::Application`].

pub mod cache_trim;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod identity;
pub mod local_socket;
pub mod open_files;
pub mod postprocess;
pub mod protocol;
pub mod routes;
pub mod session;
pub mod startup;
pub mod storage;
pub mod supervisor;

pub use config::Settings;
pub use startup::Application;
