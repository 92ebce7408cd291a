use std::time::Duration;

use crate::helpers::*;

#[actix_rt::test]
async fn thousands_of_sockets_that_never_record_are_closed_and_real_users_are_served() {
    // The limit holds: 1,500 sockets that never send record-start take every place, and one more
    // is refused clearly. The start timeout is far away here, so that however long a busy
    // machine takes to open them, none is closed before the 1,501st is tried.
    let full = spawn_app_with(|s| {
        s.limits.max_sessions = 1500;
        s.timeouts.start = Duration::from_secs(120);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..15 {
        idle.extend(futures_util::future::join_all((0..100).map(|_| full.ws())).await);
    }
    let (_, health) = full.get_json("/health").await;
    assert_eq!(health["sessions"]["liveSessions"], 1500, "{health}");
    let refused = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish()
        .ws(format!("ws://{}/ws/record", full.address))
        .connect()
        .await;
    let outcome = match &refused {
        Ok((response, _)) => format!("accepted: {}", response.status()),
        Err(err) => format!("{err:?}"),
    };
    assert!(
        matches!(refused, Err(awc::error::WsClientError::InvalidResponseStatus(s)) if s.as_u16() == 503),
        "the 1,501st socket: {outcome}"
    );
    drop(idle);

    // On an instance with a short start timeout, as many idle sockets are closed for it.
    let app = spawn_app_with(|s| {
        s.limits.max_sessions = 1500;
        s.timeouts.start = Duration::from_secs(3);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..15 {
        idle.extend(futures_util::future::join_all((0..100).map(|_| app.ws())).await);
    }
    // They are closed with 1008 for holding no recording, and their places come back.
    for socket in idle.iter_mut().take(3) {
        match socket.next().await {
            Incoming::Closed(Some(reason)) => assert_eq!(u16::from(reason.code), 1008),
            other => panic!(
                "expected a close, got {:?}",
                matches!(other, Incoming::Json(_))
            ),
        }
    }
    let mut freed = false;
    for _ in 0..100 {
        let (_, health) = app.get_json("/health").await;
        if health["sessions"]["liveSessions"].as_u64() == Some(0) {
            freed = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "idle sockets still hold places");
    drop(idle);

    // A real user records as usual.
    let mut ws = app.ws().await;
    ws.start(Some("after-the-flood")).await;
    ws.stream_binary(&fixture_chunks()[..3], 0, 0).await;
    let completed = ws.end().await;
    assert_eq!(completed["chunks"], 3);
}
