//! An instance whose open-files limit cannot hold `--max-sessions` takes only the sessions it
//! can hold, refuses the rest at the upgrade with 503, and loses nothing of those it took. A test
//! binary of its own, because it lowers the limit of the whole process.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;
#[path = "support/storage.rs"]
mod storage;

use helpers::*;

/// 256 descriptors reserved and three a session: 14 sessions fit under 298.
const LIMIT: u64 = 298;
const FIT: usize = 14;

#[actix_rt::test]
async fn sessions_past_what_the_open_files_limit_holds_are_refused_and_the_others_complete() {
    // Soft and hard, so that the service cannot raise it back.
    rlimit::setrlimit(rlimit::Resource::NOFILE, LIMIT, LIMIT).unwrap();
    let app = spawn_app().await;
    let metrics = String::from_utf8(app.get_bytes("/metrics").await).unwrap();
    assert!(
        metrics.contains(&format!("audio_sessions_max {FIT}\n")),
        "{metrics}"
    );

    // Each recording open, with its first chunk stored.
    let chunks = fixture_chunks();
    let mut recordings = Vec::new();
    for n in 0..FIT {
        let mut ws = app.ws().await;
        let started = ws.start(Some(&format!("limit-{n}"))).await;
        let stored = ws.stream_binary(&chunks[..1], 0, 0).await;
        recordings.push((ws, started, stored));
    }
    app.expect_session_refused().await;
    let (status, _) = app.get_json("/health").await;
    assert_eq!(status, 200, "the instance still answers");

    // Every recording it took runs to the end and is post-processed, whole.
    for (ws, started, stored) in &mut recordings {
        *stored = ws.stream_binary(&chunks[1..], 1, *stored).await;
        let completed = ws.end().await;
        assert_eq!(completed["bytes"], FIXTURE_BYTES);
        assert_eq!(*stored, FIXTURE_BYTES);
        let id = started["recordingId"].as_str().unwrap();
        let meta = app.wait_for_status(id, "ready").await;
        assert_eq!(meta["sha256"], sha256_hex(&remuxed(&chunks)), "{meta}");
    }
}
