use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// Sends a request line exactly as given (no client-side normalisation of `..` or `%2e`).
async fn raw_get(app: &TestApp, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(&app.address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

async fn recorded(app: &TestApp, meta_id: &str, chunks: &[Vec<u8>]) -> Value {
    let mut ws = app.ws().await;
    ws.start(Some(meta_id)).await;
    ws.stream_binary(chunks, 0, 0).await;
    ws.end().await
}

#[actix_rt::test]
async fn downloads_never_leave_the_recordings_folder() {
    let app = spawn_app().await;
    recorded(&app, "ok", &fixture_chunks()[..1]).await;
    // A secret beside the recordings folder, and files anyone would want.
    std::fs::write(app.data_dir.path().join("secret.txt"), "TOP-SECRET").unwrap();
    let attempts = [
        "/api/download/..%2fsecret.txt",
        "/api/download/%2e%2e%2fsecret.txt",
        "/api/download/%2E%2E%2Fsecret.txt",
        "/api/download/../secret.txt",
        "/api/download/..%5csecret.txt",
        "/api/download/%2fetc%2fpasswd",
        "/api/download//etc/passwd",
        "/api/download/..%252fsecret.txt",
        "/api/download/ok.webm%00.txt",
        "/api/download/..",
        "/api/download/.",
        "/api/download/",
        "/api/download/../../../../../../etc/passwd",
        "/api/recordings/..%2f..%2fsecret.txt/audio",
        "/api/recordings/%2e%2e/audio",
    ];
    for path in attempts {
        let (status, response) = raw_get(&app, path).await;
        assert!(
            (400..500).contains(&status),
            "{path} answered {status}: {response}"
        );
        assert!(
            !response.contains("TOP-SECRET") && !response.contains("root:"),
            "{path} leaked: {response}"
        );
        assert!(
            response.contains("\"error\""),
            "{path} has no JSON error: {response}"
        );
    }
    let (status, body) = app
        .get_json("/api/download/missing_20260101000000.webm")
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not-found");
}

#[actix_rt::test]
async fn recordings_can_be_read_paginated_and_deleted() {
    let app = spawn_app().await;
    let chunks = fixture_chunks();
    let mut ids = Vec::new();
    for i in 0..5 {
        let completed = recorded(&app, &format!("page-{i}"), &chunks[..2]).await;
        ids.push(completed["recordingId"].as_str().unwrap().to_owned());
    }
    let (status, first) = app.get_json("/api/recordings?page=1&limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(first["total"], 5);
    assert_eq!(first["nextPage"], 2);
    let first_ids: Vec<_> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    // Newest first.
    assert_eq!(first_ids, [ids[4].as_str(), ids[3].as_str()]);
    let (_, last) = app.get_json("/api/recordings?page=3&limit=2").await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["nextPage"], Value::Null);
    let (_, filtered) = app.get_json("/api/recordings?q=PAGE-3").await;
    assert_eq!(filtered["total"], 1);
    assert_eq!(filtered["items"][0]["metaId"], "page-3");

    for bad in [
        "/api/recordings?page=0",
        "/api/recordings?limit=100000",
        "/api/recordings?page=x",
    ] {
        let (status, body) = app.get_json(bad).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error"], "bad-query");
    }
    let (status, body) = app.get_json("/api/recordings/not-an-id").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid-recording-id"))
    );
    let (status, _) = app
        .get_json("/api/recordings/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(status, 404);

    // Delete: gone from both lists, the file and the metadata.
    let (_, meta) = app.get_json(&format!("/api/recordings/{}", ids[0])).await;
    let file_name = meta["fileName"].as_str().unwrap().to_owned();
    let response = awc::Client::new()
        .delete(app.http(&format!("/api/recordings/{}", ids[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert!(app.stored(&file_name).await.is_none());
    let (status, _) = app.get_json(&format!("/api/recordings/{}", ids[0])).await;
    assert_eq!(status, 404);
    let (_, files) = app.get_json("/api/files").await;
    assert!(!files
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == file_name.as_str()));
    assert_eq!(app.get_json("/api/recordings").await.1["total"], 4);

    // A recording in progress cannot be deleted or played.
    let mut ws = app.ws().await;
    let live = ws.start(Some("live")).await;
    let live_id = live["recordingId"].as_str().unwrap();
    let response = awc::Client::new()
        .delete(app.http(&format!("/api/recordings/{live_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    let (status, body) = app
        .get_json(&format!("/api/recordings/{live_id}/audio"))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("recording-in-progress"))
    );
}

#[actix_rt::test]
async fn range_edge_cases_follow_http() {
    let app = spawn_app().await;
    let completed = recorded(&app, "range", &fixture_chunks()).await;
    // Post-processing replaces the file with its remuxed copy (a new ETag): the checks below are
    // about the file as it stays.
    app.wait_for_status(completed["recordingId"].as_str().unwrap(), "ready")
        .await;
    let path = format!("/api/download/{}", completed["fileName"].as_str().unwrap());
    let get = |range: &'static str| {
        awc::Client::new()
            .get(app.http(&path))
            .insert_header(("Range", range))
            .send()
    };
    let mut tail = get("bytes=-100").await.unwrap();
    assert_eq!(tail.status().as_u16(), 206);
    assert_eq!(tail.body().await.unwrap().len(), 100);
    let unsatisfiable = get("bytes=999999-").await.unwrap();
    assert_eq!(unsatisfiable.status().as_u16(), 416);
    // Conditional requests: the ETag revalidates.
    let first = awc::Client::new()
        .get(app.http(&path))
        .send()
        .await
        .unwrap();
    let etag = header(first.headers(), "etag");
    let again = awc::Client::new()
        .get(app.http(&path))
        .insert_header(("If-None-Match", etag))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
}
