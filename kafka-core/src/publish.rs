//! The messages every publisher (the Kafka producer actor or the embedded bus) takes.

use actix::prelude::*;
use uuid::Uuid;

use crate::outbox::OutboxEntry;

/// Publish an entry that is already in the outbox. Whoever sends it may ask to hear of the
/// delivery.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish {
    pub entry: OutboxEntry,
    pub notify: Option<Recipient<Delivered>>,
}

/// An event was delivered (and removed from the outbox).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Delivered {
    pub event_id: Uuid,
    pub topic: String,
}
