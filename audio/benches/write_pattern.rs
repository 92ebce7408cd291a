//! Write-pattern benchmark: what appending costs when thousands of recordings grow at once, in
//! today's layout and in the layout a log-structured store would use.
//!
//! - `Recordings`: one `.part` and one `.idx` file per recording, written through
//!   `OpenRecording::append` (the service's own code);
//! - `SharedLog`: one append-only file per writer thread, each chunk behind a 24-byte header
//!   (recording, seq, length): one write per chunk, whatever the recording;
//! - `SegmentedLog`: the same, cut into 64 MiB segments (as Kafka cuts a partition's log).
//!
//! Two writer threads (the service's two arbiters) pace `sessions` recordings at one chunk every
//! 250 ms each. Printed per layout: the writers' own CPU a chunk, how long each write took, and
//! the machine's steal time meanwhile. The writeback that follows and the hypervisor's share are
//! not in the writers' CPU; an attempt to count them with idle-class spinning threads gave
//! figures that could not be right (40% of the machine for 800 chunks/s), so it was dropped.
//!
//!     WRITE_PATTERN_DIR=/var/tmp/wp cargo bench -p audio --bench write_pattern -- 5000 120
//!
//! The folder must be on the disk to be measured (not tmpfs). The bench writes in a new folder
//! of its own inside it, removed after each layout; nothing else there is touched.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

mod support;

use audio::domain::{MetaId, RecordingId, RecordingMime};
use audio::storage::{NewRecording, OpenRecording, Storage};

const CHUNK: usize = 5_000;
const INTERVAL: Duration = Duration::from_millis(250);
const WRITERS: usize = 2;
const HEADER: usize = 24;
const SEGMENT: u64 = 64 << 20;

#[derive(Clone, Copy, Debug)]
enum Pattern {
    Recordings,
    SharedLog,
    /// The shared log cut into 64 MiB segments, so that writeback works on closed segments.
    SegmentedLog,
}

/// What one writer thread saw.
#[derive(Default)]
struct Written {
    cpu_ticks: u64,
    /// Each write's duration in microseconds, one entry per chunk written.
    latencies_us: Vec<u32>,
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let sessions: usize = args.first().map_or(5_000, |a| a.parse().expect("sessions"));
    let seconds: u64 = args.get(1).map_or(60, |a| a.parse().expect("seconds"));
    assert!(
        sessions >= WRITERS && seconds > 0,
        "at least {WRITERS} sessions (one per writer) and 1 second, got {sessions} and {seconds}"
    );
    let dir = PathBuf::from(
        std::env::var("WRITE_PATTERN_DIR").unwrap_or_else(|_| "target/write-pattern".into()),
    )
    .join(format!("write-pattern-{}", std::process::id()));

    println!("{sessions} recordings, one {CHUNK}-byte chunk every 250 ms each, {seconds} s per layout, in {}", dir.display());
    settle();
    for pattern in [
        Pattern::Recordings,
        Pattern::SharedLog,
        Pattern::SegmentedLog,
    ] {
        fs::create_dir_all(&dir).expect("create the folder");
        assert!(
            fs::read_dir(&dir)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false),
            "{} is not empty",
            dir.display()
        );
        let steal_before = steal_and_total();
        let written = run_writers(pattern, &dir, sessions, Duration::from_secs(seconds));
        let steal_after = steal_and_total();
        fs::remove_dir_all(&dir).expect("empty the folder");
        settle();
        report(pattern, &written, seconds, steal_before, steal_after);
    }
}

/// Lets what came before reach the disk (writeback, and the discards of deleted files), so that
/// each layout pays only for its own writes.
fn settle() {
    let synced = std::process::Command::new("sync").status();
    assert!(synced.is_ok_and(|s| s.success()), "sync failed");
    thread::sleep(Duration::from_secs(10));
}

fn run_writers(pattern: Pattern, dir: &Path, sessions: usize, run: Duration) -> Vec<Written> {
    let start = Instant::now() + Duration::from_millis(200);
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let dir = dir.to_path_buf();
            let count = sessions / WRITERS;
            thread::spawn(move || match pattern {
                Pattern::Recordings => write_recordings(&dir, count, start, run),
                Pattern::SharedLog => write_log(&dir, w, u64::MAX, count, start, run),
                Pattern::SegmentedLog => write_log(&dir, w, SEGMENT, count, start, run),
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("writer"))
        .collect()
}

/// Paces `count` recordings round-robin, calling `write(i, seq)` for recording `i`'s chunk.
fn paced(
    count: usize,
    start: Instant,
    run: Duration,
    mut write: impl FnMut(usize, u64),
) -> Written {
    let step = INTERVAL / count as u32;
    let mut written = Written::default();
    let ticks_before = thread_cpu_ticks();
    for k in 0u64.. {
        let due = start + step * k as u32;
        if due > start + run {
            break;
        }
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let began = Instant::now();
        write((k % count as u64) as usize, k / count as u64);
        written
            .latencies_us
            .push(began.elapsed().as_micros() as u32);
    }
    written.cpu_ticks = thread_cpu_ticks() - ticks_before;
    written
}

fn write_recordings(dir: &Path, count: usize, start: Instant, run: Duration) -> Written {
    let storage = Storage::open(dir, None, None).expect("storage");
    let mut recordings: Vec<OpenRecording> = (0..count)
        .map(|i| {
            let new = NewRecording {
                id: RecordingId::new(),
                session_id: format!("wp-{i}"),
                meta_id: Some(MetaId::parse(&format!("wp-{i}")).expect("meta id")),
                user_id: None,
                mime: RecordingMime::webm(),
            };
            OpenRecording::create(&storage, new, "token").expect("create a recording")
        })
        .collect();
    let chunk = vec![7u8; CHUNK];
    paced(count, start, run, |i, seq| {
        recordings[i]
            .append(Some(seq), &chunk, u64::MAX)
            .expect("append");
    })
}

fn write_log(
    dir: &Path,
    writer: usize,
    segment_bytes: u64,
    count: usize,
    start: Instant,
    run: Duration,
) -> Written {
    let open = |segment: u64| -> File {
        OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(dir.join(format!("{writer}-{segment:06}.log")))
            .expect("create a log segment")
    };
    let mut segment = 0;
    let mut log = open(segment);
    let mut record = vec![7u8; HEADER + CHUNK];
    record[16..24].copy_from_slice(&(CHUNK as u64).to_le_bytes());
    let mut end = 0u64;
    paced(count, start, run, |i, seq| {
        if end + record.len() as u64 > segment_bytes {
            segment += 1;
            log = open(segment);
            end = 0;
        }
        record[..8].copy_from_slice(&(i as u64).to_le_bytes());
        record[8..16].copy_from_slice(&seq.to_le_bytes());
        log.write_all_at(&record, end).expect("append to the log");
        end += record.len() as u64;
    })
}

/// This thread's user + system CPU time, in clock ticks (`/proc/thread-self/stat`).
fn thread_cpu_ticks() -> u64 {
    let stat = fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0)
}

/// The machine's steal and total time so far, in ticks (`/proc/stat`).
fn steal_and_total() -> (u64, u64) {
    let cpu = support::machine_ticks();
    (cpu.get(7).copied().unwrap_or(0), cpu.iter().take(8).sum())
}

fn report(
    pattern: Pattern,
    written: &[Written],
    seconds: u64,
    (steal0, total0): (u64, u64),
    (steal1, total1): (u64, u64),
) {
    let chunks = written.iter().map(|w| w.latencies_us.len()).sum::<usize>() as u64;
    let ticks: u64 = written.iter().map(|w| w.cpu_ticks).sum();
    let mut latencies: Vec<u32> = written
        .iter()
        .flat_map(|w| w.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    // Clock ticks are 1/100 s on Linux.
    let cpu_us = ticks as f64 * 10_000.0 / chunks as f64;
    let steal = 100.0 * (steal1 - steal0) as f64 / (total1 - total0).max(1) as f64;
    println!(
        "{pattern:?}: {chunks} chunks ({:.0}/s); writers' CPU {cpu_us:.1} us a chunk; \
         steal {steal:.1}%; write p50 {} us, p99 {} us, max {:.1} ms",
        chunks as f64 / seconds as f64,
        at(0.5),
        at(0.99),
        *latencies.last().unwrap_or(&0) as f64 / 1000.0,
    );
}
