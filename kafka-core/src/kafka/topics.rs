//! Topic set-up: the topics the system uses are created at start-up when missing.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaResult;
use rdkafka::types::RDKafkaErrorCode;

use crate::events::{
    dead_letter_topic, TOPIC_RECORD_COMPLETED, TOPIC_RECORD_DELETED, TOPIC_RECORD_PROCESSED,
};

/// Creates each topic that does not exist yet; existing topics are left as they are.
pub async fn ensure_topics(
    brokers: &str,
    topics: &[String],
    partitions: i32,
    replication: i32,
) -> KafkaResult<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(replication)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new, &options).await? {
        match result {
            Ok(topic) => log::info!(
                "created topic {topic} ({partitions} partitions, replication {replication})"
            ),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(rdkafka::error::KafkaError::AdminOp(code))
                    .inspect_err(|_| log::warn!("topic {topic}: {code}"))
            }
        }
    }
    Ok(())
}

/// Every topic the system uses, dead-letter topics included.
pub fn all_topics() -> Vec<String> {
    let topics = [
        TOPIC_RECORD_COMPLETED,
        TOPIC_RECORD_PROCESSED,
        TOPIC_RECORD_DELETED,
    ];
    topics
        .iter()
        .flat_map(|t| [t.to_string(), dead_letter_topic(t)])
        .collect()
}
