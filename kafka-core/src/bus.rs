//! `EventBus`: one way in for the services. `KAFKA_BROKERS` set: the Kafka producer actor and
//! consumer runners. Not set: the embedded bus. Either way the same outbox, the same handlers,
//! the same at-least-once delivery.

use std::path::Path;
use std::time::Duration;

use actix::prelude::*;

use crate::embedded::{EmbeddedBus, Open, Subscribe};
use crate::events::Event;
use crate::handler::{EventHandler, RetryPolicy};
#[cfg(feature = "kafka")]
use crate::kafka::{all_topics, ensure_topics, spawn_consumer, KafkaProducer};
use crate::outbox::{Outbox, OutboxEntry};
use crate::publish::{Delivered, Publish};

#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Kafka's bootstrap servers; `None` runs the embedded bus.
    pub brokers: Option<String>,
    pub partitions: i32,
    pub replication: i32,
    pub retry: RetryPolicy,
    /// How often the outbox is swept for entries to send again.
    pub redrive_every: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            brokers: None,
            partitions: 3,
            replication: 1,
            retry: RetryPolicy::default(),
            redrive_every: Duration::from_secs(5),
        }
    }
}

enum Backend {
    #[cfg(feature = "kafka")]
    Kafka {
        brokers: String,
        producer: Addr<KafkaProducer>,
    },
    Embedded(Addr<EmbeddedBus>),
}

pub struct EventBus {
    backend: Backend,
    outbox: Outbox,
    /// The Kafka consumers' retries (the embedded bus has its own copy).
    #[cfg(feature = "kafka")]
    retry: RetryPolicy,
    consumers: Vec<actix_rt::task::JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("outbox: {0}")]
    Io(#[from] std::io::Error),
    #[cfg(feature = "kafka")]
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[cfg(not(feature = "kafka"))]
    #[error("KAFKA_BROKERS is set, and this build has no Kafka client (built without the `kafka` feature)")]
    NoKafka,
    #[error("event: {0}")]
    Json(#[from] serde_json::Error),
}

impl EventBus {
    /// Opens the outbox in `dir` (`dir/outbox`, and `dir/dead-letters` for the embedded bus)
    /// and starts the publisher. With Kafka, missing topics are created in the background, retried
    /// until the broker answers. Call inside an actix system.
    pub fn start(config: &BusConfig, dir: &Path) -> Result<Self, BusError> {
        Self::start_with_outbox(config, dir, Outbox::open(dir.join("outbox"))?)
    }

    /// As [`start`](Self::start), relaying from `outbox` (a service's own store, such as a
    /// table written in the same transaction as the changes its events announce).
    pub fn start_with_outbox(
        config: &BusConfig,
        dir: &Path,
        outbox: Outbox,
    ) -> Result<Self, BusError> {
        let backend = match &config.brokers {
            #[cfg(feature = "kafka")]
            Some(brokers) => Self::kafka(config, brokers, &outbox)?,
            #[cfg(not(feature = "kafka"))]
            Some(_) => return Err(BusError::NoKafka),
            None => {
                log::info!("event bus: embedded (no KAFKA_BROKERS)");
                Backend::Embedded(
                    EmbeddedBus::new(outbox.clone(), dir.join("dead-letters"), config.retry)
                        .start(),
                )
            }
        };
        Ok(Self {
            backend,
            outbox,
            #[cfg(feature = "kafka")]
            retry: config.retry,
            consumers: Vec::new(),
        })
    }

    /// The Kafka backend: the producer actor over `outbox`, and the topics created in the
    /// background (retried until the broker answers).
    #[cfg(feature = "kafka")]
    fn kafka(config: &BusConfig, brokers: &str, outbox: &Outbox) -> Result<Backend, BusError> {
        let producer = KafkaProducer::new(brokers, outbox.clone(), config.redrive_every)?.start();
        let (brokers_owned, partitions, replication) =
            (brokers.to_owned(), config.partitions, config.replication);
        actix_rt::spawn(async move {
            while let Err(err) =
                ensure_topics(&brokers_owned, &all_topics(), partitions, replication).await
            {
                log::warn!("topics not set up yet ({err}); retrying");
                actix_rt::time::sleep(Duration::from_secs(2)).await;
            }
        });
        log::info!("event bus: Kafka at {brokers}");
        Ok(Backend::Kafka {
            brokers: brokers.to_owned(),
            producer,
        })
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Where `Publish` messages go.
    pub fn publisher(&self) -> Recipient<Publish> {
        match &self.backend {
            #[cfg(feature = "kafka")]
            Backend::Kafka { producer, .. } => producer.clone().recipient(),
            Backend::Embedded(bus) => bus.clone().recipient(),
        }
    }

    /// Waits until Kafka has every event handed to the producer (at most `timeout`): for
    /// shutdown. What is not delivered stays in the outbox. Nothing to wait for on the
    /// embedded bus.
    pub async fn flush(&self, timeout: Duration) {
        #[cfg(feature = "kafka")]
        if let Backend::Kafka { producer, .. } = &self.backend {
            let _ = producer.send(crate::kafka::Flush(timeout)).await;
        }
        #[cfg(not(feature = "kafka"))]
        let _ = timeout;
    }

    /// Runs `handler` for `topics` as consumer group `group` (`offset_reset`: where a new group
    /// starts reading, Kafka only).
    #[cfg_attr(not(feature = "kafka"), allow(unused_variables))]
    pub fn subscribe(
        &mut self,
        topics: &[&str],
        group: &str,
        offset_reset: &str,
        handler: EventHandler,
    ) -> Result<(), BusError> {
        match &self.backend {
            #[cfg(feature = "kafka")]
            Backend::Kafka { brokers, .. } => {
                self.consumers.push(spawn_consumer(
                    brokers,
                    group,
                    topics,
                    offset_reset,
                    handler,
                    self.retry,
                )?);
            }
            Backend::Embedded(bus) => bus.do_send(Subscribe {
                topics: topics.iter().map(|t| t.to_string()).collect(),
                group: group.into(),
                handler,
            }),
        }
        Ok(())
    }

    /// Set-up is complete: the embedded bus starts delivering (Kafka consumers already run).
    #[cfg_attr(not(feature = "kafka"), allow(irrefutable_let_patterns))]
    pub fn open(&self) {
        if let Backend::Embedded(bus) = &self.backend {
            bus.do_send(Open);
        }
    }

    /// Stops the consumers (for shutdown).
    pub fn stop_consumers(&mut self) {
        for consumer in self.consumers.drain(..) {
            consumer.abort();
        }
    }
}

/// Writes an event to the outbox (fsynced, off the arbiter) and hands it to the publisher. When
/// this returns `Ok`, the event will be delivered even if the process dies right after.
pub async fn publish_durably<E: Event>(
    outbox: &Outbox,
    publisher: &Recipient<Publish>,
    event: &E,
    notify: Option<Recipient<Delivered>>,
) -> Result<(), BusError> {
    let entry = OutboxEntry::new(event)?;
    let outbox = outbox.clone();
    let written = entry.clone();
    actix_rt::task::spawn_blocking(move || outbox.append(&written))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    publisher.do_send(Publish { entry, notify });
    Ok(())
}
