//! Registries as peers (Eureka's peer replication): what a client does on one reaches the
//! others; a registry that starts syncs from a peer before it serves; a peer that was away
//! longer than its queue holds catches up by a full sync.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;
use crate::ports;

fn peer_list(ports: &[u16]) -> String {
    ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}/eureka/"))
        .collect::<Vec<_>>()
        .join(",")
}

async fn registry_on(port: u16, peers: &str) -> TestRegistry {
    let peers = peers.to_owned();
    spawn_registry_with(move |s| {
        s.port = port;
        s.peers = peers;
        s.self_preservation = false;
    })
    .await
}

async fn instance(registry: &TestRegistry, app: &str, id: &str) -> Option<Value> {
    let (status, body) = registry.get(&format!("/eureka/apps/{app}/{id}")).await;
    (status == 200).then(|| body["instance"].clone())
}

#[actix_rt::test]
async fn what_a_client_does_on_one_peer_reaches_the_others_within_a_second() {
    let ports = [
        ports::below_ephemeral_range(),
        ports::below_ephemeral_range(),
        ports::below_ephemeral_range(),
    ];
    // One list for all three, as Eureka peers are usually configured: each leaves itself out.
    let list = peer_list(&ports);
    let mut registries = Vec::new();
    for port in ports {
        registries.push(registry_on(port, &list).await);
    }
    let [a, b, c] = [&registries[0], &registries[1], &registries[2]];
    let within = Duration::from_secs(1);

    assert_eq!(a.register("AUDIO", "audio-1", 9001).await, 204);
    for peer in [b, c] {
        eventually(within, "the registration reaches every peer", || async {
            instance(peer, "AUDIO", "audio-1").await.is_some()
        })
        .await;
    }
    // A status override on one peer, a metadata change on another.
    assert_eq!(
        c.send(
            "PUT",
            "/eureka/apps/AUDIO/audio-1/status?value=OUT_OF_SERVICE",
            None
        )
        .await,
        200
    );
    eventually(within, "the override reaches a", || async {
        instance(a, "AUDIO", "audio-1")
            .await
            .is_some_and(|i| i["status"] == "OUT_OF_SERVICE")
    })
    .await;
    assert_eq!(
        c.send("DELETE", "/eureka/apps/AUDIO/audio-1/status?value=UP", None)
            .await,
        200
    );
    for peer in [a, b] {
        eventually(
            within,
            "the override's removal reaches every peer",
            || async {
                instance(peer, "AUDIO", "audio-1")
                    .await
                    .is_some_and(|i| i["status"] == "UP" && i["overriddenstatus"] == "UNKNOWN")
            },
        )
        .await;
    }
    assert_eq!(
        a.send("PUT", "/eureka/apps/AUDIO/audio-1/metadata?zone=b", None)
            .await,
        200
    );
    eventually(within, "the metadata reaches b", || async {
        instance(b, "AUDIO", "audio-1")
            .await
            .is_some_and(|i| i["status"] == "UP" && i["metadata"]["zone"] == "b")
    })
    .await;
    // A renewal on b reaches a (its last renewal moves).
    let before = instance(a, "AUDIO", "audio-1").await.unwrap()["leaseInfo"]
        ["lastRenewalTimestamp"]
        .as_i64()
        .unwrap();
    actix_rt::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(b.send("PUT", "/eureka/apps/AUDIO/audio-1", None).await, 200);
    eventually(within, "the renewal reaches a", || async {
        instance(a, "AUDIO", "audio-1").await.unwrap()["leaseInfo"]["lastRenewalTimestamp"]
            .as_i64()
            .unwrap()
            > before
    })
    .await;
    // A cancel on b removes it everywhere.
    assert_eq!(
        b.send("DELETE", "/eureka/apps/AUDIO/audio-1", None).await,
        200
    );
    for peer in [a, c] {
        eventually(within, "the cancel reaches every peer", || async {
            instance(peer, "AUDIO", "audio-1").await.is_none()
        })
        .await;
    }
    // Replicated calls were not replicated again (each peer applied one batch, no echo):
    // every queue is empty and nothing was dropped.
    for registry in [a, b, c] {
        let (_, health) = registry.get("/health").await;
        let peers = health["peers"].as_array().unwrap();
        assert_eq!(peers.len(), 2, "{health}");
        for peer in peers {
            assert_eq!(peer["reachable"], true, "{peer}");
            assert_eq!(peer["backlog"], 0, "{peer}");
            assert_eq!(peer["droppedTotal"], 0, "{peer}");
        }
    }
    let (_, metrics) = {
        let mut response = awc::Client::new()
            .get(a.url("/metrics"))
            .send()
            .await
            .unwrap();
        (
            0,
            String::from_utf8(response.body().await.unwrap().to_vec()).unwrap(),
        )
    };
    assert!(
        metrics.contains("registry_replication_sent_total{peer=\"http://127.0.0.1:"),
        "{metrics}"
    );
    assert!(
        metrics.contains("registry_replication_lag_seconds"),
        "{metrics}"
    );
}

#[actix_rt::test]
async fn a_renewal_a_peer_does_not_know_becomes_a_registration_there() {
    let (port_a, port_b) = (
        ports::below_ephemeral_range(),
        ports::below_ephemeral_range(),
    );
    let b = registry_on(port_b, "").await;
    let a = registry_on(port_a, &peer_list(&[port_b])).await;
    // Registered on a as a peer's replication would be: a does not send it on.
    let body = instance_json("AUDIO", "audio-2", 9002);
    let status = a
        .send_with_header(
            "POST",
            "/eureka/apps/AUDIO",
            Some(body),
            ("x-netflix-discovery-replication", "true"),
        )
        .await;
    assert_eq!(status, 204);
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert!(instance(&b, "AUDIO", "audio-2").await.is_none());
    // Its renewal is: b answers 404, and a registers it there.
    assert_eq!(a.send("PUT", "/eureka/apps/AUDIO/audio-2", None).await, 200);
    eventually(Duration::from_secs(2), "b learns the instance", || async {
        instance(&b, "AUDIO", "audio-2").await.is_some()
    })
    .await;
}

#[actix_rt::test]
async fn a_registry_that_starts_syncs_from_a_peer_before_it_serves() {
    let (port_a, port_b) = (
        ports::below_ephemeral_range(),
        ports::below_ephemeral_range(),
    );
    // a replicates to nobody, so that all b knows comes from its sync.
    let a = registry_on(port_a, "").await;
    for n in 0..20 {
        assert_eq!(
            a.register("AUDIO", &format!("audio-{n}"), 9000 + n).await,
            204
        );
    }
    // b's first answer, the moment it is built, is the full registry.
    let b = registry_on(port_b, &peer_list(&[port_a, port_b])).await;
    assert_eq!(b.instance_ids("AUDIO").await.len(), 20);
    // Copied instances count for self-preservation only once seen renewing here.
    assert_eq!(b.health().await["renewalThreshold"], 0);
}

#[actix_rt::test]
async fn a_peer_away_longer_than_its_queue_holds_catches_up_by_a_full_sync() {
    let (port_a, port_b) = (
        ports::below_ephemeral_range(),
        ports::below_ephemeral_range(),
    );
    let b = registry_on(port_b, "").await;
    let a = spawn_registry_with(|s| {
        s.port = port_a;
        s.peers = peer_list(&[port_b]);
        s.peer_queue = 5;
        s.self_preservation = false;
    })
    .await;
    assert_eq!(a.register("AUDIO", "before", 9100).await, 204);
    eventually(
        Duration::from_secs(1),
        "b has the first instance",
        || async { instance(&b, "AUDIO", "before").await.is_some() },
    )
    .await;
    // b is cut off, and a takes more changes than the queue holds.
    b.stop().await;
    for n in 0..12 {
        assert_eq!(
            a.register("AUDIO", &format!("during-{n}"), 9200 + n).await,
            204
        );
    }
    eventually(Duration::from_secs(3), "a notices the gap", || async {
        let (_, health) = a.get("/health").await;
        health["peers"][0]["droppedTotal"].as_u64().unwrap_or(0) > 0
            && health["peers"][0]["reachable"] == false
    })
    .await;
    // b comes back (empty: it has no peers to sync from) and gets everything, once each.
    let b = registry_on(port_b, "").await;
    eventually(
        Duration::from_secs(10),
        "the full sync reaches b",
        || async { b.instance_ids("AUDIO").await.len() == 13 },
    )
    .await;
    let ids = b.instance_ids("AUDIO").await;
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique);
    assert_eq!(ids, a.instance_ids("AUDIO").await);
    let (_, health) = a.get("/health").await;
    assert_eq!(health["peers"][0]["fullSyncsTotal"], 1, "{health}");
}
