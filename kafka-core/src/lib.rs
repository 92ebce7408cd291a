//! Events of the audio system and how they travel: typed events, the durable outbox, the Kafka
//! producer actor, the consumer runner with retries and dead letters, topic set-up, and the
//! embedded bus used when no broker is configured.
//!
//! # Layout
//! - `events`: the typed events and their topics; `outbox`: events written before they are sent.
//! - `handler`: what consumes events on either bus, and its retries.
//! - `kafka/` (feature `kafka`, which the services' binaries enable): the producer actor, the
//!   consumer runner with dead letters, topic set-up, all through `rdkafka`.
//! - `embedded`: the bus without a broker; `bus`: the one the services hold, over either;
//!   `publish`: its messages.
//!
//! The modules are private: what other crates use is re-exported below.

mod bus;
mod embedded;
mod events;
mod handler;
#[cfg(feature = "kafka")]
mod kafka;
mod outbox;
mod publish;

pub use bus::{publish_durably, BusConfig, BusError, EventBus};
pub use events::{
    Event, RecordCompletedEvent, RecordDeletedEvent, RecordProcessedEvent, RecordingStatus,
    GROUP_AUDIO_SERVICE, SCHEMA_VERSION, TOPIC_RECORD_COMPLETED, TOPIC_RECORD_DELETED,
    TOPIC_RECORD_PROCESSED,
};
pub use handler::{Delivery, EventHandler, HandlerError, RetryPolicy};
pub use outbox::{FileOutbox, Outbox, OutboxEntry, OutboxStore};
pub use publish::{Delivered, Publish};
