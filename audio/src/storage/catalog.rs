use std::collections::{HashMap, HashSet};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::meta_watch::{Changes, MetaWatch};
use super::{Layout, RecordingMeta, RecordingState};
use crate::domain::{FileName, RecordingId};

/// The names of finished recordings, newest first: the original's `/api/files`.
pub fn list_file_names(layout: &Layout) -> io::Result<Vec<String>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(layout.recordings_dir())? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let metadata = entry.metadata()?;
        if !metadata.is_file() || FileName::parse(&name).is_err() {
            continue;
        }
        files.push((metadata.modified()?, name));
    }
    files.sort_by(|a, b| b.cmp(a));
    Ok(files.into_iter().map(|(_, name)| name).collect())
}

/// A page request: 1-based page number, page size, and an optional case-insensitive filter on
/// file name, metaId and userId.
#[derive(Debug, Clone)]
pub struct RecordingQuery {
    pub page: usize,
    pub limit: usize,
    pub search: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: usize,
    pub limit: usize,
    pub total: usize,
    pub next_page: Option<usize>,
}

/// What the catalog keeps of each recording: enough to sort and filter. A page's records are
/// read from disk when it is served, so what a page shows is always current.
#[derive(Debug)]
struct Entry {
    /// The metadata file as last read; `None` when it was written too close to that read to
    /// trust a later stat that looks the same (it is read again next time).
    stamp: Option<Stamp>,
    id: RecordingId,
    created_at: DateTime<Utc>,
    /// File name, metaId and userId, lower-cased, for `q`.
    haystack: Vec<String>,
}

/// A metadata file's identity: every save replaces the file (a new inode, a new mtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    mtime: SystemTime,
}

/// Clock granularity margin: a file or folder changed less than this before a scan may change
/// again without its mtime moving, so the scan does not trust it next time (as git does with
/// its index).
const RACY: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Scan {
    entries: HashMap<RecordingId, Entry>,
    /// Whether `entries` has been filled once.
    scanned: bool,
    /// Told of changes by the kernel; `None` if watching is not possible here.
    watch: Option<MetaWatch>,
    /// Not to watch, whatever the kernel offers.
    watch_refused: bool,
    /// The `meta/` folder's mtime when last looked at.
    dir_mtime: Option<SystemTime>,
    /// The `meta/` folder's mtime at the last full scan, if it was old enough to trust then.
    settled_dir_mtime: Option<SystemTime>,
}

/// The recording list, kept between requests. Every instance sharing the data folder writes
/// to it, so the folder stays the truth. The kernel tells which metadata files changed
/// (inotify), and only those are read again. Where it cannot tell (no inotify, a file system
/// shared between machines, its queue overflowed, or the folder changed without an event),
/// every metadata file is stat-ed and only the changed ones are read; that too is skipped when
/// the folder's mtime has not moved (any save, create or delete renames or unlinks there).
/// Reading and parsing 100,000 JSON files on every request took over a second.
pub struct Catalog {
    layout: Layout,
    scan: Mutex<Scan>,
}

impl Catalog {
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            scan: Mutex::new(Scan::default()),
        }
    }

    /// A catalog that does not ask the kernel, and finds changes by checking every file, as it
    /// does where inotify is not available.
    pub fn without_watch(layout: Layout) -> Self {
        let catalog = Self::new(layout);
        catalog
            .scan
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .watch_refused = true;
        catalog
    }

    /// Every recording's metadata, newest first, filtered and cut to one page. Sizes of
    /// recordings in progress are read from their `.part` files, so they grow as chunks arrive.
    /// Blocking: call it off the arbiters.
    pub fn list(&self, query: &RecordingQuery) -> io::Result<Page<RecordingMeta>> {
        let mut scan = self.scan.lock().unwrap_or_else(|poisoned| {
            // A refresh panicked halfway: what it held may be incomplete, so start over.
            let mut scan = poisoned.into_inner();
            scan.scanned = false;
            self.scan.clear_poison();
            scan
        });
        self.refresh(&mut scan)?;
        let needle = query.search.as_deref().map(str::to_lowercase);
        let mut matching: Vec<&Entry> = scan
            .entries
            .values()
            .filter(|entry| match &needle {
                Some(needle) => entry.haystack.iter().any(|field| field.contains(needle)),
                None => true,
            })
            .collect();
        matching.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let total = matching.len();
        let start = (query.page - 1).saturating_mul(query.limit);
        let ids: Vec<RecordingId> = matching
            .iter()
            .skip(start)
            .take(query.limit)
            .map(|entry| entry.id)
            .collect();
        drop(scan);

        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            match RecordingMeta::load(&self.layout, id) {
                Ok(mut meta) => {
                    if meta.status == RecordingState::Recording {
                        if let Ok(part) = std::fs::metadata(self.layout.part_file(meta.id)) {
                            meta.size = part.len();
                        }
                    }
                    items.push(meta);
                }
                // Deleted since the scan.
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => log::warn!("skipping unreadable metadata of {id}: {err}"),
            }
        }
        let next_page = (start + query.limit < total).then_some(query.page + 1);
        Ok(Page {
            items,
            page: query.page,
            limit: query.limit,
            total,
            next_page,
        })
    }

    /// Brings the entries up to date with the `meta/` folder.
    fn refresh(&self, scan: &mut Scan) -> io::Result<()> {
        let refreshed = self.try_refresh(scan);
        if refreshed.is_err() {
            // Notifications drained but not applied are gone: start over next time.
            scan.scanned = false;
        }
        refreshed
    }

    fn try_refresh(&self, scan: &mut Scan) -> io::Result<()> {
        let dir = self.layout.meta_dir();
        if !scan.scanned && !scan.watch_refused {
            // Watching starts before the first scan, so no change falls between the two.
            scan.watch = MetaWatch::new(&dir)
                .inspect_err(|err| {
                    log::info!("recording list: no inotify ({err}); it checks every file instead")
                })
                .ok();
        }
        let changes = match (&mut scan.watch, scan.scanned) {
            (Some(watch), true) => Some(watch.drain()),
            (Some(_), false) => Some(Changes::Lost),
            (None, _) => None,
        };
        // Looked at after the events were drained: a change in between is in the next drain.
        let dir_mtime = std::fs::metadata(&dir)?.modified()?;
        let moved_unannounced = scan.dir_mtime != Some(dir_mtime);
        scan.dir_mtime = Some(dir_mtime);
        match changes {
            Some(Changes::Names(names)) if !names.is_empty() => {
                for name in names {
                    self.reload(scan, &name)?;
                }
                Ok(())
            }
            Some(Changes::Names(_)) if !moved_unannounced => Ok(()),
            Some(Changes::Lost) => {
                // Whatever was dropped may include writes in place, which leave the folder's
                // mtime alone.
                scan.settled_dir_mtime = None;
                self.check_every_file(scan, dir_mtime)
            }
            Some(Changes::Names(_)) | None => self.check_every_file(scan, dir_mtime),
        }
    }

    /// Reads one metadata file again, or forgets it if it is gone.
    fn reload(&self, scan: &mut Scan, name: &std::ffi::OsStr) -> io::Result<()> {
        let Some(id) = id_of(name) else {
            return Ok(());
        };
        let started = SystemTime::now();
        let stat = match std::fs::metadata(self.layout.meta_file(id)) {
            Ok(stat) => stat,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                scan.entries.remove(&id);
                return Ok(());
            }
            Err(err) => return Err(err),
        };
        self.load_entry(scan, id, stamp_of(&stat)?, started);
        Ok(())
    }

    fn load_entry(&self, scan: &mut Scan, id: RecordingId, stamp: Stamp, started: SystemTime) {
        match RecordingMeta::load(&self.layout, id) {
            Ok(meta) => {
                let settled = started
                    .duration_since(stamp.mtime)
                    .is_ok_and(|age| age >= RACY);
                scan.entries
                    .insert(id, Entry::new(&meta, settled.then_some(stamp)));
            }
            // Deleted between the listing and the read.
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                scan.entries.remove(&id);
            }
            Err(err) => log::warn!("skipping unreadable metadata of {id}: {err}"),
        }
    }

    /// Stats every metadata file and reads again the ones that changed.
    fn check_every_file(&self, scan: &mut Scan, dir_mtime: SystemTime) -> io::Result<()> {
        let dir = self.layout.meta_dir();
        let started = SystemTime::now();
        if scan.settled_dir_mtime == Some(dir_mtime) {
            return Ok(());
        }
        let mut seen = HashSet::with_capacity(scan.entries.len());
        for dirent in std::fs::read_dir(&dir)? {
            let dirent = dirent?;
            let Some(id) = id_of(&dirent.file_name()) else {
                continue;
            };
            let stamp = match dirent.metadata() {
                Ok(stat) => stamp_of(&stat)?,
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err),
            };
            seen.insert(id);
            if scan
                .entries
                .get(&id)
                .is_none_or(|entry| entry.stamp != Some(stamp))
            {
                self.load_entry(scan, id, stamp, started);
            }
        }
        scan.entries.retain(|id, _| seen.contains(id));
        let dir_settled = started
            .duration_since(dir_mtime)
            .is_ok_and(|age| age >= RACY);
        scan.settled_dir_mtime = dir_settled.then_some(dir_mtime);
        scan.scanned = true;
        Ok(())
    }
}

/// `<recordingId>.json`; anything else in the folder (a temporary file mid-save) is not a
/// recording.
fn id_of(name: &std::ffi::OsStr) -> Option<RecordingId> {
    name.to_str()?.strip_suffix(".json")?.parse().ok()
}

fn stamp_of(stat: &std::fs::Metadata) -> io::Result<Stamp> {
    Ok(Stamp {
        ino: stat.ino(),
        len: stat.len(),
        mtime: stat.modified()?,
    })
}

impl Entry {
    fn new(meta: &RecordingMeta, stamp: Option<Stamp>) -> Self {
        Self {
            stamp,
            id: meta.id,
            created_at: meta.created_at,
            haystack: [
                Some(&meta.file_name),
                meta.meta_id.as_ref(),
                meta.user_id.as_ref(),
            ]
            .into_iter()
            .flatten()
            .map(|field| field.to_lowercase())
            .collect(),
        }
    }
}
