//! Any text frame: parsed once, every field parsed as the session would, never a panic.
#![no_main]
use audio::domain::{decode_chunk, MetaId, RecordingMime, UserId};
use audio::protocol::ClientMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match ClientMessage::parse(text) {
        Ok(ClientMessage::RecordStart { meta_id, meta_data, mime_type }) => {
            let _ = MetaId::parse_optional(meta_id.as_deref());
            let _ = UserId::parse_optional(meta_data.user_id.as_deref());
            let _ = RecordingMime::parse_optional(mime_type.as_deref());
        }
        Ok(ClientMessage::RecordIdle { chunk, .. }) => {
            let _ = decode_chunk(&chunk);
        }
        Ok(ClientMessage::RecordResume { recording_id, .. }) => {
            let _ = recording_id.parse::<audio::domain::RecordingId>();
        }
        _ => {}
    }
    let _ = audio::domain::FileName::parse(text);
});
