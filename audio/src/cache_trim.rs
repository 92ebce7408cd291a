//! Dropping the older part of recordings in progress from the page cache.
//!
//! Every recorded byte lands in the page cache first. Left alone, the cache grows by all that is
//! recorded (about 100 MB/s at 5,000 sessions) until memory runs short, and every page of it is
//! memory no process has touched before. On the VMs this project is measured on, such a page
//! costs several times what a page the kernel recycles costs (the host backs guest memory only
//! when it is first used, and takes freed memory back): appending 10 GiB at 100 MB/s took 23.9 s
//! of the machine's CPU with the cache left to grow, and 9.4 s with this trimming (see
//! `docs/performance/analysis.md`).
//!
//! So each session, on a timer, asks the [`CacheTrimmer`] to drop what its recording already
//! held [`TrimMarks::DEPTH`] ticks ago (`POSIX_FADV_DONTNEED`). The kernel only drops pages that
//! are clean: older ones have usually been written out already, and for any still dirty the call
//! starts their writeback, so a later call drops them. Nothing is lost either way; a reader
//! (post-processing, a download) reads them back from disk. The call can wait in the block
//! layer, so it runs on a thread of its own, never on an arbiter.
//!
//! Each request covers only the bytes of its last [`TrimMarks::DEPTH`] requests, not the whole
//! file: the kernel walks every cached page of the range it is given, and a page that cannot be
//! dropped would otherwise be walked again every tick for the rest of a long recording. On tmpfs
//! no page can be dropped (they are the data), so there is no trimming at all
//! ([`trims_pages`]).

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::Duration;

use actix::prelude::*;

use crate::domain::RecordingId;

/// The trimmer's address and how old bytes must be before they are dropped.
#[derive(Debug, Clone)]
pub struct CacheTrim {
    pub trimmer: Addr<CacheTrimmer>,
    pub after: Duration,
}

impl CacheTrim {
    /// How often a session marks its length: [`TrimMarks::DEPTH`] ticks make up `after`.
    pub fn tick(&self) -> Duration {
        (self.after / TrimMarks::DEPTH as u32).max(Duration::from_millis(10))
    }
}

/// Drop bytes `start..end` of the file at `path` from the page cache.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Trim {
    pub path: PathBuf,
    pub start: u64,
    pub end: u64,
}

/// A `SyncArbiter` actor: one thread that makes the (possibly blocking) `fadvise` calls.
#[derive(Debug, Default)]
pub struct CacheTrimmer;

impl Actor for CacheTrimmer {
    type Context = SyncContext<Self>;
}

impl Handler<Trim> for CacheTrimmer {
    type Result = ();

    fn handle(&mut self, trim: Trim, _: &mut Self::Context) {
        // A fresh open file description: the session's own handle carries the recording's lock,
        // which must go when the session lets go, not when this message is handled.
        match drop_cached(&trim) {
            Ok(()) => {}
            // Finished (and renamed) or deleted meanwhile: its cache is no longer our business.
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => log::debug!("could not trim {}: {err}", trim.path.display()),
        }
    }
}

fn drop_cached(trim: &Trim) -> io::Result<()> {
    let Some(len) = NonZeroU64::new(trim.end.saturating_sub(trim.start)) else {
        return Ok(());
    };
    let file = File::open(&trim.path)?;
    rustix::fs::fadvise(&file, trim.start, Some(len), rustix::fs::Advice::DontNeed)?;
    Ok(())
}

/// Whether dropping pages from the cache can work for files in `dir`: not on tmpfs (nor ramfs),
/// whose pages are the files themselves.
pub fn trims_pages(dir: &Path) -> io::Result<bool> {
    const TMPFS: u64 = 0x0102_1994;
    const RAMFS: u64 = 0x8584_58f6;
    let kind = rustix::fs::statfs(dir)?.f_type as u64;
    Ok(kind != TMPFS && kind != RAMFS)
}

/// One session's lengths at its last ticks: what to trim, and when.
#[derive(Debug, Default)]
pub struct TrimMarks {
    recording: Option<RecordingId>,
    lengths: VecDeque<u64>,
    /// Ends of the last requests, oldest first: the next request starts at the oldest.
    asked: VecDeque<u64>,
}

impl TrimMarks {
    /// Ticks between a byte's arrival and its trimming (at most one tick more), and how many
    /// requests cover each byte.
    pub const DEPTH: usize = 4;

    /// Notes `recording`'s length now; returns the range to trim, when its end has moved on
    /// since the last request. A different recording (the socket started another one) starts
    /// afresh.
    pub fn tick(&mut self, recording: RecordingId, length: u64) -> Option<(u64, u64)> {
        if self.recording != Some(recording) {
            *self = Self {
                recording: Some(recording),
                ..Self::default()
            };
        }
        self.lengths.push_back(length);
        if self.lengths.len() <= Self::DEPTH {
            return None;
        }
        let end = self.lengths.pop_front()?;
        if end <= self.asked.back().copied().unwrap_or(0) {
            return None;
        }
        // Bytes still dirty at one request are dropped by a later one that covers them too.
        let start = if self.asked.len() < Self::DEPTH {
            0
        } else {
            self.asked.pop_front().unwrap_or(0)
        };
        self.asked.push_back(end);
        Some((start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_what_was_there_depth_ticks_ago_once_it_grows() {
        let id = RecordingId::new();
        let mut marks = TrimMarks::default();
        let asked: Vec<_> = [10, 20, 30, 40, 50, 60, 60, 60, 60, 60, 70]
            .into_iter()
            .map(|length| marks.tick(id, length))
            .collect();
        assert_eq!(
            asked,
            [
                None,
                None,
                None,
                None,
                Some((0, 10)),
                Some((0, 20)),
                Some((0, 30)),
                Some((0, 40)),
                Some((10, 50)),
                Some((20, 60)),
                None
            ]
        );
    }

    #[test]
    fn each_byte_is_covered_by_depth_requests_and_no_more() {
        let id = RecordingId::new();
        let mut marks = TrimMarks::default();
        let ranges: Vec<(u64, u64)> = (1..=40u64)
            .filter_map(|tick| marks.tick(id, tick * 100))
            .collect();
        for byte in (0..3_000).step_by(7) {
            let covering = ranges
                .iter()
                .filter(|(start, end)| (*start..*end).contains(&byte))
                .count();
            assert_eq!(covering, TrimMarks::DEPTH, "byte {byte} in {ranges:?}");
        }
        let widest = ranges.iter().map(|(start, end)| end - start).max();
        assert_eq!(widest, Some(TrimMarks::DEPTH as u64 * 100));
    }

    #[test]
    fn another_recording_starts_afresh() {
        let mut marks = TrimMarks::default();
        let first = RecordingId::new();
        for length in [100, 200, 300, 400, 500, 600, 700, 800, 900] {
            marks.tick(first, length);
        }
        let second = RecordingId::new();
        let asked: Vec<_> = [5, 6, 7, 8, 9]
            .into_iter()
            .map(|length| marks.tick(second, length))
            .collect();
        assert_eq!(asked, [None, None, None, None, Some((0, 5))]);
    }
}
