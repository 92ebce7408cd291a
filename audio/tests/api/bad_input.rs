use serde_json::json;

use crate::helpers::*;

#[actix_rt::test]
async fn every_bad_frame_gets_a_clear_error_and_loses_nothing_accepted() {
    let app = spawn_app().await;
    let mut ws = app.ws().await;
    let chunks = fixture_chunks();

    // Before record-start: chunks of either kind are refused, the socket stays usable.
    ws.expect_error(
        json!({"action": "record-idle", "chunk": data_url(&chunks[0])}),
        "not-started",
    )
    .await;
    ws.send_binary(chunks[0].clone()).await;
    assert_eq!(ws.recv().await["code"], "not-started");
    ws.expect_error(json!({"action": "record-end"}), "not-started")
        .await;

    // metaId that could name a path, or hold NUL, is refused; nothing is created.
    for bad in ["../escape", "a/b", "..", "a\u{0}b", "/etc/passwd", "a\\b"] {
        ws.expect_error(
            json!({"action": "record-start", "metaId": bad}),
            "invalid-meta-id",
        )
        .await;
    }
    ws.expect_error(
        json!({"action": "record-start", "mimeType": "text/html"}),
        "unsupported-mime-type",
    )
    .await;
    assert_eq!(app.stored_names().await, Vec::<String>::new());
    let (_, listed) = app.get_json("/api/recordings").await;
    assert_eq!(listed["total"], 0, "{listed}");
    // Nothing written anywhere else (the embedded index, and its outbox, is audio.db and its
    // WAL files).
    let mut outside: Vec<_> = std::fs::read_dir(app.data_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with("audio.db"))
        .collect();
    outside.sort();
    // The local store is the data folder's `recordings/`; with S3 the folder holds only the
    // partial folder and the instance's name in leases.
    let expected: &[&str] = match app.storage.recordings_url {
        Some(_) => &["instance-id", "partial"],
        None => &["partial", "recordings"],
    };
    assert_eq!(outside, expected);

    let started = ws.start(Some("bad-input")).await;
    ws.stream_json(&chunks[..3], 0, 0).await;
    let held: u64 = chunks[..3].iter().map(|c| c.len() as u64).sum();

    // Mid-recording garbage of every kind: refused, the recording goes on.
    ws.send_text("{not json".into()).await;
    assert_eq!(ws.recv().await["code"], "bad-json");
    ws.send_text("[1,2,3]".into()).await;
    assert_eq!(ws.recv().await["code"], "bad-json");
    ws.expect_error(json!({"action": "record-pause"}), "unknown-action")
        .await;
    ws.expect_error(json!({"noAction": true}), "unknown-action")
        .await;
    ws.expect_error(json!({"action": "record-idle"}), "bad-message")
        .await;
    ws.expect_error(
        json!({"action": "record-idle", "chunk": "data:audio/webm;base64,@@@@"}),
        "bad-base64",
    )
    .await;
    ws.expect_error(
        json!({"action": "record-idle", "chunk": "%%%"}),
        "bad-base64",
    )
    .await;
    ws.expect_error(
        json!({"action": "record-idle", "seq": 9, "chunk": data_url(&chunks[3])}),
        "seq-gap",
    )
    .await;
    ws.expect_error(
        json!({"action": "record-start", "metaId": "again"}),
        "already-started",
    )
    .await;
    ws.expect_error(
        json!({"action": "record-resume", "recordingId": "../../x", "resumeToken": "t"}),
        "already-started",
    )
    .await;

    // Everything accepted before is intact, and the recording continues where it was.
    ws.stream_json(&chunks[3..], 3, held).await;
    let completed = ws.end().await;
    assert_eq!(completed["recordingId"], started["recordingId"]);
    app.wait_for_status(completed["recordingId"].as_str().unwrap(), "ready")
        .await;
    let stored = app
        .stored(completed["fileName"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(stored, remuxed(&chunks));
}

#[actix_rt::test]
async fn resume_with_an_id_that_is_not_an_id_is_refused() {
    let app = spawn_app().await;
    let mut ws = app.ws().await;
    for bad in ["../../meta/x", "%2e%2e%2f", "/etc/passwd", "a\u{0}"] {
        ws.expect_error(
            json!({"action": "record-resume", "recordingId": bad, "resumeToken": "t"}),
            "recording-not-found",
        )
        .await;
    }
}
