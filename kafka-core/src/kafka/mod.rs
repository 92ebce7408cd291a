//! Kafka itself, through `rdkafka` (librdkafka), built with the `kafka` feature: the producer
//! actor that relays the outbox, the consumer runner, and topic set-up. Without the feature the
//! crate has the embedded bus only, and a configured broker is refused at start.

mod consumer;
mod producer;
mod topics;

pub use consumer::spawn_consumer;
pub use producer::{Flush, KafkaProducer};
pub use topics::{all_topics, ensure_topics};
