//! Durable writes live in kafka-core, which the outbox shares with the storage here.

pub use stack_common::durable::{sync_dir, write_atomically};
