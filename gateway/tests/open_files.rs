//! The gateway relays only the WebSockets its open-files limit holds and refuses the next with
//! 503 until one ends. A test binary of its own, because it lowers the limit of the whole
//! process (registry, audio instance and gateway all run in it).

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::time::Duration;

use helpers::*;

/// 256 descriptors reserved and two a relay: three relays fit under 262.
const LIMIT: u64 = 262;
const FIT: usize = 3;

#[actix_rt::test]
async fn websockets_past_the_gateways_open_files_budget_are_refused_until_one_ends() {
    // Soft and hard, so that the gateway cannot raise it back.
    rlimit::setrlimit(rlimit::Resource::NOFILE, LIMIT, LIMIT).unwrap();
    let (registry, _handle) = spawn_registry().await;
    let data = tempfile::tempdir().unwrap();
    // The instance, in the same process, counts one descriptor a session so that its own
    // budget (six) is not the one reached.
    spawn_audio_with(&registry, data.path(), |s| {
        s.limits.descriptors_per_session = 1
    })
    .await;
    let gateway = spawn_gateway(&registry, |_| {}).await;
    wait_for_instances(&gateway, 1).await;
    let metrics = get_bytes(&format!("http://{gateway}/metrics")).await.1;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains(&format!("gateway_websockets_max {FIT}\n")),
        "{metrics}"
    );

    let url = format!("ws://{gateway}/ws/record");
    let mut open = Vec::new();
    for _ in 0..FIT {
        open.push(connect(&url).await);
    }
    let (status, body) = refused_upgrade(&gateway).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("too-many-sessions")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&format!("the gateway relays at most {FIT}")),
        "{body}"
    );
    let (status, _) = get_json(&format!("http://{gateway}/health")).await;
    assert_eq!(status, 200, "the gateway still answers");

    // One ends: its place is free again.
    drop(open.pop());
    let mut admitted = None;
    for _ in 0..100 {
        match awc::Client::new().ws(&url).connect().await {
            Ok((_, socket)) => {
                admitted = Some(socket);
                break;
            }
            Err(_) => actix_rt::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(admitted.is_some(), "no place came free after a relay ended");
}
