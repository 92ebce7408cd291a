//! The Kafka consumer runner: reads topics in a consumer group, hands each message to a handler,
//! and commits its offset only after the handler succeeded. A failing handler is retried with
//! back-off; an event that keeps failing goes to `<topic>.DLT` (with the error in its headers)
//! and the consumer goes on.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::producer::{is_stored, producer_config};
use crate::events::dead_letter_topic;
use crate::handler::{handle_with_retries, Delivery, EventHandler, RetryPolicy};

/// A consumer that is closed on a thread of its own when dropped. Closing leaves the group,
/// which waits for the broker; with the broker gone, librdkafka's close can wait without end
/// (rust-rdkafka #509), and a runtime shutting down would wait with it. A process that exits
/// does not wait for that thread.
struct ClosedAside(Option<StreamConsumer>);

impl std::ops::Deref for ClosedAside {
    type Target = StreamConsumer;

    fn deref(&self) -> &StreamConsumer {
        self.0.as_ref().expect("present until dropped")
    }
}

impl Drop for ClosedAside {
    fn drop(&mut self) {
        if let Some(consumer) = self.0.take() {
            let closing = std::thread::Builder::new()
                .name("kafka-close".into())
                .spawn(move || drop(consumer));
            if let Err(err) = closing {
                log::warn!("the Kafka consumer is closed in place: {err}");
            }
        }
    }
}

/// Starts a consumer of `topics` in `group` on the current arbiter. `offset_reset` is where a
/// new group starts (`earliest` for work queues, `latest` for live notifications).
pub fn spawn_consumer(
    brokers: &str,
    group: &str,
    topics: &[&str],
    offset_reset: &str,
    handler: EventHandler,
    retry: RetryPolicy,
) -> KafkaResult<actix_rt::task::JoinHandle<()>> {
    let consumer: StreamConsumer = consumer_config(brokers, group, offset_reset).create()?;
    consumer.subscribe(topics)?;
    let consumer = ClosedAside(Some(consumer));
    let dead_letters: FutureProducer = producer_config(brokers).create()?;
    let group = group.to_owned();
    Ok(actix_rt::spawn(async move {
        loop {
            let message = match consumer.recv().await {
                Ok(message) => message,
                Err(err) => {
                    log::warn!("consumer {group}: {err}");
                    actix_rt::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let delivery = delivery_of(&message);
            if let Err((err, attempts)) = handle_with_retries(&handler, &delivery, retry).await {
                // Until the dead letter is stored, the offset is not committed.
                send_to_dead_letters(&dead_letters, &group, &delivery, &err, attempts).await;
            }
            if let Err(err) = consumer.commit_message(&message, CommitMode::Async) {
                log::warn!("consumer {group}: commit failed ({err}); the message may come again");
            }
        }
    }))
}

/// The consumer's settings: offsets committed by hand, after the handler.
fn consumer_config(brokers: &str, group: &str, offset_reset: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", offset_reset)
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "2000");
    config
}

/// A message as a handler sees it: its topic, key, payload and text headers.
fn delivery_of(message: &BorrowedMessage<'_>) -> Delivery {
    let mut headers = HashMap::new();
    if let Some(all) = message.headers() {
        for header in all.iter() {
            if let Some(value) = header.value {
                headers.insert(
                    header.key.to_owned(),
                    String::from_utf8_lossy(value).into_owned(),
                );
            }
        }
    }
    Delivery {
        topic: message.topic().to_owned(),
        key: message
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned()),
        payload: message.payload().unwrap_or_default().to_vec(),
        headers,
    }
}

/// Sends a message its handler gave up on to `<topic>.DLT`, with why and how many tries in its
/// headers, and returns only once the broker stored it.
async fn send_to_dead_letters(
    dead_letters: &FutureProducer,
    group: &str,
    delivery: &Delivery,
    err: &str,
    attempts: u32,
) {
    let topic = dead_letter_topic(&delivery.topic);
    log::error!("consumer {group}: giving up on a message of {} after {attempts} tries ({err}); sending it to {topic}", delivery.topic);
    let attempts = attempts.to_string();
    let mut dlt_headers = OwnedHeaders::new()
        .insert(Header {
            key: "dlt.original.topic",
            value: Some(delivery.topic.as_str()),
        })
        .insert(Header {
            key: "dlt.error",
            value: Some(err),
        })
        .insert(Header {
            key: "dlt.attempts",
            value: Some(attempts.as_str()),
        });
    for (key, value) in &delivery.headers {
        dlt_headers = dlt_headers.insert(Header {
            key,
            value: Some(value.as_str()),
        });
    }
    let record = || {
        let record = FutureRecord::to(&topic)
            .payload(&delivery.payload)
            .headers(dlt_headers.clone());
        match &delivery.key {
            Some(key) => record.key(key.as_str()),
            None => record,
        }
    };
    loop {
        match dead_letters.send(record(), Duration::from_secs(10)).await {
                Ok(delivery) if is_stored(&delivery) => break,
                Ok(_) => log::warn!(
                    "consumer {group}: dead letter's delivery only inferred (no offset); sending it again"
                ),
                Err((err, _)) => log::error!(
                    "consumer {group}: dead letter not stored yet ({err}); retrying"
                ),
            }
        actix_rt::time::sleep(Duration::from_secs(1)).await;
    }
}
