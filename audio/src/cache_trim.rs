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

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::num::NonZeroU64;
use std::path::PathBuf;
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

/// Drop the first `end` bytes of the file at `path` from the page cache.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Trim {
    pub path: PathBuf,
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
    let Some(len) = NonZeroU64::new(trim.end) else {
        return Ok(());
    };
    let file = File::open(&trim.path)?;
    rustix::fs::fadvise(&file, 0, Some(len), rustix::fs::Advice::DontNeed)?;
    Ok(())
}

/// One session's lengths at its last ticks: what to trim, and when.
#[derive(Debug, Default)]
pub struct TrimMarks {
    recording: Option<RecordingId>,
    lengths: VecDeque<u64>,
    asked: u64,
}

impl TrimMarks {
    /// Ticks between a byte's arrival and its trimming (at most one tick more).
    pub const DEPTH: usize = 4;

    /// Notes `recording`'s length now; returns how far to trim, when that has moved on since
    /// the last request. A different recording (the socket started another one) starts afresh.
    pub fn tick(&mut self, recording: RecordingId, length: u64) -> Option<u64> {
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
        // Asking for [0, end) again when it has grown also drops pages that were still dirty
        // the last time.
        (end > self.asked).then(|| {
            self.asked = end;
            end
        })
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
                Some(10),
                Some(20),
                Some(30),
                Some(40),
                Some(50),
                Some(60),
                None
            ]
        );
    }

    #[test]
    fn another_recording_starts_afresh() {
        let mut marks = TrimMarks::default();
        let first = RecordingId::new();
        for length in [100, 200, 300, 400, 500] {
            marks.tick(first, length);
        }
        let second = RecordingId::new();
        let asked: Vec<_> = [5, 6, 7, 8, 9]
            .into_iter()
            .map(|length| marks.tick(second, length))
            .collect();
        assert_eq!(asked, [None, None, None, None, Some(5)]);
    }
}
