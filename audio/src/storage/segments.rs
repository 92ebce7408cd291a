//! A recording in progress, made durable in the shared store while it goes on, so that it
//! survives the loss of its host. Only with a remote store: on the local folder a recording's
//! bytes are already where every instance sharing the folder finds them.
//!
//! Every few seconds the session holding a recording uploads what it accepted since the last
//! time as one segment object, `partial/<recordingId>/<start offset, 20 digits>`, then moves the
//! recording's durable point in the index (and renews its lease there). A segment holds the
//! chunk-index entries of its chunks and their bytes:
//!
//! ```text
//! u64 LE  n, the number of chunks in the segment
//! n × 16  their (seq, end offset) entries, as in the .idx file
//! bytes   the recording's bytes from the start offset to the last entry's end
//! ```
//!
//! A host that takes a recording over (its lease ran out) rebuilds the `.part` and `.idx`
//! files from the segments up to the durable point, and the client resends the rest: it keeps
//! every chunk until an acknowledgement says the chunk is durable. When the recording ends,
//! the whole file is stored as usual and its segments are deleted.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use chrono::Utc;

use super::open::INDEX_ENTRY;
use super::Storage;
use crate::domain::RecordingId;

/// How far a recording is durable: chunks and bytes from its start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Durable {
    pub chunks: u64,
    pub bytes: u64,
}

fn prefix(id: RecordingId) -> String {
    format!("partial/{id}/")
}

/// Uploads what `id` accepted between `from` and `to` as one segment, then moves the durable
/// point to `to` and renews the lease; with nothing new, only renews the lease. Answers
/// `false` when the lease is lost (another instance took the recording over: this one must
/// let it go). Blocking.
pub fn flush(storage: &Storage, id: RecordingId, from: Durable, to: Durable) -> io::Result<bool> {
    let durable = if to.chunks > from.chunks {
        let layout = storage.layout();
        let entries = read_at(
            &File::open(layout.index_file(id))?,
            from.chunks * INDEX_ENTRY,
            (to.chunks - from.chunks) * INDEX_ENTRY,
        )?;
        let data = read_at(
            &File::open(layout.part_file(id))?,
            from.bytes,
            to.bytes - from.bytes,
        )?;
        let mut body = Vec::with_capacity(8 + entries.len() + data.len());
        body.extend_from_slice(&(to.chunks - from.chunks).to_le_bytes());
        body.extend_from_slice(&entries);
        body.extend_from_slice(&data);
        let stored = storage
            .blobs()
            .put_object(&format!("{}{:020}", prefix(id), from.bytes), body);
        if let Err(err) = stored {
            // The store is away, not this host: keep the lease, so that nobody takes over a
            // recording whose latest bytes only this host has.
            hold(storage, id, None)?;
            return Err(err);
        }
        Some((to.bytes, to.chunks))
    } else {
        None
    };
    hold(storage, id, durable).map(|held| held.is_some())
}

/// Takes or renews this instance's lease on a recording in progress, moving its durable point
/// with `durable`. Answers the durable point, or `None` when another instance holds the
/// recording (or it is no longer in progress). Blocking.
pub fn hold(
    storage: &Storage,
    id: RecordingId,
    durable: Option<(u64, u64)>,
) -> io::Result<Option<Durable>> {
    let now = Utc::now();
    let until = now + lease_length(storage.segment_interval());
    let held = storage
        .index()
        .hold(id, storage.instance(), now, until, durable)?;
    Ok(held.map(|(bytes, chunks)| Durable { chunks, bytes }))
}

/// Lets another instance take the recording over at once (its session went away here).
/// Blocking.
pub fn release(storage: &Storage, id: RecordingId) -> io::Result<()> {
    let now = Utc::now();
    storage
        .index()
        .hold(id, storage.instance(), now, now, None)
        .map(|_| ())
}

/// A holder that has not renewed for three flush intervals is gone.
fn lease_length(interval: Duration) -> chrono::Duration {
    chrono::Duration::from_std(interval * 3).unwrap_or(chrono::Duration::seconds(15))
}

/// Rebuilds a recording's `.part` and `.idx` (already created, empty and locked) from its
/// segments, up to its durable point. Blocking.
pub fn restore(
    storage: &Storage,
    id: RecordingId,
    upto: Durable,
    data: &File,
    index: &File,
) -> io::Result<()> {
    let mut at = Durable::default();
    for (start, name) in storage.blobs().list_objects(&prefix(id))? {
        if at >= upto {
            break;
        }
        if start != at.bytes {
            // A segment whose durable point the index never recorded (its writer died between
            // the two), or one from a lease that was lost: only what the index says counts.
            continue;
        }
        let Some(body) = storage.blobs().get_object(&name)? else {
            continue;
        };
        let bad = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("segment {name} is damaged"),
            )
        };
        let count = u64::from_le_bytes(
            body.get(..8)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        );
        let entries_len = (count * INDEX_ENTRY) as usize;
        let entries = body.get(8..8 + entries_len).ok_or_else(bad)?;
        let bytes = &body[8 + entries_len..];
        index.write_all_at(entries, at.chunks * INDEX_ENTRY)?;
        data.write_all_at(bytes, at.bytes)?;
        at = Durable {
            chunks: at.chunks + count,
            bytes: at.bytes + bytes.len() as u64,
        };
    }
    if at < upto {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "recording {id}: the store holds {} of its {} durable bytes",
                at.bytes, upto.bytes
            ),
        ));
    }
    index.set_len(upto.chunks * INDEX_ENTRY)?;
    data.set_len(upto.bytes)?;
    data.sync_all()?;
    index.sync_all()
}

/// Removes a finished recording's segments, in the background: the recording is stored whole
/// already, so its end does not wait for these requests; what is not removed (the process gone
/// meanwhile, the store away) is only wasted space under `partial/`.
pub fn discard(storage: &Storage, id: RecordingId) {
    storage.blobs().delete_all_under(prefix(id));
}

/// How many segments of recording `id` the store holds (none once it is stored and they are
/// removed). Blocking.
pub fn count(blobs: &super::Blobs, id: RecordingId) -> io::Result<usize> {
    Ok(blobs.list_objects(&prefix(id))?.len())
}

fn read_at(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut buffer = vec![0; len as usize];
    file.read_exact_at(&mut buffer, offset)?;
    Ok(buffer)
}
