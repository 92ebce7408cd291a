//! Shared event vocabulary of the audio system.
//!
//! This crate holds the events that services exchange. The producer actor, the durable outbox,
//! the consumer runner and the embedded bus build on these types.

pub mod events;

pub use events::{RecordCompletedEvent, RecordingStatus, TOPIC_RECORD_COMPLETED};
