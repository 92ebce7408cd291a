//! Event payloads (documented in docs/events.md, schema in docs/events.schema.json). Field
//! names are camelCase and keep the original system's names (`sessionId`, `metaId`,
//! `filePath`, `fileName`, `completedAt`) so a consumer written for the Spring original still
//! reads them; the other fields are additions it simply ignores.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Completed recordings; the key of each message is the session id.
pub const TOPIC_RECORD_COMPLETED: &str = "audio.record.completed";
/// Post-processing results (`ready` or `failed`).
pub const TOPIC_RECORD_PROCESSED: &str = "audio.record.processed";
/// Deleted recordings.
pub const TOPIC_RECORD_DELETED: &str = "audio.record.deleted";
/// The consumer group that post-processes recordings.
pub const GROUP_AUDIO_SERVICE: &str = "audio-service";

/// Where events that keep failing go.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.DLT")
}

/// Version of the event schema carried in every event (and as a Kafka header).
pub const SCHEMA_VERSION: u32 = 1;

/// What every event can say about itself; its type, id and version also travel as headers.
pub trait Event: Serialize {
    const TYPE: &'static str;
    const TOPIC: &'static str;
    fn key(&self) -> String;
    fn event_id(&self) -> Uuid;
}

/// How a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingStatus {
    /// The client sent `record-end`.
    Completed,
    /// The client vanished and did not resume within the grace period.
    Interrupted,
}

/// Raised once per finished recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordCompletedEvent {
    pub session_id: String,
    pub meta_id: Option<String>,
    pub file_path: String,
    pub file_name: String,
    /// Local date-time without zone, as the original's `LocalDateTime.now()` serialises.
    pub completed_at: NaiveDateTime,
    pub event_id: Uuid,
    pub recording_id: Uuid,
    pub user_id: Option<String>,
    pub bytes: u64,
    pub chunks: u64,
    pub mime_type: String,
    pub status: RecordingStatus,
    pub schema_version: u32,
}

impl Event for RecordCompletedEvent {
    const TYPE: &'static str = "RecordCompletedEvent";
    const TOPIC: &'static str = TOPIC_RECORD_COMPLETED;
    fn key(&self) -> String {
        self.session_id.clone()
    }
    fn event_id(&self) -> Uuid {
        self.event_id
    }
}

/// Raised when post-processing has finished a recording, or given up on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordProcessedEvent {
    pub event_id: Uuid,
    pub recording_id: Uuid,
    pub session_id: String,
    /// Whose recording (the live page shows each user their own); absent from older events.
    #[serde(default)]
    pub user_id: Option<String>,
    pub file_name: String,
    pub file_path: String,
    /// `ready` or `failed`.
    pub status: String,
    pub duration_ms: Option<f64>,
    pub codec: Option<String>,
    pub sample_rate: Option<f64>,
    pub channels: Option<u64>,
    pub size: u64,
    pub sha256: Option<String>,
    /// Why it failed, or what was repaired.
    pub reason: Option<String>,
    pub processed_at: DateTime<Utc>,
    pub schema_version: u32,
}

impl Event for RecordProcessedEvent {
    const TYPE: &'static str = "RecordProcessedEvent";
    const TOPIC: &'static str = TOPIC_RECORD_PROCESSED;
    fn key(&self) -> String {
        self.session_id.clone()
    }
    fn event_id(&self) -> Uuid {
        self.event_id
    }
}

/// Raised when a recording is deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordDeletedEvent {
    pub event_id: Uuid,
    pub recording_id: Uuid,
    pub session_id: String,
    /// Whose recording (the live page shows each user their own); absent from older events.
    #[serde(default)]
    pub user_id: Option<String>,
    pub file_name: String,
    pub deleted_at: DateTime<Utc>,
    pub schema_version: u32,
}

impl Event for RecordDeletedEvent {
    const TYPE: &'static str = "RecordDeletedEvent";
    const TOPIC: &'static str = TOPIC_RECORD_DELETED;
    fn key(&self) -> String {
        self.session_id.clone()
    }
    fn event_id(&self) -> Uuid {
        self.event_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_the_original_field_names() {
        let event = RecordCompletedEvent {
            session_id: "s-1".into(),
            meta_id: Some("m".into()),
            file_path: "/data/recordings/m_20261123213700.webm".into(),
            file_name: "m_20261123213700.webm".into(),
            completed_at: chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
                .unwrap()
                .and_hms_milli_opt(21, 37, 0, 123)
                .unwrap(),
            event_id: Uuid::nil(),
            recording_id: Uuid::nil(),
            user_id: None,
            bytes: 10,
            chunks: 1,
            mime_type: "audio/webm".into(),
            status: RecordingStatus::Completed,
            schema_version: SCHEMA_VERSION,
        };
        let json = serde_json::to_value(&event).unwrap();
        for field in ["sessionId", "metaId", "filePath", "fileName", "completedAt"] {
            assert!(json.get(field).is_some(), "missing {field} in {json}");
        }
        assert_eq!(json["completedAt"], "2026-11-23T21:37:00.123");
        assert_eq!(json["status"], "completed");
        let back: RecordCompletedEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        assert_eq!(
            dead_letter_topic(TOPIC_RECORD_COMPLETED),
            "audio.record.completed.DLT"
        );
    }
}
