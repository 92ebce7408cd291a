//! A recording in progress leaves the page cache behind it (`audio::cache_trim`). Residency is
//! read with mincore(2) on the `.part` file, in a folder on disk: tmpfs pages are the data
//! itself and never leave.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

const CHUNK: usize = 16 * 1024;
const FIRST_CHUNKS: usize = 64;

#[actix_rt::test]
async fn older_bytes_of_a_live_recording_leave_the_page_cache_and_none_are_lost() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    assert!(
        audio::trims_pages(dir.path()).unwrap(),
        "{} is on tmpfs, where the page cache is the storage: this test needs a disk",
        dir.path().display()
    );
    let app = spawn_app_in(dir, |s| {
        s.processing.cache_trim_after = Duration::from_secs(1)
    })
    .await;
    let mut ws = app.ws().await;
    let started = ws.start(Some("trim")).await;
    let id = started["recordingId"].as_str().unwrap().to_owned();
    let part = app.data_dir.path().join(format!("partial/{id}.part"));

    // 1 MiB, every chunk different, then written out so that its pages are clean and cached.
    let mut sent: Vec<u8> = Vec::new();
    let first: Vec<Vec<u8>> = (0..FIRST_CHUNKS).map(|i| vec![i as u8; CHUNK]).collect();
    let mut stored = ws.stream_binary(&first, 0, 0).await;
    first.iter().for_each(|c| sent.extend_from_slice(c));
    File::open(&part).unwrap().sync_data().unwrap();
    let first_len = FIRST_CHUNKS * CHUNK;
    let cached = resident_pages(&part, first_len);
    let pages = first_len / page_size();
    assert!(
        cached * 10 >= pages * 9,
        "only {cached} of the first {pages} pages were cached to begin with"
    );

    // The recording goes on; its first MiB is soon old enough to be dropped.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seq = FIRST_CHUNKS as u64;
    let left = loop {
        let chunk = vec![0xA5 ^ seq as u8; CHUNK];
        stored = ws
            .stream_binary(std::slice::from_ref(&chunk), seq, stored)
            .await;
        sent.extend_from_slice(&chunk);
        seq += 1;
        let left = resident_pages(&part, first_len);
        if left == 0 || Instant::now() > deadline {
            break left;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(left, 0, "{left} of {pages} pages still cached after 10 s");

    // Nothing lost: the stored recording is every byte sent (not WebM, so kept as it is).
    ws.send_json(json!({"action": "record-end"})).await;
    assert_eq!(ws.recv().await["type"], "completed");
    let meta = app.wait_for_status(&id, "failed").await;
    assert_eq!(meta["size"], sent.len());
    assert_eq!(stored, sent.len() as u64);
    let downloaded = app.get_bytes(&format!("/api/recordings/{id}/audio")).await;
    assert!(
        downloaded == sent,
        "the stored bytes differ from those sent"
    );
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// How many of the first `len` bytes' pages of `path` are in the page cache.
fn resident_pages(path: &Path, len: usize) -> usize {
    let file = File::open(path).unwrap();
    let mut vec = vec![0u8; len.div_ceil(page_size())];
    // SAFETY: a read-only shared mapping of `len` bytes of a file at least that long, only
    // passed to mincore (never read through) and unmapped before returning.
    unsafe {
        let addr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        assert_ne!(addr, libc::MAP_FAILED, "mmap failed");
        let rc = libc::mincore(addr, len, vec.as_mut_ptr());
        libc::munmap(addr, len);
        assert_eq!(rc, 0, "mincore failed");
    }
    vec.iter().filter(|&&page| page & 1 == 1).count()
}
