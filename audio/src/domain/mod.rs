//! Domain types that parse client input once, so the rest of the service only ever sees valid
//! values ("parse, don't validate").

mod chunk;
mod file_name;
mod meta_id;
mod mime;
mod recording_id;
mod session_key;
mod user_id;

pub use chunk::{with_decoded_chunk, ChunkError};
pub use file_name::{FileName, FileNameError};
pub use meta_id::{MetaId, MetaIdError};
pub use mime::{MimeError, RecordingMime};
pub use recording_id::{RecordingId, RecordingIdError};
pub use session_key::{SessionKey, SessionKeyError};
pub use user_id::{UserId, UserIdError};
