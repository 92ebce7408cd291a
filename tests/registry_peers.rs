//! Three registries as peers, as real processes, with an audio instance and the gateway that
//! list all three: `kill -9` of the registry they use, and they keep registering, renewing and
//! being discovered through the others, the gateway keeps routing new recordings; the killed
//! registry restarts, syncs from a peer and serves the full registry at once.

use std::time::Duration;

use serde_json::{json, Value};

mod common;
#[path = "../registry/tests/support/ports.rs"]
mod ports;
use common::{
    audio_args, connect, free_port, get_json, next_json, spawn, until, until_healthy, until_routed,
    Proc,
};

fn registry_peer(port: u16, list: &str) -> Proc {
    spawn(
        "registry",
        &[
            "--port".into(),
            port.to_string(),
            "--peers".into(),
            list.into(),
            "--self-preservation".into(),
            "false".into(),
            "--eviction-interval-ms".into(),
            "200".into(),
        ],
    )
}

/// The instance ids of `app` on the registry at `port`.
async fn ids(port: u16, app: &str) -> Vec<String> {
    let Some(body) = get_json(&format!("http://127.0.0.1:{port}/eureka/apps/{app}")).await else {
        return Vec::new();
    };
    let mut ids: Vec<String> = body["application"]["instance"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["instanceId"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

async fn last_renewal(port: u16, app: &str) -> i64 {
    get_json(&format!("http://127.0.0.1:{port}/eureka/apps/{app}"))
        .await
        .and_then(|b| b["application"]["instance"][0]["leaseInfo"]["lastRenewalTimestamp"].as_i64())
        .unwrap_or(0)
}

async fn record(gateway: u16, meta_id: &str) -> Value {
    use awc::ws;
    use futures_util::SinkExt;
    let mut socket = connect(&format!("ws://127.0.0.1:{gateway}/ws/record")).await;
    let text = |v: Value| ws::Message::Text(v.to_string().into());
    socket
        .send(text(json!({"action": "record-start", "metaId": meta_id})))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "started");
    socket
        .send(ws::Message::Binary(vec![7u8; 4000].into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "ack");
    socket
        .send(text(json!({"action": "record-end"})))
        .await
        .unwrap();
    let completed = next_json(&mut socket).await;
    assert_eq!(completed["type"], "completed", "{completed}");
    completed
}

#[actix_rt::test]
async fn a_killed_registry_is_not_missed_and_syncs_from_a_peer_when_it_restarts() {
    let registries = [
        ports::below_ephemeral_range(),
        ports::below_ephemeral_range(),
        ports::below_ephemeral_range(),
    ];
    let list = registries
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}/eureka/"))
        .collect::<Vec<_>>()
        .join(",");
    let mut procs: Vec<Option<Proc>> = registries
        .iter()
        .map(|port| Some(registry_peer(*port, &list)))
        .collect();
    for port in registries {
        until_healthy(port).await;
    }
    // The services list all three; the first is the one they use until it fails.
    let data = tempfile::tempdir().unwrap();
    let (audio_port, gateway_port) = (free_port(), free_port());
    let mut args = audio_args(audio_port, data.path());
    args.extend([
        "--registry-url".into(),
        list.clone(),
        "--registry-renewal-secs".into(),
        "1".into(),
    ]);
    let _audio = spawn("audio", &args);
    let _gateway = spawn(
        "gateway",
        &[
            "--port".into(),
            gateway_port.to_string(),
            "--registry-url".into(),
            list.clone(),
            "--discovery-refresh-ms".into(),
            "200".into(),
            "--registry-renewal-secs".into(),
            "1".into(),
        ],
    );
    until_routed(gateway_port, 1).await;
    for port in registries {
        until(
            Duration::from_secs(5),
            "every registry knows the instance",
            || async move { ids(port, "AUDIO-SERVICE").await.len() == 1 },
        )
        .await;
    }
    record(gateway_port, "before").await;

    // kill -9 of the registry every service uses.
    procs[0].take().unwrap().0.kill().unwrap();
    let renewed = last_renewal(registries[1], "AUDIO-SERVICE").await;
    until(
        Duration::from_secs(10),
        "renewals reach the other peers",
        || async {
            last_renewal(registries[1], "AUDIO-SERVICE").await > renewed
                && last_renewal(registries[2], "AUDIO-SERVICE").await > renewed
        },
    )
    .await;
    // A new instance registers through the others, and the gateway discovers it afresh.
    let data_2 = tempfile::tempdir().unwrap();
    let audio_2_port = free_port();
    let mut args = audio_args(audio_2_port, data_2.path());
    args.extend([
        "--registry-url".into(),
        list.clone(),
        "--registry-renewal-secs".into(),
        "1".into(),
    ]);
    let _audio_2 = spawn("audio", &args);
    until_routed(gateway_port, 2).await;
    for n in 0..4 {
        record(gateway_port, &format!("after-{n}")).await;
    }

    // The killed registry restarts: its very first answer is the full registry.
    let _restarted = registry_peer(registries[0], &list);
    until_healthy(registries[0]).await;
    assert_eq!(ids(registries[0], "AUDIO-SERVICE").await.len(), 2);
    assert_eq!(ids(registries[0], "GATEWAY").await.len(), 1);
    let health = get_json(&format!("http://127.0.0.1:{}/health", registries[0]))
        .await
        .unwrap();
    assert_eq!(health["peers"].as_array().unwrap().len(), 2, "{health}");
}
