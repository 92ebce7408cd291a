use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::SystemTime;

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::atomic::sync_dir;
use super::segments::{self, Durable};
use super::{Layout, RecordingMeta, RecordingState, Storage};
use crate::domain::{FileName, MetaId, RecordingId, RecordingMime, UserId};
use kafka_core::OutboxEntry;

/// Size of one chunk-index entry: the chunk's seq and the file length after it, both u64 LE.
pub(super) const INDEX_ENTRY: u64 = 16;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no such recording")]
    NotFound,
    #[error("the recording has already ended ({0})")]
    AlreadyEnded(&'static str),
    #[error("the resume token does not match this recording")]
    WrongToken,
    #[error("the recording is owned by another live session")]
    Busy,
    #[error("chunk seq {got} leaves a gap: the next expected seq is {expected}")]
    SeqGap { expected: u64, got: u64 },
    #[error("the recording would exceed its limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("storage failure: {0}")]
    Io(#[from] io::Error),
}

/// What a new recording is made of, all parsed already.
#[derive(Debug, Clone)]
pub struct NewRecording {
    pub id: RecordingId,
    pub session_id: String,
    pub meta_id: Option<MetaId>,
    pub user_id: Option<UserId>,
    pub mime: RecordingMime,
}

/// Result of appending one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Written; `bytes` is the recording's length after it.
    Written { seq: u64, bytes: u64 },
    /// This seq was already stored: acknowledged again, not written twice.
    Duplicate { seq: u64, bytes: u64 },
}

/// A recording in progress, owned by whoever holds this value: its `.part` file stays locked
/// until the value is dropped, finished or detached. Exactly one owner exists at a time, across
/// every instance that shares the data folder.
#[derive(Debug)]
pub struct OpenRecording {
    storage: Storage,
    meta: RecordingMeta,
    data: File,
    index: File,
    bytes: u64,
    chunks: u64,
    last_seq: Option<u64>,
    /// How far the shared store holds it (segments), when recordings in progress go there.
    durable: Durable,
}

impl OpenRecording {
    /// Starts a recording: picks its file name, creates and locks its files, and writes its
    /// metadata with status `recording`.
    pub fn create(
        storage: &Storage,
        new: NewRecording,
        resume_token: &str,
    ) -> Result<Self, StorageError> {
        let layout = storage.layout();
        let base = new
            .meta_id
            .as_ref()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_else(|| new.session_id.clone());
        let stamp = chrono::Local::now().format("%Y%m%d%H%M%S");
        let mut file_name = format!("{base}_{stamp}.{}", new.mime.extension());
        let taken = FileName::parse(&file_name).is_ok_and(|n| storage.blobs().local_name_taken(&n));
        if taken {
            file_name = format!("{base}_{stamp}-{}.{}", new.id.short(), new.mime.extension());
        }

        let created = Self::create_files(layout, new.id);
        let (data, index) = match created {
            Ok(files) => files,
            Err(err) => {
                remove_partial_files(layout, new.id);
                return Err(err);
            }
        };

        let now = Utc::now();
        let meta = RecordingMeta {
            id: new.id,
            session_id: new.session_id,
            file_name,
            meta_id: new.meta_id.map(|m| m.as_str().to_owned()),
            user_id: new.user_id.map(UserId::into_string),
            mime_type: new.mime.as_str().to_owned(),
            status: RecordingState::Recording,
            size: 0,
            chunks: 0,
            created_at: now,
            updated_at: now,
            completed_at: None,
            resume_token_sha256: token_digest(resume_token),
            ended_as: None,
            processing: Default::default(),
        };
        if let Err(err) = storage.index().insert(&meta) {
            remove_partial_files(layout, new.id);
            return Err(err.into());
        }
        if storage.segmented() {
            // This instance holds it; its session renews the lease as it flushes segments.
            if let Err(err) = segments::hold(storage, new.id, None) {
                remove_partial_files(layout, new.id);
                return Err(err.into());
            }
        }
        Ok(Self {
            storage: storage.clone(),
            meta,
            data,
            index,
            bytes: 0,
            chunks: 0,
            last_seq: None,
            durable: Durable::default(),
        })
    }

    fn create_files(layout: &Layout, id: RecordingId) -> Result<(File, File), StorageError> {
        let create = |path| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(path)
        };
        let data = create(layout.part_file(id))?;
        lock(&data)?;
        let index = create(layout.index_file(id))?;
        Ok((data, index))
    }

    /// Takes a dropped recording over for a client that proves it started it.
    /// Takes recording `id` over with its resume token; with `owner`, only if it is theirs
    /// (another user's is "not found", as one that does not exist).
    pub fn resume(
        storage: &Storage,
        id: RecordingId,
        resume_token: &str,
        owner: Option<&str>,
    ) -> Result<Self, StorageError> {
        let meta = load_meta(storage, id)?;
        if owner.is_some_and(|owner| meta.user_id.as_deref() != Some(owner)) {
            return Err(StorageError::NotFound);
        }
        ensure_state(&meta, &[RecordingState::Recording])?;
        // Compared in constant time (lengths are not secret).
        let presented = token_digest(resume_token);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            presented.as_bytes(),
            meta.resume_token_sha256.as_bytes(),
        )) {
            return Err(StorageError::WrongToken);
        }
        Self::open_locked(storage, id, &[RecordingState::Recording])
    }

    /// Takes a recording over with no token: for the sweep that ends abandoned recordings and
    /// stores those that ended while the recordings' store was unreachable.
    pub(super) fn reclaim(storage: &Storage, id: RecordingId) -> Result<Self, StorageError> {
        Self::open_locked(
            storage,
            id,
            &[RecordingState::Recording, RecordingState::Storing],
        )
    }

    fn open_locked(
        storage: &Storage,
        id: RecordingId,
        allowed: &[RecordingState],
    ) -> Result<Self, StorageError> {
        let layout = storage.layout();
        let data = match OpenOptions::new()
            .read(true)
            .write(true)
            .open(layout.part_file(id))
        {
            Ok(file) => file,
            // Started on another host: taken over from the shared store, if its holder is gone.
            Err(err) if err.kind() == io::ErrorKind::NotFound && storage.segmented() => {
                return Self::adopt(storage, id)
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound)
            }
            Err(err) => return Err(err.into()),
        };
        lock(&data)?;
        // Read the metadata again under the lock: an owner that finished the recording while we
        // waited has changed its status.
        let meta = load_meta(storage, id)?;
        ensure_state(&meta, allowed)?;
        let mut durable = Durable::default();
        if storage.segmented() && meta.status == RecordingState::Recording {
            // Another host may have taken it over meanwhile; then the copy here is stale.
            durable = segments::hold(storage, id, None)?.ok_or(StorageError::Busy)?;
        }
        let index = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(layout.index_file(id))?;
        Self::from_files(storage, meta, data, index, durable)
    }

    /// Takes over a recording another host started and lost (its lease ran out, or its session
    /// let it go): its files are rebuilt here from the segments in the shared store, up to its
    /// durable point; its client resends the rest. Of two hosts taking it at once, the lease
    /// decides.
    fn adopt(storage: &Storage, id: RecordingId) -> Result<Self, StorageError> {
        let meta = load_meta(storage, id)?;
        if meta.status != RecordingState::Recording {
            // Ended, or waiting as `storing` on the host that holds its bytes.
            return Err(StorageError::AlreadyEnded(meta.status.as_str()));
        }
        let upto = segments::hold(storage, id, None)?.ok_or(StorageError::Busy)?;
        let layout = storage.layout();
        let (data, index) = match Self::create_files(layout, id) {
            Ok(files) => files,
            Err(StorageError::Io(err)) if err.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StorageError::Busy)
            }
            Err(err) => return Err(err),
        };
        if let Err(err) = segments::restore(storage, id, upto, &data, &index) {
            remove_partial_files(layout, id);
            return Err(err.into());
        }
        log::info!(
            "recording {id} taken over from the shared store at {} bytes ({} chunks)",
            upto.bytes,
            upto.chunks
        );
        Self::from_files(storage, meta, data, index, upto)
    }

    /// A recording taken over from its files (locked already), cut back to what they hold.
    fn from_files(
        storage: &Storage,
        meta: RecordingMeta,
        data: File,
        index: File,
        durable: Durable,
    ) -> Result<Self, StorageError> {
        let mut recording = Self {
            storage: storage.clone(),
            meta,
            data,
            index,
            bytes: 0,
            chunks: 0,
            last_seq: None,
            durable,
        };
        recording.repair()?;
        Ok(recording)
    }

    /// Brings data and index back to the last chunk that was both written and indexed (the
    /// last one that can have been acknowledged); a write cut short by a crash is dropped, and
    /// its client resends it.
    fn repair(&mut self) -> io::Result<()> {
        let data_len = self.data.metadata()?.len();
        let mut raw = Vec::new();
        (&self.index).read_to_end(&mut raw)?;
        let entries: Vec<(u64, u64)> = raw
            .chunks_exact(INDEX_ENTRY as usize)
            .map(|e| {
                let seq = u64::from_le_bytes(e[..8].try_into().unwrap_or_default());
                let end = u64::from_le_bytes(e[8..].try_into().unwrap_or_default());
                (seq, end)
            })
            .collect();
        // Keep the longest prefix that is consistent: ends never decrease, seqs count up by one,
        // and every end lies within the data actually on disk.
        let mut kept = 0;
        let mut previous_end = 0;
        for (i, (seq, end)) in entries.iter().enumerate() {
            let consecutive = *seq == i as u64;
            if !consecutive || *end < previous_end || *end > data_len {
                break;
            }
            previous_end = *end;
            kept = i + 1;
        }
        self.chunks = kept as u64;
        self.bytes = previous_end;
        self.last_seq = kept.checked_sub(1).map(|last| entries[last].0);
        self.index.set_len(self.chunks * INDEX_ENTRY)?;
        self.data.set_len(self.bytes)?;
        Ok(())
    }

    /// Appends one chunk. Without a `seq` the chunk takes the next one. A `seq` already stored
    /// is acknowledged without writing; one past the next is a gap and is refused. On a write
    /// error the files are cut back so nothing half-written stays.
    pub fn append(
        &mut self,
        seq: Option<u64>,
        chunk: &[u8],
        max_bytes: u64,
    ) -> Result<AppendOutcome, StorageError> {
        let expected = self.next_seq();
        let seq = seq.unwrap_or(expected);
        if seq < expected {
            return Ok(AppendOutcome::Duplicate {
                seq,
                bytes: self.bytes,
            });
        }
        if seq > expected {
            return Err(StorageError::SeqGap { expected, got: seq });
        }
        let end = self.bytes + chunk.len() as u64;
        if end > max_bytes {
            return Err(StorageError::TooLarge { limit: max_bytes });
        }
        let mut entry = [0u8; INDEX_ENTRY as usize];
        entry[..8].copy_from_slice(&seq.to_le_bytes());
        entry[8..].copy_from_slice(&end.to_le_bytes());
        let written = self
            .data
            .write_all_at(chunk, self.bytes)
            .and_then(|()| self.index.write_all_at(&entry, self.chunks * INDEX_ENTRY));
        if let Err(err) = written {
            let _ = self.data.set_len(self.bytes);
            let _ = self.index.set_len(self.chunks * INDEX_ENTRY);
            return Err(err.into());
        }
        self.bytes = end;
        self.chunks += 1;
        self.last_seq = Some(seq);
        Ok(AppendOutcome::Written { seq, bytes: end })
    }

    /// Lets go of the recording without ending it: it stays resumable, and the grace period
    /// counts from now (the `.part` file's modification time).
    pub fn detach(self) {
        if let Err(err) = self.data.set_modified(SystemTime::now()) {
            log::warn!(
                "recording {}: could not touch its file: {err}",
                self.meta.id
            );
        }
    }

    /// Ends the recording: data fsynced, stored in the recordings' store under its final name
    /// (never over another recording), then, in one transaction of the index, the record
    /// updated and the event that `announce` makes of it put in the outbox; then the
    /// in-progress files removed. Blocking: call it off the arbiters. Each step can be repeated
    /// after a crash without harm: the record and its event are written together or not at all.
    ///
    /// With a remote store the name is first claimed in the index (status `storing`), then the
    /// bytes uploaded. An upload that fails leaves the recording `storing`, its bytes here, and
    /// answers with that record (no event yet): the sweep stores it when the store is back.
    pub fn finish(
        mut self,
        status: RecordingState,
        announce: impl FnOnce(&RecordingMeta) -> io::Result<Option<OutboxEntry>>,
    ) -> Result<RecordingMeta, StorageError> {
        self.data.sync_all()?;
        let was = self.meta.status;
        if was == RecordingState::Recording {
            let now = Utc::now();
            self.meta.ended_as = Some(status);
            self.meta.size = self.bytes;
            self.meta.chunks = self.chunks;
            self.meta.updated_at = now;
            self.meta.completed_at = Some(now);
        }
        let blobs = self.storage.blobs().clone();
        let expected = if blobs.is_remote() {
            if was == RecordingState::Recording {
                self.claim_name()?;
            }
            let name = FileName::parse(&self.meta.file_name)
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
            if let Err(err) = blobs.store_file(&name, &self.part_path()) {
                log::warn!(
                    "recording {} waits as storing: {} is unreachable: {err}",
                    self.meta.id,
                    blobs.describe()
                );
                return Ok(self.meta);
            }
            RecordingState::Storing
        } else {
            self.meta.file_name = self.link_final()?.as_str().to_owned();
            RecordingState::Recording
        };
        // Every finished recording is post-processed next: its event is in the outbox.
        self.meta.status = RecordingState::Processing;
        self.meta.updated_at = Utc::now();
        let event = announce(&self.meta)?;
        // Only a recording still as this owner found it is ended: of two owners finishing it at
        // once (which the file lock already prevents on one folder), one wins, and one event is
        // written.
        if !self
            .storage
            .index()
            .update_if(&self.meta, &[expected], event.as_ref())?
        {
            return Err(StorageError::AlreadyEnded("finished by another owner"));
        }
        remove_partial_files(self.storage.layout(), self.meta.id);
        if self.storage.segmented() {
            segments::discard(&self.storage, self.meta.id);
        }
        Ok(self.meta)
    }

    /// Finishes a recording whose owner let it go after a finish that failed (the index was
    /// unreachable): taken over again, then finished as `status`. Blocking.
    pub fn finish_again(
        storage: &Storage,
        id: RecordingId,
        status: RecordingState,
        announce: impl FnOnce(&RecordingMeta) -> io::Result<Option<OutboxEntry>>,
    ) -> Result<RecordingMeta, StorageError> {
        Self::reclaim(storage, id)?.finish(status, announce)
    }

    /// Remembers, on this host's disk, that the recording's end was asked as `status`, for a
    /// finish that has to wait: whoever finishes it later (this session, or the sweep after a
    /// restart) ends it so rather than as `interrupted`. Blocking.
    pub fn mark_ended(
        storage: &Storage,
        id: RecordingId,
        status: RecordingState,
    ) -> io::Result<()> {
        super::atomic::write_atomically(&storage.layout().end_file(id), status.as_str().as_bytes())
    }

    /// How the recording's end was asked, if it was and is not recorded yet.
    pub(super) fn ended_as(storage: &Storage, id: RecordingId) -> Option<RecordingState> {
        let raw = fs::read_to_string(storage.layout().end_file(id)).ok()?;
        RecordingState::parse(raw.trim())
    }

    /// Marks the recording `storing` under a file name no other ended recording holds: its
    /// wish, else the wish with the recording's short id, else its id. The index's unique rule
    /// on ended recordings' names decides between hosts.
    fn claim_name(&mut self) -> Result<(), StorageError> {
        self.meta.status = RecordingState::Storing;
        for candidate in self.name_candidates()? {
            self.meta.file_name = candidate.as_str().to_owned();
            match self
                .storage
                .index()
                .update_if(&self.meta, &[RecordingState::Recording], None)
            {
                Ok(true) => return Ok(()),
                Ok(false) => return Err(StorageError::AlreadyEnded("finished by another owner")),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free file name").into())
    }

    /// Links the `.part` file into the local store under its final name. A link never replaces
    /// an existing file, so two recordings can't clobber each other; a link left by an earlier,
    /// interrupted attempt (same inode) is reused.
    fn link_final(&self) -> Result<FileName, StorageError> {
        let part = self.part_path();
        for name in self.name_candidates()? {
            match self.storage.blobs().store_file(&name, &part) {
                Ok(()) => return Ok(name),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err.into()),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free file name").into())
    }

    /// The names a recording may end with, in order of preference.
    fn name_candidates(&self) -> Result<Vec<FileName>, StorageError> {
        let wanted = FileName::parse(&self.meta.file_name)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        let (stem, ext) = wanted
            .as_str()
            .rsplit_once('.')
            .unwrap_or((wanted.as_str(), "bin"));
        let stem = stem
            .strip_suffix(&format!("-{}", self.meta.id.short()))
            .unwrap_or(stem);
        [
            wanted.as_str().to_owned(),
            format!("{stem}-{}.{ext}", self.meta.id.short()),
            format!("{}.{ext}", self.meta.id),
        ]
        .iter()
        .map(|candidate| {
            FileName::parse(candidate)
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err).into())
        })
        .collect()
    }

    pub fn next_seq(&self) -> u64 {
        self.last_seq.map_or(0, |seq| seq + 1)
    }

    pub fn id(&self) -> RecordingId {
        self.meta.id
    }

    pub fn meta(&self) -> &RecordingMeta {
        &self.meta
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Where the recording's bytes are while it is in progress.
    pub fn part_path(&self) -> PathBuf {
        self.storage.layout().part_file(self.meta.id)
    }

    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// How far the shared store holds it; everything when recordings in progress are not
    /// segmented (the data folder is the shared storage).
    pub fn durable(&self) -> Durable {
        if self.storage.segmented() {
            self.durable
        } else {
            Durable {
                chunks: self.chunks,
                bytes: self.bytes,
            }
        }
    }

    /// The shared store now holds it up to `durable` (a flush by its session).
    pub fn set_durable(&mut self, durable: Durable) {
        self.durable = self.durable.max(durable);
    }

    /// The storage it belongs to.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }
}

/// Removes a finished recording's leftover `.part`, `.idx` and `.end` files.
pub(super) fn remove_partial_files(layout: &Layout, id: RecordingId) {
    for path in [
        layout.part_file(id),
        layout.index_file(id),
        layout.end_file(id),
    ] {
        if let Err(err) = fs::remove_file(&path) {
            if err.kind() != io::ErrorKind::NotFound {
                log::warn!("could not remove {}: {err}", path.display());
            }
        }
    }
    let _ = sync_dir(&layout.partial_dir());
}

fn lock(file: &File) -> Result<(), StorageError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(StorageError::Busy),
        Err(TryLockError::Error(err)) => Err(err.into()),
    }
}

fn load_meta(storage: &Storage, id: RecordingId) -> Result<RecordingMeta, StorageError> {
    storage.index().get(id)?.ok_or(StorageError::NotFound)
}

fn ensure_state(meta: &RecordingMeta, allowed: &[RecordingState]) -> Result<(), StorageError> {
    if allowed.contains(&meta.status) {
        Ok(())
    } else {
        Err(StorageError::AlreadyEnded(meta.status.as_str()))
    }
}

fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_recording() -> NewRecording {
        NewRecording {
            id: RecordingId::new(),
            session_id: "s".into(),
            meta_id: Some(MetaId::parse("m").unwrap()),
            user_id: None,
            mime: RecordingMime::webm(),
        }
    }

    #[test]
    fn seq_rules_and_resume_after_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), None, None).unwrap();
        let layout = storage.layout().clone();
        let mut rec = OpenRecording::create(&storage, new_recording(), "tok").unwrap();
        let id = rec.id();
        assert_eq!(
            rec.append(Some(0), b"abc", 100).unwrap(),
            AppendOutcome::Written { seq: 0, bytes: 3 }
        );
        assert_eq!(
            rec.append(Some(0), b"abc", 100).unwrap(),
            AppendOutcome::Duplicate { seq: 0, bytes: 3 }
        );
        assert!(matches!(
            rec.append(Some(5), b"x", 100),
            Err(StorageError::SeqGap {
                expected: 1,
                got: 5
            })
        ));
        assert!(matches!(
            rec.append(None, &[0; 200], 100),
            Err(StorageError::TooLarge { .. })
        ));
        rec.append(None, b"de", 100).unwrap();

        // While owned, nobody else gets it, with or without the token.
        assert!(matches!(
            OpenRecording::resume(&storage, id, "tok", None),
            Err(StorageError::Busy)
        ));
        // Simulate a crash mid-write: bytes on disk that the index does not cover.
        rec.data.write_all_at(b"torn", 5).unwrap();
        drop(rec);

        assert!(matches!(
            OpenRecording::resume(&storage, id, "wrong", None),
            Err(StorageError::WrongToken)
        ));
        // A user's resume of a recording that is not theirs: as if there were none, token or not.
        assert!(matches!(
            OpenRecording::resume(&storage, id, "tok", Some("mallory")),
            Err(StorageError::NotFound)
        ));
        let mut rec = OpenRecording::resume(&storage, id, "tok", None).unwrap();
        assert_eq!((rec.bytes(), rec.chunks(), rec.next_seq()), (5, 2, 2));
        rec.append(Some(2), b"f", 100).unwrap();
        let meta = rec.finish(RecordingState::Completed, |_| Ok(None)).unwrap();
        let stored = fs::read(dir.path().join("recordings").join(&meta.file_name)).unwrap();
        assert_eq!(stored, b"abcdef");
        assert_eq!((meta.size, meta.chunks), (6, 3));
        assert!(!layout.part_file(id).exists());
        assert!(matches!(
            OpenRecording::resume(&storage, id, "tok", None),
            Err(StorageError::AlreadyEnded("processing"))
        ));
    }

    #[test]
    fn two_recordings_with_one_name_do_not_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), None, None).unwrap();
        let mut a = OpenRecording::create(&storage, new_recording(), "a").unwrap();
        let mut b = OpenRecording::create(&storage, new_recording(), "b").unwrap();
        a.append(None, b"aaa", 10).unwrap();
        b.append(None, b"bbb", 10).unwrap();
        let ma = a.finish(RecordingState::Completed, |_| Ok(None)).unwrap();
        let mb = b.finish(RecordingState::Completed, |_| Ok(None)).unwrap();
        assert_ne!(ma.file_name, mb.file_name);
        assert_eq!(
            fs::read(dir.path().join("recordings").join(&ma.file_name)).unwrap(),
            b"aaa"
        );
        assert_eq!(
            fs::read(dir.path().join("recordings").join(&mb.file_name)).unwrap(),
            b"bbb"
        );
    }
}
