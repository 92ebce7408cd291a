//! The original system's own clients, unchanged: its page on `/ws/audio` (JSON frames, no
//! `seq`, its last chunk after `record-end`), and its gateway's `POST /record/*` calls.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

/// `/record/start` as the original gateway sends it for a socket it names `session`.
fn start_body(session: &str, meta_id: &str) -> Value {
    json!({"action": "record-start", "metaId": meta_id, "metaData": {"userId": "tester"},
           "sessionId": session, "connectionId": session})
}

fn idle_body(session: &str, chunk: &[u8]) -> Value {
    json!({"action": "record-idle", "metaId": "", "chunk": data_url(chunk),
           "sessionId": session, "connectionId": session})
}

/// The stored recording is the whole fixture: every chunk, the late one included, with the
/// duration MediaRecorder left out found by post-processing.
async fn check_whole_fixture(app: &TestApp, id: &str) -> Value {
    let meta = app.wait_for_status(id, "ready").await;
    assert_eq!(meta["endedAs"], "completed", "{meta}");
    let stored = app.get_bytes(&format!("/api/recordings/{id}/audio")).await;
    assert_eq!(stored, remuxed(&fixture_chunks()), "stored audio differs");
    let duration = meta["durationMs"].as_f64().unwrap();
    assert!((duration - 3960.0).abs() <= 20.0, "duration {duration}");
    meta
}

#[actix_rt::test]
async fn the_original_gateways_calls_record_every_chunk_the_late_one_included() {
    let app = spawn_app_with(|s| s.timeouts.end_grace = Duration::from_secs(1)).await;
    let session = "3f2a9c1e-77b0-4c5e-9f1e-2a6b1c0d9e8f";
    let (status, started) = app
        .post_json("/record/start", &start_body(session, ""))
        .await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["status"], "recording");
    assert_eq!(started["sessionId"], session);
    let file_name = started["fileName"].as_str().unwrap().to_owned();
    // Without a metaId the file is named after the gateway's sessionId, as the original's.
    assert!(file_name.starts_with(&format!("{session}_")), "{file_name}");
    assert!(started["message"]
        .as_str()
        .unwrap()
        .starts_with("Start record response: "));
    let id = started["recordingId"].as_str().unwrap().to_owned();

    let chunks = second_chunks();
    let (last, before) = chunks.split_last().unwrap();
    let mut bytes = 0;
    for chunk in before {
        let (status, idle) = app
            .post_json("/record/idle", &idle_body(session, chunk))
            .await;
        bytes += chunk.len();
        assert_eq!(status, 200, "{idle}");
        assert_eq!(idle["bytes"], bytes);
        assert!(idle["message"]
            .as_str()
            .unwrap()
            .starts_with("Idle chunk processed"));
    }
    // The page sends record-end right after mediaRecorder.stop(); the last chunk comes after.
    let (status, ending) = app
        .post_json("/record/end", &json!({"sessionId": session}))
        .await;
    assert_eq!(status, 200, "{ending}");
    assert_eq!(ending["status"], "finishing", "{ending}");
    assert_eq!(ending["finishesInMs"], 1000);
    let (status, idle) = app
        .post_json("/record/idle", &idle_body(session, last))
        .await;
    assert_eq!(status, 200, "{idle}");
    assert_eq!(idle["bytes"], bytes + last.len());
    // The socket closes: the original gateway ends the session again. Nothing changes.
    let (status, again) = app
        .post_json("/record/end", &json!({"sessionId": session}))
        .await;
    assert_eq!((status, &again["status"]), (200, &json!("finishing")));

    let meta = check_whole_fixture(&app, &id).await;
    assert_eq!(meta["chunks"], 4);
    assert_eq!(meta["userId"], "tester");
    assert_eq!(meta["sessionId"], session);
    let (_, files) = app.get_json("/api/files").await;
    assert!(
        files.as_array().unwrap().contains(&json!(file_name)),
        "{files}"
    );
    // Published once: one completion counted, the session gone.
    let (_, health) = app.get_json("/health").await;
    assert_eq!(health["sessions"]["completed"], 1, "{health}");
    let (status, after) = app
        .post_json("/record/idle", &idle_body(session, last))
        .await;
    assert_eq!(status, 409, "{after}");
    assert_eq!(after["error"], "not-started");
}

#[actix_rt::test]
async fn a_client_that_numbers_its_chunks_is_finished_at_once() {
    let app = spawn_app_with(|s| s.timeouts.end_grace = Duration::from_secs(5)).await;
    let session = "numbered";
    app.post_json("/record/start", &start_body(session, "n1"))
        .await;
    let mut body = idle_body(session, &fixture_chunks()[0]);
    body["seq"] = json!(0);
    assert_eq!(app.post_json("/record/idle", &body).await.0, 200);
    let began = Instant::now();
    let (status, ended) = app
        .post_json("/record/end", &json!({"sessionId": session}))
        .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["status"], "completed", "{ended}");
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "{:?}",
        began.elapsed()
    );
}

#[actix_rt::test]
async fn a_silent_http_session_is_swept_with_every_accepted_byte() {
    let app = spawn_app_with(|s| {
        s.timeouts.http_idle = Duration::from_millis(300);
        s.timeouts.resume_grace = Duration::from_millis(300);
    })
    .await;
    let session = "gone-quiet";
    let (_, started) = app
        .post_json("/record/start", &start_body(session, "quiet"))
        .await;
    let id = started["recordingId"].as_str().unwrap().to_owned();
    let chunks = second_chunks();
    for chunk in &chunks[..2] {
        assert_eq!(
            app.post_json("/record/idle", &idle_body(session, chunk))
                .await
                .0,
            200
        );
    }
    // No end ever comes (the original gateway died): the sweep ends it, nothing lost.
    let meta = app.wait_for_status(&id, "ready").await;
    assert_eq!(meta["endedAs"], "interrupted", "{meta}");
    assert_eq!(meta["chunks"], 2);
    let stored = app.get_bytes(&format!("/api/recordings/{id}/audio")).await;
    assert_eq!(stored, remuxed(&chunks[..2]));
    let (status, _) = app
        .post_json("/record/idle", &idle_body(session, &chunks[2]))
        .await;
    assert_eq!(status, 409, "the swept session must be gone");
}

#[actix_rt::test]
async fn http_sessions_count_against_the_session_limit() {
    let app = spawn_app_with(|s| s.limits.max_sessions = 1).await;
    let (status, _) = app
        .post_json("/record/start", &start_body("first", ""))
        .await;
    assert_eq!(status, 200);
    let (status, refused) = app
        .post_json("/record/start", &start_body("second", ""))
        .await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["error"], "too-many-sessions");
    app.expect_session_refused().await;
    // The first one still records.
    let chunk = &fixture_chunks()[0];
    assert_eq!(
        app.post_json("/record/idle", &idle_body("first", chunk))
            .await
            .0,
        200
    );
}

#[actix_rt::test]
async fn bad_bodies_get_a_clear_4xx_and_lose_nothing_accepted() {
    let app = spawn_app().await;
    let client = awc::Client::new();
    let (status, body) = {
        let mut response = client
            .post(app.http("/record/start"))
            .insert_header(("content-type", "application/json"))
            .send_body("{not json")
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    };
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("bad-body")),
        "{body}"
    );

    let cases = [
        (
            "/record/start",
            json!({"action": "record-start"}),
            400,
            "bad-body",
        ),
        (
            "/record/start",
            start_body("../../etc", ""),
            400,
            "bad-message",
        ),
        ("/record/start", start_body("", ""), 400, "bad-message"),
        (
            "/record/start",
            start_body("ok", "../x"),
            400,
            "invalid-meta-id",
        ),
        (
            "/record/start",
            json!({"action": "record-idle", "sessionId": "ok"}),
            400,
            "bad-message",
        ),
        (
            "/record/idle",
            idle_body("never-started", b"abc"),
            409,
            "not-started",
        ),
        ("/record/idle", json!({"sessionId": "ok"}), 400, "bad-body"),
        ("/record/end", json!({}), 400, "bad-body"),
    ];
    for (path, body, want_status, want_code) in cases {
        let (status, reply) = app.post_json(path, &body).await;
        assert_eq!(status, want_status, "{path} {body}: {reply}");
        assert_eq!(reply["error"], want_code, "{path} {body}: {reply}");
        assert!(
            reply["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{reply}"
        );
    }
    // The original's words where its clients look for them.
    let (_, reply) = app
        .post_json("/record/idle", &idle_body("never-started", b"abc"))
        .await;
    assert!(reply["message"]
        .as_str()
        .unwrap()
        .starts_with("Error: Session user data not found"));
    let (status, _) = app.get_json("/record/start").await;
    assert_eq!(status, 405);
    // Ending a session that never recorded is not an error (the original sends it on close).
    let (status, idle) = app
        .post_json("/record/end", &json!({"sessionId": "nobody"}))
        .await;
    assert_eq!((status, &idle["status"]), (200, &json!("idle")));

    // A bad chunk in a live recording is refused; what was accepted stays.
    let (_, started) = app
        .post_json("/record/start", &start_body("keeps", "keeps"))
        .await;
    let id = started["recordingId"].as_str().unwrap().to_owned();
    let chunks = fixture_chunks();
    assert_eq!(
        app.post_json("/record/idle", &idle_body("keeps", &chunks[0]))
            .await
            .0,
        200
    );
    let mut bad = idle_body("keeps", b"");
    bad["chunk"] = json!("data:audio/webm;base64,@@@not-base64");
    let (status, reply) = app.post_json("/record/idle", &bad).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (400, Some("bad-base64")),
        "{reply}"
    );
    let (status, reply) = app
        .post_json("/record/start", &start_body("keeps", "again"))
        .await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (409, Some("already-started")),
        "{reply}"
    );
    let (_, idle) = app
        .post_json("/record/idle", &idle_body("keeps", &chunks[1]))
        .await;
    assert_eq!(idle["bytes"], chunks[0].len() + chunks[1].len());
    let mut numbered = idle_body("keeps", &chunks[2]);
    numbered["seq"] = json!(2);
    app.post_json("/record/idle", &numbered).await;
    let (_, ended) = app
        .post_json("/record/end", &json!({"sessionId": "keeps"}))
        .await;
    assert_eq!(ended["status"], "completed", "{ended}");
    let meta = app.wait_for_status(&id, "ready").await;
    assert_eq!(meta["chunks"], 3);
}

#[actix_rt::test]
async fn the_original_page_on_ws_audio_keeps_its_last_chunk() {
    let app = spawn_app_with(|s| s.timeouts.end_grace = Duration::from_secs(1)).await;
    let mut socket = WsClient::connect_to(
        &format!("ws://{}/ws/audio", app.address),
        app.storage.recordings_url.is_some(),
    )
    .await;
    socket
        .send_json(
            json!({"action": "record-start", "metaId": "", "metaData": {"userId": "tester"}}),
        )
        .await;
    let started = socket.recv().await;
    assert_eq!(started["type"], "started", "{started}");
    let id = started["recordingId"].as_str().unwrap().to_owned();
    let chunks = second_chunks();
    let (last, before) = chunks.split_last().unwrap();
    for (i, chunk) in before.iter().enumerate() {
        socket
            .send_json(json!({"action": "record-idle", "metaId": "", "chunk": data_url(chunk)}))
            .await;
        assert_eq!(socket.recv().await["seq"], i);
        if i == 1 {
            socket.send_json(json!({"action": "heartbeat"})).await;
            let beat = socket.recv().await;
            assert_eq!(beat["message"], "Heartbeat acknowledged", "{beat}");
        }
    }
    socket.send_json(json!({"action": "record-end"})).await;
    socket
        .send_json(json!({"action": "record-idle", "metaId": "", "chunk": data_url(last)}))
        .await;
    let ack = socket.recv().await;
    assert_eq!(
        (ack["type"].as_str(), ack["seq"].as_u64()),
        (Some("ack"), Some(3)),
        "{ack}"
    );
    let completed = socket.recv().await;
    assert_eq!(completed["type"], "completed", "{completed}");
    assert_eq!(completed["chunks"], 4);
    assert_eq!(completed["bytes"], FIXTURE_BYTES);
    let unknown = socket
        .expect_error(json!({"action": "dance"}), "unknown-action")
        .await;
    assert!(unknown["message"]
        .as_str()
        .unwrap()
        .starts_with("Unknown action"));
    check_whole_fixture(&app, &id).await;
}

#[actix_rt::test]
async fn a_socket_that_closes_during_the_grace_still_ends_its_recording_as_asked() {
    let app = spawn_app_with(|s| s.timeouts.end_grace = Duration::from_secs(60)).await;
    let mut socket = WsClient::connect_to(
        &format!("ws://{}/ws/audio", app.address),
        app.storage.recordings_url.is_some(),
    )
    .await;
    let started = socket.start(Some("closes")).await;
    let id = started["recordingId"].as_str().unwrap().to_owned();
    for chunk in second_chunks() {
        socket
            .send_json(json!({"action": "record-idle", "chunk": data_url(&chunk)}))
            .await;
        assert_eq!(socket.recv().await["type"], "ack");
    }
    socket.send_json(json!({"action": "record-end"})).await;
    socket.close().await;
    // Long before the minute's grace: the finish happens as the socket goes.
    let meta = app.wait_for_status(&id, "ready").await;
    assert_eq!(meta["endedAs"], "completed");
    assert_eq!(
        meta["size"].as_u64(),
        Some(remuxed(&fixture_chunks()).len() as u64)
    );
}
