use std::time::Duration;

use futures_util::StreamExt;

use crate::helpers::*;

/// Reads Server-Sent Events until `want` kinds were seen for `id` (or fails after 15 s).
async fn collect_events(
    response: &mut awc::ClientResponse<
        impl futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
    >,
    id: &str,
    want: &[&str],
) -> Vec<String> {
    let mut text = String::new();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while want.iter().any(|w| !seen.contains(&w.to_string())) {
        assert!(
            std::time::Instant::now() < deadline,
            "saw only {seen:?}: {text}"
        );
        let chunk = actix_rt::time::timeout(Duration::from_secs(15), response.next())
            .await
            .expect("an event")
            .expect("stream open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            let kind = frame
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .map(str::to_owned);
            let data = frame
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or("null");
            let value: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
            if let Some(kind) = kind {
                if value["recordingId"] == id {
                    seen.push(kind);
                }
            }
        }
    }
    seen
}

/// Opens the live event stream, as the list page does.
async fn open_events(
    app: &TestApp,
) -> awc::ClientResponse<
    impl futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
> {
    let events = awc::Client::new()
        .get(app.http("/api/events"))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status().as_u16(), 200);
    assert_eq!(
        header(events.headers(), "content-type"),
        "text/event-stream"
    );
    events
}

#[actix_rt::test]
async fn the_event_stream_follows_a_recording_from_start_to_ready_and_deletion() {
    let app = spawn_app().await;
    let mut events = open_events(&app).await;

    let mut ws = app.ws().await;
    let started = ws.start(Some("live")).await;
    let id = started["recordingId"].as_str().unwrap().to_owned();
    ws.stream_binary(&fixture_chunks(), 0, 0).await;
    ws.end().await;
    let seen = collect_events(&mut events, &id, &["started", "completed", "processed"]).await;
    assert_eq!(seen, ["started", "completed", "processed"]);

    let deleted = awc::Client::new()
        .delete(app.http(&format!("/api/recordings/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let seen = collect_events(&mut events, &id, &["deleted"]).await;
    assert_eq!(seen, ["deleted"]);
}

#[actix_rt::test]
async fn a_graceful_shutdown_ends_open_event_streams_instead_of_waiting_for_them() {
    let app = spawn_app().await;
    let mut events = open_events(&app).await;
    let first = events.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("connected"));

    let asked = std::time::Instant::now();
    let stopping = actix_rt::spawn(async move {
        app.shut_down().await;
        app
    });
    // The stream ends: a browser's EventSource reconnects (to another instance).
    let ended = actix_rt::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(_)) = events.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the event stream was left open");
    let _app = stopping.await.unwrap();
    let took = asked.elapsed();
    eprintln!("shut down in {took:?} with an event stream open");
    // An open stream would have held the stop until the server's 5 s shutdown timeout.
    assert!(took < Duration::from_secs(4), "the shutdown took {took:?}");
}
