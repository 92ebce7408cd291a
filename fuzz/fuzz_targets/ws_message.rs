//! Any text frame: parsed once, every field parsed as the session would, never a panic. A
//! chunk decodes the same twice in a row (the second time into the thread's reused buffer).
#![no_main]
use audio::domain::{with_decoded_chunk, MetaId, RecordingMime, UserId};
use audio::ClientMessage;
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
            let first = with_decoded_chunk(&chunk, <[u8]>::to_vec);
            let again = with_decoded_chunk(&chunk, <[u8]>::to_vec);
            assert_eq!(first, again, "the reused buffer changed a chunk's bytes");
        }
        Ok(ClientMessage::RecordResume { recording_id, .. }) => {
            let _ = recording_id.parse::<audio::domain::RecordingId>();
        }
        _ => {}
    }
    let _ = audio::domain::FileName::parse(text);
});
