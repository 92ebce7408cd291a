use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

#[actix_rt::test]
async fn a_client_that_vanishes_leaves_an_interrupted_recording_with_every_acked_byte() {
    let app = spawn_app_with(|s| s.timeouts.resume_grace = Duration::from_millis(300)).await;
    let mut ws = app.ws().await;
    let started = ws.start(Some("vanish")).await;
    let id = started["recordingId"].as_str().unwrap().to_owned();
    let chunks = fixture_chunks();
    let acked = ws.stream_binary(&chunks[..5], 0, 0).await;
    ws.vanish();

    // Every acknowledged chunk is kept; post-processing then makes the partial file seekable.
    let meta = app.wait_for_status(&id, "ready").await;
    assert_eq!(meta["endedAs"], "interrupted");
    assert_eq!(meta["chunks"], 5);
    assert!(acked > 0);
    let stored = app.get_bytes(&format!("/api/recordings/{id}/audio")).await;
    assert_eq!(stored, remuxed(&chunks[..5]));
}

#[actix_rt::test]
async fn a_silent_socket_is_dropped_after_the_heartbeat_timeout_but_pongs_keep_it_alive() {
    let app = spawn_app_with(|s| {
        s.timeouts.heartbeat = Duration::from_millis(300);
        s.timeouts.resume_grace = Duration::from_millis(200);
    })
    .await;
    // This client answers pings (WebSocket pong) while it waits: the session survives.
    let mut alive = app.ws().await;
    let alive_started = alive.start(Some("alive")).await;
    // This one never reads, so it never answers a ping.
    let mut silent = app.ws().await;
    let silent_started = silent.start(Some("silent")).await;
    silent.send_binary(vec![1, 2, 3]).await;

    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    while std::time::Instant::now() < deadline {
        alive.send_json(json!({"action": "heartbeat"})).await;
        assert_eq!(alive.recv().await["type"], "heartbeat");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    // Three bytes are no WebM: post-processing fails with a reason and leaves them as they are.
    let meta = app
        .wait_for_status(silent_started["recordingId"].as_str().unwrap(), "failed")
        .await;
    assert_eq!(meta["endedAs"], "interrupted");
    assert_eq!(meta["size"], 3);
    assert!(
        meta["note"]
            .as_str()
            .is_some_and(|n| n.contains("not a WebM")),
        "{meta}"
    );
    let alive_meta = app
        .get_json(&format!(
            "/api/recordings/{}",
            alive_started["recordingId"].as_str().unwrap()
        ))
        .await
        .1;
    assert_eq!(alive_meta["status"], "recording");
    alive.send_binary(vec![9]).await;
    assert_eq!(alive.recv().await["type"], "ack");
}

#[actix_rt::test]
async fn a_client_reconnects_resumes_resends_and_ends_with_the_exact_fixture() {
    let app = spawn_app_with(|s| s.timeouts.resume_grace = Duration::from_secs(30)).await;
    let chunks = fixture_chunks();
    let mut first = app.ws().await;
    let started = first.start(Some("resumable")).await;
    let id = started["recordingId"].as_str().unwrap().to_owned();
    let token = started["resumeToken"].as_str().unwrap().to_owned();
    first.stream_json(&chunks[..6], 0, 0).await;

    // While the first socket lives, nobody can take the recording over, even with the token.
    let mut thief = app.ws().await;
    thief
        .expect_error(
            json!({"action": "record-resume", "recordingId": id, "resumeToken": token}),
            "recording-busy",
        )
        .await;

    // The client loses its socket right after sending chunk 6, before seeing its ack.
    first.send_binary(chunks[6].clone()).await;
    assert_eq!(first.recv().await["seq"], 6);
    first.vanish();

    let mut second = app.ws().await;
    second
        .expect_error(
            json!({"action": "record-resume", "recordingId": id, "resumeToken": "wrong"}),
            "resume-refused",
        )
        .await;
    second
        .expect_error(
            json!({"action": "record-resume", "recordingId": uuid_like(), "resumeToken": token}),
            "recording-not-found",
        )
        .await;
    // The drop is noticed asynchronously: retry briefly while the old owner lets go.
    let resumed = loop {
        second
            .send_json(json!({"action": "record-resume", "recordingId": id, "resumeToken": token}))
            .await;
        let reply = second.recv().await;
        if reply["code"] != "recording-busy" {
            break reply;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let held: u64 = chunks[..7].iter().map(|c| c.len() as u64).sum();
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(resumed["bytes"], held);
    assert_eq!(resumed["seq"], 6);
    assert_eq!(resumed["nextSeq"], 7);

    // The client resends from the last ack it saw (seq 5): a duplicate, not written twice.
    second
        .send_json(json!({"action": "record-idle", "seq": 5, "chunk": data_url(&chunks[5])}))
        .await;
    assert_eq!(
        second.recv().await,
        json!({"type": "ack", "seq": 5, "bytes": held, "duplicate": true})
    );
    second
        .send_json(json!({"action": "record-idle", "seq": 6, "chunk": data_url(&chunks[6])}))
        .await;
    assert_eq!(second.recv().await["duplicate"], true);
    second.stream_json(&chunks[7..], 7, held).await;
    let completed = second.end().await;
    assert_eq!(completed["recordingId"], id.as_str());
    app.wait_for_status(&id, "ready").await;
    let stored = app
        .get_bytes(&format!(
            "/api/download/{}",
            completed["fileName"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored, remuxed(&chunks));

    // An ended recording cannot be resumed.
    second
        .expect_error(
            json!({"action": "record-resume", "recordingId": id, "resumeToken": token}),
            "resume-refused",
        )
        .await;
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".into()
}
