//! Event payloads. Field names are camelCase and keep the original system's names
//! (`sessionId`, `metaId`, `filePath`, `fileName`, `completedAt`) so a consumer written for the
//! Spring original still reads them; the other fields are additions it simply ignores.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Topic of completed recordings; the key of each message is the session id.
pub const TOPIC_RECORD_COMPLETED: &str = "audio.record.completed";

/// Version of the event schema carried in every event (and, later, as a Kafka header).
pub const SCHEMA_VERSION: u32 = 1;

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
    }
}
