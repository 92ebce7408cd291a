use serde_json::{json, Value};

use crate::helpers::*;

/// Everything a finished fixture recording must satisfy, whichever way it was streamed.
async fn check_stored_fixture(app: &TestApp, started: &Value, completed: &Value) {
    let id = started["recordingId"].as_str().unwrap();
    let file_name = completed["fileName"].as_str().unwrap();
    assert_eq!(completed["bytes"], FIXTURE_BYTES);
    assert_eq!(completed["chunks"], 14);
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["recordingId"], started["recordingId"]);
    assert_eq!(sha256_hex(&fixture_chunks().concat()), FIXTURE_SHA256);

    // Post-processing makes it seekable: status ready, duration found, and the file is the
    // remuxed fixture (every packet unchanged, see tests/webm_ffmpeg.rs).
    let meta = app.wait_for_status(id, "ready").await;
    assert_eq!(meta["endedAs"], "completed");
    // Nothing of it is left in progress: neither its files here nor, on a shared store, the
    // segments it was made durable in (removed in the background once it is stored).
    let partial = app.data_dir.path().join("partial");
    assert!(!partial.join(format!("{id}.part")).exists());
    assert!(!partial.join(format!("{id}.idx")).exists());
    let mut left = app.storage.segments(id).await;
    for _ in 0..100 {
        if left == 0 {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
        left = app.storage.segments(id).await;
    }
    assert_eq!(left, 0, "segments left in the store");
    let duration = meta["durationMs"].as_f64().unwrap();
    assert!((duration - 3960.0).abs() <= 20.0, "duration {duration}");
    assert_eq!(meta["codec"], "A_OPUS");
    let stored = app.stored(file_name).await.unwrap();
    let expected = remuxed(&fixture_chunks());
    assert_eq!(stored, expected);
    assert_eq!(meta["sha256"], sha256_hex(&expected));

    // Listed by both list endpoints.
    let (status, files) = app.get_json("/api/files").await;
    assert_eq!(status, 200);
    assert!(
        files.as_array().unwrap().contains(&json!(file_name)),
        "{files}"
    );
    let (status, page) = app.get_json("/api/recordings").await;
    assert_eq!(status, 200);
    let item = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed in {page}"))
        .clone();
    assert_eq!(item["fileName"], file_name);
    assert_eq!(item["size"], expected.len());
    assert_eq!(item["status"], "ready");
    assert_eq!(item["userId"], "tester");
    assert_eq!(item["mimeType"], "audio/webm");
    assert!(
        item.get("resumeTokenSha256").is_none(),
        "token digest leaked: {item}"
    );

    // Downloaded byte-identical, as an attachment with the right headers.
    let mut response = awc::Client::new()
        .get(app.http(&format!("/api/download/{file_name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    assert_eq!(header(&headers, "content-type"), "audio/webm");
    assert_eq!(
        header(&headers, "content-length"),
        expected.len().to_string()
    );
    assert!(header(&headers, "content-disposition").starts_with("attachment"));
    assert!(headers.contains_key("etag") && headers.contains_key("last-modified"));
    let body = response.body().limit(1 << 20).await.unwrap();
    assert_eq!(body.as_ref(), expected.as_slice());

    // A Range request returns exactly the asked bytes.
    let mut partial = awc::Client::new()
        .get(app.http(&format!("/api/download/{file_name}")))
        .insert_header(("Range", "bytes=1000-4999"))
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status().as_u16(), 206);
    assert_eq!(
        header(partial.headers(), "content-range"),
        format!("bytes 1000-4999/{}", expected.len())
    );
    assert_eq!(partial.body().await.unwrap().as_ref(), &stored[1000..5000]);

    // The inline variant for <audio> elements.
    let mut inline = awc::Client::new()
        .get(app.http(&format!("/api/recordings/{id}/audio")))
        .send()
        .await
        .unwrap();
    assert_eq!(inline.status().as_u16(), 200);
    assert!(header(inline.headers(), "content-disposition").starts_with("inline"));
    assert_eq!(
        inline.body().limit(1 << 20).await.unwrap().as_ref(),
        expected.as_slice()
    );
}

#[actix_rt::test]
async fn fixture_streamed_as_json_data_urls_is_stored_byte_identical() {
    let app = spawn_app().await;
    let mut ws = app.ws().await;
    let started = ws.start(Some("lecture-1")).await;
    let file_name = started["fileName"].as_str().unwrap();
    assert!(
        file_name.starts_with("lecture-1_")
            && file_name.ends_with(".webm")
            && file_name.len() == "lecture-1_".len() + 14 + 5,
        "{file_name} does not follow <metaId>_<yyyyMMddHHmmss>.webm"
    );
    assert_eq!(
        started["message"],
        format!("Start record response: {file_name}")
    );
    // Not visible as a finished recording while in progress.
    let (_, files) = app.get_json("/api/files").await;
    assert_eq!(files, json!([]));

    let stored = ws.stream_json(&fixture_chunks(), 0, 0).await;
    assert_eq!(stored, FIXTURE_BYTES);
    let completed = ws.end().await;
    check_stored_fixture(&app, &started, &completed).await;
}

#[actix_rt::test]
async fn fixture_streamed_as_binary_frames_is_stored_byte_identical() {
    let app = spawn_app().await;
    let mut ws = app.ws().await;
    let started = ws.start(None).await;
    // Without a metaId the session id names the file.
    let session_id = started["sessionId"].as_str().unwrap();
    assert!(started["fileName"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{session_id}_")));

    // Half, a pause of a few flush intervals, the rest: on a shared store the recording is
    // durable there in segments meanwhile (which the check below sees removed at the end).
    let chunks = fixture_chunks();
    let stored = ws.stream_binary(&chunks[..7], 0, 0).await;
    actix_rt::time::sleep(std::time::Duration::from_millis(800)).await;
    if app.storage.recordings_url.is_some() {
        let id = started["recordingId"].as_str().unwrap();
        assert!(app.storage.segments(id).await > 0, "no segment was flushed");
    }
    ws.stream_binary(&chunks[7..], 7, stored).await;
    let completed = ws.end().await;
    check_stored_fixture(&app, &started, &completed).await;
}

#[actix_rt::test]
async fn original_clients_frames_without_seq_and_heartbeats_work() {
    let app = spawn_app().await;
    let mut ws = app.ws().await;
    // Exactly what the original page sends: metaId on every frame, no seq, no mimeType.
    ws.send_json(json!({"action": "record-start", "metaId": "", "metaData": {"userId": "u1"}}))
        .await;
    assert_eq!(ws.recv().await["type"], "started");
    ws.send_json(json!({"action": "heartbeat"})).await;
    assert_eq!(
        ws.recv().await,
        json!({"type": "heartbeat", "message": "Heartbeat acknowledged"})
    );
    let chunks = fixture_chunks();
    for (seq, chunk) in chunks.iter().enumerate() {
        ws.send_json(json!({"action": "record-idle", "metaId": "", "chunk": data_url(chunk)}))
            .await;
        let ack = ws.recv().await;
        assert_eq!(ack["seq"], seq as u64);
    }
    let completed = ws.end().await;
    assert_eq!(completed["bytes"], FIXTURE_BYTES);
    // A socket may record again after an end.
    let again = ws.start(Some("second")).await;
    assert_ne!(again["recordingId"], completed["recordingId"]);
}

#[actix_rt::test]
async fn chunk_and_recording_limits_are_enforced() {
    let app = spawn_app_with(|s| {
        s.limits.max_recording_bytes = 10_000;
        s.limits.max_frame_bytes = 64 * 1024;
    })
    .await;
    let mut ws = app.ws().await;
    ws.start(Some("limited")).await;
    let chunks = fixture_chunks();
    ws.stream_binary(&chunks[..2], 0, 0).await;
    ws.send_binary(chunks[2].clone()).await;
    let refused = ws.recv().await;
    assert_eq!(refused["code"], "recording-too-large", "{refused}");
    let completed = ws.end().await;
    let kept = (chunks[0].len() + chunks[1].len()) as u64;
    assert_eq!(completed["bytes"], kept);

    // An oversize frame closes the socket with 1009 (message too big).
    let mut ws = app.ws().await;
    ws.start(Some("oversize")).await;
    ws.send_binary(vec![0u8; 64 * 1024 + 1]).await;
    match ws.next().await {
        Incoming::Closed(Some(reason)) => assert_eq!(u16::from(reason.code), 1009),
        Incoming::Closed(None) => panic!("closed without a close code"),
        Incoming::Json(value) => panic!("expected a close, got {value}"),
    }
}

#[actix_rt::test]
async fn sessions_over_the_limit_are_refused_clearly() {
    let app = spawn_app_with(|s| s.limits.max_sessions = 2).await;
    let _a = app.ws().await;
    let _b = app.ws().await;
    app.expect_session_refused().await;
    let (_, health) = app.get_json("/health").await;
    assert_eq!(health["status"], "UP");
    assert_eq!(health["sessions"]["liveSessions"], 2);
    let metrics = app.get_bytes("/metrics").await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(metrics.contains("audio_sessions_live 2\n"), "{metrics}");
    assert!(metrics.contains("audio_sessions_max 2\n"), "{metrics}");
}
