//! Durable writes live in kafka-core, which the outbox shares with the storage here.

pub use kafka_core::durable::{sync_dir, write_atomically};
