//! The audio service's side of the events: building them from recordings, and the hub that
//! streams lifecycle changes to browsers (`GET /api/events`).

mod hub;

pub use hub::{Broadcast, CloseStreams, EventHub, Subscribe};

use chrono::Utc;
use kafka_core::{
    OutboxEntry, RecordCompletedEvent, RecordDeletedEvent, RecordProcessedEvent, RecordingStatus,
    SCHEMA_VERSION,
};

use crate::domain::FileName;
use crate::storage::{Blobs, RecordingMeta, RecordingState};

/// The completion event of a finished recording, with the original's fields.
pub fn completed_event(blobs: &Blobs, meta: &RecordingMeta) -> RecordCompletedEvent {
    RecordCompletedEvent {
        session_id: meta.session_id.clone(),
        meta_id: meta.meta_id.clone(),
        file_path: file_path(blobs, &meta.file_name),
        file_name: meta.file_name.clone(),
        completed_at: meta
            .completed_at
            .unwrap_or_else(Utc::now)
            .with_timezone(&chrono::Local)
            .naive_local(),
        event_id: uuid::Uuid::new_v4(),
        recording_id: meta.id.as_uuid(),
        user_id: meta.user_id.clone(),
        bytes: meta.size,
        chunks: meta.chunks,
        mime_type: meta.mime_type.clone(),
        status: match meta.ended_as {
            Some(RecordingState::Interrupted) => RecordingStatus::Interrupted,
            _ => RecordingStatus::Completed,
        },
        schema_version: SCHEMA_VERSION,
    }
}

/// The completion event of `meta` as an outbox entry: what finishing a recording announces,
/// written in the same transaction as the record.
pub fn completed_entry(blobs: &Blobs, meta: &RecordingMeta) -> std::io::Result<OutboxEntry> {
    OutboxEntry::new(&completed_event(blobs, meta)).map_err(std::io::Error::other)
}

pub fn processed_event(blobs: &Blobs, meta: &RecordingMeta) -> RecordProcessedEvent {
    RecordProcessedEvent {
        event_id: uuid::Uuid::new_v4(),
        recording_id: meta.id.as_uuid(),
        session_id: meta.session_id.clone(),
        user_id: meta.user_id.clone(),
        file_name: meta.file_name.clone(),
        file_path: file_path(blobs, &meta.file_name),
        status: meta.status.as_str().to_owned(),
        duration_ms: meta.processing.duration_ms,
        codec: meta.processing.codec.clone(),
        sample_rate: meta.processing.sample_rate,
        channels: meta.processing.channels,
        size: meta.size,
        sha256: meta.processing.sha256.clone(),
        reason: meta.processing.note.clone(),
        processed_at: meta.processing.processed_at.unwrap_or_else(Utc::now),
        schema_version: SCHEMA_VERSION,
    }
}

pub fn deleted_event(meta: &RecordingMeta) -> RecordDeletedEvent {
    RecordDeletedEvent {
        event_id: uuid::Uuid::new_v4(),
        recording_id: meta.id.as_uuid(),
        session_id: meta.session_id.clone(),
        user_id: meta.user_id.clone(),
        file_name: meta.file_name.clone(),
        deleted_at: Utc::now(),
        schema_version: SCHEMA_VERSION,
    }
}

/// Where the recording is: a path in the local store, `s3://bucket/prefix/<fileName>` in S3.
fn file_path(blobs: &Blobs, name: &str) -> String {
    match FileName::parse(name) {
        Ok(name) => blobs.location(&name),
        Err(_) => String::new(),
    }
}
