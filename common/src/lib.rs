//! The few pieces several of the stack's crates need, kept in one place so that each has one
//! rule:
//! - `durable`: writes that survive a crash (the outbox in kafka-core, the storage's markers in
//!   audio);
//! - `open_files`: the open-files budget (the audio service's sessions and the gateway's relays
//!   are capped by the same reserve and arithmetic);
//! - `secret`: a setting that never prints;
//! - `identity`: the identity the gateway vouches for and the audio service checks;
//! - `settings`: settings from the environment, or from the declared defaults alone (tests).

pub mod durable;
pub mod identity;
pub mod open_files;
pub mod secret;
pub mod settings;
