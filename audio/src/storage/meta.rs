use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::RecordingId;

/// Where a recording is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecordingState {
    /// Bytes are still arriving (or the client may still resume).
    Recording,
    /// The client ended it with `record-end`.
    Completed,
    /// The client vanished and did not resume in time; every accepted byte is kept.
    Interrupted,
    /// Ended, and waiting for the recordings' store, which could not be reached: its bytes are
    /// safe on the host that recorded it, which stores them when the store is back.
    Storing,
    /// Post-processing is working on it.
    Processing,
    /// Post-processed: seekable, measured.
    Ready,
    /// Post-processing gave up; `failureReason` says why. The file is as it was uploaded.
    Failed,
}

impl RecordingState {
    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Recording,
            Self::Completed,
            Self::Interrupted,
            Self::Storing,
            Self::Processing,
            Self::Ready,
            Self::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == raw)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Recording => "recording",
            Self::Completed => "completed",
            Self::Interrupted => "interrupted",
            Self::Storing => "storing",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }
}

/// The record of one recording, kept in the recording index (and, before the index, in
/// `meta/<id>.json`, which the index imports). The resume token is kept only as its SHA-256,
/// so reading the index does not let anyone take over a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingMeta {
    pub id: RecordingId,
    pub session_id: String,
    pub file_name: String,
    pub meta_id: Option<String>,
    pub user_id: Option<String>,
    pub mime_type: String,
    pub status: RecordingState,
    pub size: u64,
    pub chunks: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub resume_token_sha256: String,
    /// How the recording ended (`completed` or `interrupted`), kept through post-processing.
    #[serde(default)]
    pub ended_as: Option<RecordingState>,
    #[serde(default, flatten)]
    pub processing: Processing,
}

/// What post-processing found; empty until it ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Processing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<DateTime<Utc>>,
    /// Why processing failed, or what it repaired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
