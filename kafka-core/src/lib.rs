//! Events of the audio system and how they travel: typed events, the durable outbox, the Kafka
//! producer actor, the consumer runner with retries and dead letters, topic set-up, and the
//! embedded bus used when no broker is configured.

pub mod bus;
pub mod consumer;
pub mod embedded;
pub mod events;
pub mod outbox;
pub mod producer;
pub mod publish;
pub mod topics;

pub use bus::{publish_durably, BusConfig, BusError, EventBus};
pub use consumer::{Delivery, EventHandler, HandlerError, RetryPolicy};
pub use events::{
    Event, RecordCompletedEvent, RecordDeletedEvent, RecordProcessedEvent, RecordingStatus,
    GROUP_AUDIO_SERVICE, SCHEMA_VERSION, TOPIC_RECORD_COMPLETED, TOPIC_RECORD_DELETED,
    TOPIC_RECORD_PROCESSED,
};
pub use outbox::{FileOutbox, Outbox, OutboxEntry, OutboxStore};
pub use publish::{Delivered, Publish};
