//! Events of the audio system and how they travel: typed events, the durable outbox, the Kafka
//! producer actor, the consumer runner with retries and dead letters, topic set-up, and the
//! embedded bus used when no broker is configured.

//!
//! Layout: `events` (the typed events and their topics), `outbox` (events written before they
//! are sent), `producer` (the Kafka producer actor), `consumer` (the runner with retries and
//! dead letters), `topics` (set-up), `embedded` (the bus without a broker), `bus` (the one
//! the services hold, over either), `publish` (its messages). The modules are private: what
//! other crates use is re-exported below.

mod bus;
mod consumer;
mod embedded;
mod events;
mod outbox;
mod producer;
mod publish;
mod topics;

pub use bus::{publish_durably, BusConfig, BusError, EventBus};
pub use consumer::{Delivery, EventHandler, HandlerError, RetryPolicy};
pub use events::{
    Event, RecordCompletedEvent, RecordDeletedEvent, RecordProcessedEvent, RecordingStatus,
    GROUP_AUDIO_SERVICE, SCHEMA_VERSION, TOPIC_RECORD_COMPLETED, TOPIC_RECORD_DELETED,
    TOPIC_RECORD_PROCESSED,
};
pub use outbox::{FileOutbox, Outbox, OutboxEntry, OutboxStore};
pub use producer::Flush;
pub use publish::{Delivered, Publish};
