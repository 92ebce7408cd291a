//! The few pieces several of the stack's crates need, kept in one place so that each has one
//! rule: writes that survive a crash (`durable`: the outbox in kafka-core, the storage's
//! markers in audio) and the open-files budget (`open_files`: the audio service's sessions and
//! the gateway's relays are capped by the same reserve and arithmetic).

pub mod durable;
pub mod open_files;
