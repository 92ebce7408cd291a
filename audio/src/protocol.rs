//! The recording WebSocket's messages, as they travel on the wire (see `docs/protocol.md`).
//!
//! Client frames are JSON objects with an `action`, exactly as the original's page sends them;
//! server frames are JSON objects with a `type`. Binary frames carry raw chunk bytes.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::domain::RecordingId;

/// `metaData` of `record-start`; other fields the client sends are ignored.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetaData {
    /// At most 128 characters, no control characters. Ignored for a signed-in user, who
    /// records as themselves.
    #[schema(max_length = 128, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub user_id: Option<String>,
}

/// One parsed client action. A `record-idle` chunk borrows from the frame's text when it has
/// no JSON escapes (a browser's never does): the chunk path copies no string.
#[derive(Debug, Deserialize)]
#[serde(
    tag = "action",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum ClientMessage<'a> {
    RecordStart {
        meta_id: Option<String>,
        #[serde(default)]
        meta_data: MetaData,
        mime_type: Option<String>,
    },
    RecordIdle {
        #[serde(borrow)]
        chunk: Cow<'a, str>,
        seq: Option<u64>,
    },
    RecordEnd {},
    Heartbeat {},
    RecordResume {
        recording_id: String,
        resume_token: String,
    },
}

const ACTIONS: [&str; 5] = [
    "record-start",
    "record-idle",
    "record-end",
    "heartbeat",
    "record-resume",
];

/// Why a text frame is not a usable action.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("frame is not a JSON object: {0}")]
    BadJson(String),
    #[error("Unknown action {0:?}; expected one of record-start, record-idle, record-end, heartbeat, record-resume")]
    UnknownAction(String),
    #[error("malformed {action}: {detail}")]
    BadMessage { action: String, detail: String },
}

impl<'a> ClientMessage<'a> {
    /// Parses a text frame, telling malformed JSON, an unknown action and a malformed known
    /// action apart so the client gets a precise error code.
    pub fn parse(text: &'a str) -> Result<Self, ParseError> {
        // A well-formed action in one pass, straight into the message. Only a frame that fails
        // goes through the JSON tree below, which tells its error apart (and accepts what it
        // always did, duplicate keys included).
        if let Ok(message) = serde_json::from_str(text) {
            return Ok(message);
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|err| ParseError::BadJson(err.to_string()))?;
        let action = match value.get("action") {
            Some(serde_json::Value::String(action)) => action.clone(),
            _ if !value.is_object() => return Err(ParseError::BadJson("not an object".into())),
            _ => return Err(ParseError::UnknownAction(String::new())),
        };
        if !ACTIONS.contains(&action.as_str()) {
            return Err(ParseError::UnknownAction(action.chars().take(64).collect()));
        }
        Self::deserialize(value).map_err(|err| ParseError::BadMessage {
            action,
            detail: err.to_string(),
        })
    }
}

/// Stable error codes; clients branch on these, so they never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    BadJson,
    UnknownAction,
    BadMessage,
    BadBase64,
    NotStarted,
    AlreadyStarted,
    InvalidMetaId,
    InvalidUserId,
    UnsupportedMimeType,
    SeqGap,
    RecordingTooLarge,
    UnsupportedFrame,
    RecordingNotFound,
    ResumeRefused,
    RecordingBusy,
    StorageError,
}

impl ErrorCode {
    /// The code as it appears on the wire (`seq-gap`, ...), for the REST API's error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "bad-json",
            Self::UnknownAction => "unknown-action",
            Self::BadMessage => "bad-message",
            Self::BadBase64 => "bad-base64",
            Self::NotStarted => "not-started",
            Self::AlreadyStarted => "already-started",
            Self::InvalidMetaId => "invalid-meta-id",
            Self::InvalidUserId => "invalid-user-id",
            Self::UnsupportedMimeType => "unsupported-mime-type",
            Self::SeqGap => "seq-gap",
            Self::RecordingTooLarge => "recording-too-large",
            Self::UnsupportedFrame => "unsupported-frame",
            Self::RecordingNotFound => "recording-not-found",
            Self::ResumeRefused => "resume-refused",
            Self::RecordingBusy => "recording-busy",
            Self::StorageError => "storage-error",
        }
    }
}

/// How far a recording is durable in the shared store: its first `chunks` chunks (every seq
/// below `chunks`), `bytes` bytes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DurableMark {
    pub chunks: u64,
    pub bytes: u64,
}

/// A frame the server sends.
#[derive(Debug, Serialize)]
#[serde(
    tag = "type",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum ServerMessage {
    Started {
        recording_id: RecordingId,
        session_id: String,
        file_name: String,
        mime_type: String,
        resume_token: String,
        message: String,
    },
    Ack {
        seq: u64,
        bytes: u64,
        duplicate: bool,
        /// With recordings in a shared store: how far the recording is durable there. A client
        /// keeps every chunk past it to resend after a resume elsewhere. Absent when every
        /// acknowledged chunk is durable (the data folder is the shared storage).
        #[serde(skip_serializing_if = "Option::is_none")]
        durable: Option<DurableMark>,
    },
    /// The shared store holds the recording up to here now: sent after each flush that moved
    /// it, so a paused client can let its chunks go.
    Durable {
        chunks: u64,
        bytes: u64,
    },
    Resumed {
        recording_id: RecordingId,
        file_name: String,
        bytes: u64,
        chunks: u64,
        /// The last sequence number the server holds (absent when it holds no chunk yet).
        seq: Option<u64>,
        next_seq: u64,
    },
    Completed {
        recording_id: RecordingId,
        file_name: String,
        bytes: u64,
        chunks: u64,
        status: String,
        message: String,
    },
    Heartbeat {
        message: String,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

impl ServerMessage {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail: no maps with non-string keys, no floats.
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","code":"storage-error","message":"unserialisable"}"#.into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_original_pages_frames() {
        let start = ClientMessage::parse(
            r#"{"action":"record-start","metaId":"m1","metaData":{"userId":"u1","other":1}}"#,
        )
        .unwrap();
        match start {
            ClientMessage::RecordStart {
                meta_id, meta_data, ..
            } => {
                assert_eq!(meta_id.as_deref(), Some("m1"));
                assert_eq!(meta_data.user_id.as_deref(), Some("u1"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let idle = ClientMessage::parse(
            r#"{"action":"record-idle","metaId":"m1","chunk":"data:audio/webm;base64,AA=="}"#,
        )
        .unwrap();
        assert!(matches!(idle, ClientMessage::RecordIdle { seq: None, .. }));
        assert!(matches!(
            ClientMessage::parse(r#"{"action":"record-end"}"#).unwrap(),
            ClientMessage::RecordEnd {}
        ));
    }

    #[test]
    fn a_browser_chunk_is_borrowed_and_an_escaped_one_unescaped() {
        let frame = r#"{"action":"record-idle","chunk":"data:audio/webm;base64,AA+/","seq":4}"#;
        match ClientMessage::parse(frame).unwrap() {
            ClientMessage::RecordIdle { chunk, seq } => {
                assert!(matches!(chunk, Cow::Borrowed(_)), "copied: {chunk:?}");
                assert_eq!(chunk, "data:audio/webm;base64,AA+/");
                assert_eq!(seq, Some(4));
            }
            other => panic!("unexpected {other:?}"),
        }
        // JSON may escape '/': the chunk is then unescaped into its own string.
        let frame = r#"{"action":"record-idle","chunk":"data:audio\/webm;base64,AA+\/"}"#;
        match ClientMessage::parse(frame).unwrap() {
            ClientMessage::RecordIdle { chunk, .. } => {
                assert_eq!(chunk, "data:audio/webm;base64,AA+/")
            }
            other => panic!("unexpected {other:?}"),
        }
        // What the JSON tree accepted is still accepted: a repeated key, the last one wins.
        let frame = r#"{"action":"record-idle","chunk":"AAAA","chunk":"AQID"}"#;
        match ClientMessage::parse(frame).unwrap() {
            ClientMessage::RecordIdle { chunk, .. } => assert_eq!(chunk, "AQID"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn tells_errors_apart() {
        assert!(matches!(
            ClientMessage::parse("{"),
            Err(ParseError::BadJson(_))
        ));
        assert!(matches!(
            ClientMessage::parse("[1]"),
            Err(ParseError::BadJson(_))
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"action":"dance"}"#),
            Err(ParseError::UnknownAction(_))
        ));
        assert!(matches!(
            ClientMessage::parse(r#"{"action":"record-idle"}"#),
            Err(ParseError::BadMessage { .. })
        ));
    }

    #[test]
    fn error_codes_read_the_same_in_json_and_as_str() {
        use ErrorCode::*;
        for code in [
            BadJson,
            UnknownAction,
            BadMessage,
            BadBase64,
            NotStarted,
            AlreadyStarted,
            InvalidMetaId,
            InvalidUserId,
            UnsupportedMimeType,
            SeqGap,
            RecordingTooLarge,
            UnsupportedFrame,
            RecordingNotFound,
            ResumeRefused,
            RecordingBusy,
            StorageError,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    #[test]
    fn serialises_camel_case_with_type() {
        let json = ServerMessage::Ack {
            seq: 3,
            bytes: 10,
            duplicate: false,
            durable: None,
        }
        .to_json();
        assert_eq!(
            json,
            r#"{"type":"ack","seq":3,"bytes":10,"duplicate":false}"#
        );
        let err = ServerMessage::error(ErrorCode::SeqGap, "x").to_json();
        assert!(err.contains(r#""code":"seq-gap""#), "{err}");
    }
}
