//! The consumer runner: reads topics in a consumer group, hands each message to a handler, and
//! commits its offset only after the handler succeeded. A failing handler is retried with
//! back-off; an event that keeps failing goes to `<topic>.DLT` (with the error in its headers)
//! and the consumer goes on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::events::dead_letter_topic;
use crate::producer::is_stored;

/// A message as a handler sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub topic: String,
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub headers: HashMap<String, String>,
}

/// What consumes events. It runs on the actix arbiter (its future need not be `Send`); blocking
/// work inside it belongs on a `SyncArbiter` or the blocking pool. An error means "try again"
/// (after the last try the event goes to the dead letters, with the error's text).
pub type EventHandler =
    Arc<dyn Fn(Delivery) -> LocalBoxFuture<'static, Result<(), HandlerError>> + Send + Sync>;

/// Why a handler did not handle an event: each handler's own error type, boxed.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Retries of a failing handler: `attempts` tries in all, the pause doubling from `backoff`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    pub fn pause(&self, attempt: u32) -> Duration {
        (self.backoff * 2u32.saturating_pow(attempt.saturating_sub(1))).min(self.max_backoff)
    }
}

/// Runs `handler` with retries; the last error if every try failed.
pub async fn handle_with_retries(
    handler: &EventHandler,
    delivery: &Delivery,
    retry: RetryPolicy,
) -> Result<(), (String, u32)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match handler(delivery.clone()).await {
            Ok(()) => return Ok(()),
            Err(err) if attempt >= retry.attempts => return Err((err.to_string(), attempt)),
            Err(err) => {
                log::warn!(
                    "handling {} failed (try {attempt} of {}): {err}",
                    delivery.topic,
                    retry.attempts
                );
                actix_rt::time::sleep(retry.pause(attempt)).await;
            }
        }
    }
}

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
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", offset_reset)
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "2000")
        .create()?;
    consumer.subscribe(topics)?;
    let consumer = ClosedAside(Some(consumer));
    let dead_letters: FutureProducer = crate::producer::producer_config(brokers).create()?;
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
            let delivery = Delivery {
                topic: message.topic().to_owned(),
                key: message
                    .key()
                    .map(|k| String::from_utf8_lossy(k).into_owned()),
                payload: message.payload().unwrap_or_default().to_vec(),
                headers,
            };
            if let Err((err, attempts)) = handle_with_retries(&handler, &delivery, retry).await {
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
                        value: Some(err.as_str()),
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
                // Until the dead letter is stored, the offset is not committed.
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
            if let Err(err) = consumer.commit_message(&message, CommitMode::Async) {
                log::warn!("consumer {group}: commit failed ({err}); the message may come again");
            }
        }
    }))
}
