//! The durable outbox: an event is written durably here before anyone is told it happened,
//! and removed only after it was delivered (Kafka acknowledged it, or the embedded bus's
//! consumers handled it). After a crash, whatever is still here is sent again: an event may be
//! delivered twice, never lost.
//!
//! Where it is kept is a seam ([`OutboxStore`]): a folder of files here ([`FileOutbox`]), or a
//! table a service writes in the same transaction as the change the event announces.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::events::{Event, SCHEMA_VERSION};
use stack_common::durable::{sync_dir, write_atomically};

/// One event waiting for delivery, with everything a producer needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEntry {
    pub id: Uuid,
    pub topic: String,
    pub key: String,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl OutboxEntry {
    pub fn new<E: Event>(event: &E) -> serde_json::Result<Self> {
        Ok(Self {
            id: event.event_id(),
            topic: E::TOPIC.to_owned(),
            key: event.key(),
            event_type: E::TYPE.to_owned(),
            schema_version: SCHEMA_VERSION,
            payload: serde_json::to_value(event)?,
            created_at: Utc::now(),
        })
    }

    /// The message value as sent.
    pub fn payload_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.payload).unwrap_or_default()
    }

    /// Headers sent with the message: type, id and version of the event.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("eventType", self.event_type.clone()),
            ("eventId", self.id.to_string()),
            ("schemaVersion", self.schema_version.to_string()),
        ]
    }
}

/// Where pending events are kept. `append` and `pending` may block (call them off the
/// arbiters); `remove` is called from the producer's arbiter and must not block it.
pub trait OutboxStore: Send + Sync + 'static {
    /// Keeps an entry durably.
    fn append(&self, entry: &OutboxEntry) -> io::Result<()>;
    /// Forgets a delivered entry (already gone is fine). A removal that is lost only means the
    /// entry is delivered again.
    fn remove(&self, id: Uuid) -> io::Result<()>;
    /// Every entry still waiting, oldest first.
    fn pending(&self) -> io::Result<Vec<OutboxEntry>>;
    /// How many entries are waiting (for metrics); a store that can count without reading them
    /// says so.
    fn waiting(&self) -> io::Result<usize> {
        Ok(self.pending()?.len())
    }
}

/// The outbox a bus relays from: a handle on its store.
#[derive(Clone)]
pub struct Outbox(Arc<dyn OutboxStore>);

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Outbox")
    }
}

impl Outbox {
    /// The outbox as a folder of files.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        Ok(Self::new(Arc::new(FileOutbox::open(dir)?)))
    }

    pub fn new(store: Arc<dyn OutboxStore>) -> Self {
        Self(store)
    }

    pub fn append(&self, entry: &OutboxEntry) -> io::Result<()> {
        self.0.append(entry)
    }

    pub fn remove(&self, id: Uuid) -> io::Result<()> {
        self.0.remove(id)
    }

    pub fn pending(&self) -> io::Result<Vec<OutboxEntry>> {
        self.0.pending()
    }

    pub fn waiting(&self) -> io::Result<usize> {
        self.0.waiting()
    }
}

/// A folder of pending events, one JSON file each.
#[derive(Debug, Clone)]
pub struct FileOutbox {
    dir: PathBuf,
}

impl FileOutbox {
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        // Temporary files of writes that a crash interrupted never became entries.
        for entry in std::fs::read_dir(&dir)?.flatten() {
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self { dir })
    }

    fn path(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }
}

impl OutboxStore for FileOutbox {
    /// Writes and fsyncs an entry. Blocking: call it off the arbiters.
    fn append(&self, entry: &OutboxEntry) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(entry)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        write_atomically(&self.path(entry.id), &bytes)
    }

    /// Removes a delivered entry (already gone is fine).
    fn remove(&self, id: Uuid) -> io::Result<()> {
        match std::fs::remove_file(self.path(id)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => sync_dir(&self.dir),
        }
    }

    /// Every entry still waiting, oldest first. Unreadable files are reported and skipped.
    fn pending(&self) -> io::Result<Vec<OutboxEntry>> {
        let mut entries = Vec::new();
        for file in std::fs::read_dir(&self.dir)?.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".json") || name.starts_with('.') {
                continue;
            }
            match std::fs::read(file.path()).map(|b| serde_json::from_slice::<OutboxEntry>(&b)) {
                Ok(Ok(entry)) => entries.push(entry),
                Ok(Err(err)) => {
                    log::error!("outbox entry {name} is unreadable, left in place: {err}")
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        entries.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RecordDeletedEvent;

    fn event() -> RecordDeletedEvent {
        RecordDeletedEvent {
            event_id: Uuid::new_v4(),
            recording_id: Uuid::new_v4(),
            session_id: "s".into(),
            user_id: None,
            file_name: "f.webm".into(),
            deleted_at: Utc::now(),
            schema_version: SCHEMA_VERSION,
        }
    }

    #[test]
    fn entries_survive_reopening_and_go_when_removed() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let first = OutboxEntry::new(&event()).unwrap();
        let second = OutboxEntry::new(&event()).unwrap();
        outbox.append(&first).unwrap();
        outbox.append(&second).unwrap();
        std::fs::write(dir.path().join(".half-written.json.x.tmp"), b"{").unwrap();

        let reopened = Outbox::open(dir.path()).unwrap();
        let pending = reopened.pending().unwrap();
        assert_eq!(pending, vec![first.clone(), second.clone()]);
        assert_eq!(first.topic, "audio.record.deleted");
        assert_eq!(
            first.headers()[0],
            ("eventType", "RecordDeletedEvent".to_owned())
        );
        reopened.remove(first.id).unwrap();
        reopened.remove(first.id).unwrap();
        assert_eq!(reopened.pending().unwrap(), vec![second]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
