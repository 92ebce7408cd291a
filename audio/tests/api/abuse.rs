use std::time::Duration;

use crate::helpers::*;

#[actix_rt::test]
async fn thousands_of_sockets_that_never_record_are_closed_and_real_users_are_served() {
    // The start timeout leaves room for opening all 1,500 while the suite's other tests share
    // the two cores (at 4 s, a busy run could see the first ones closed, and their places
    // free, before the 1,501st was refused).
    let app = spawn_app_with(|s| {
        s.max_sessions = 1500;
        s.start_timeout_ms = 12_000;
    })
    .await;
    // 1,500 sockets take every place and never send record-start.
    let mut idle = Vec::new();
    for _ in 0..15 {
        idle.extend(futures_util::future::join_all((0..100).map(|_| app.ws())).await);
    }
    // The limit holds: one more is refused clearly.
    // With time to answer while the suite's other tests keep the cores busy.
    let refused = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish()
        .ws(format!("ws://{}/ws/record", app.address))
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
