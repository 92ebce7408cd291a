use std::time::Duration;

use crate::helpers::*;

#[actix_rt::test]
async fn expired_leases_are_evicted_when_self_preservation_is_off() {
    let registry = spawn_registry_with(|s| {
        s.self_preservation = false;
        s.eviction_interval = Duration::from_millis(100);
    })
    .await;
    let body = instance_with_lease("AUDIO-SERVICE", "short:1", 9000, 1, 1);
    assert_eq!(
        registry
            .send("POST", "/eureka/apps/AUDIO-SERVICE", Some(body))
            .await,
        204
    );
    let long = instance_with_lease("AUDIO-SERVICE", "long:1", 9001, 30, 90);
    assert_eq!(
        registry
            .send("POST", "/eureka/apps/AUDIO-SERVICE", Some(long))
            .await,
        204
    );
    // Heartbeats keep a lease alive past its duration.
    for _ in 0..6 {
        actix_rt::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            registry
                .send("PUT", "/eureka/apps/AUDIO-SERVICE/short:1", None)
                .await,
            200
        );
    }
    assert_eq!(registry.instance_ids("AUDIO-SERVICE").await.len(), 2);
    // Silence: evicted after its one-second lease, the other stays.
    eventually(Duration::from_secs(5), "short:1 evicted", || async {
        registry.instance_ids("AUDIO-SERVICE").await == ["long:1"]
    })
    .await;
    assert_eq!(registry.health().await["evictedTotal"], 1);
    let (_, delta) = registry.get("/eureka/apps/delta").await;
    let last = delta["applications"]["application"][0]["instance"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["instanceId"].as_str(), last["actionType"].as_str()),
        (Some("short:1"), Some("DELETED"))
    );
}

#[actix_rt::test]
async fn self_preservation_keeps_expired_instances_when_renewals_collapse_and_lets_go_after() {
    // A 2 s renewal window; instances renew every second as they declare, so 4 instances are
    // expected to renew 8 times a window, and the threshold is floor(8 * 0.85) = 6. As with
    // Eureka's defaults (one-minute window, 90 s leases), the lease outlasts the window, so a
    // drop in renewals is measured before the silent leases expire.
    let registry = spawn_registry_with(|s| {
        s.eviction_interval = Duration::from_millis(100);
        s.renewal_window = Duration::from_secs(2);
        s.renewal_threshold = 0.85;
    })
    .await;
    let ids = ["sp:1", "sp:2", "sp:3", "sp:4"];
    for id in ids {
        let body = instance_with_lease("AUDIO-SERVICE", id, 9000, 1, 4);
        assert_eq!(
            registry
                .send("POST", "/eureka/apps/AUDIO-SERVICE", Some(body))
                .await,
            204
        );
    }
    let beat = |which: &'static [&'static str]| {
        let registry = &registry;
        async move {
            for id in which {
                let path = format!("/eureka/apps/AUDIO-SERVICE/{id}");
                assert_eq!(registry.send("PUT", &path, None).await, 200);
            }
            actix_rt::time::sleep(Duration::from_secs(1)).await;
        }
    };
    const ALL: &[&str] = &["sp:1", "sp:2", "sp:3", "sp:4"];
    const ONE: &[&str] = &["sp:1"];
    for _ in 0..5 {
        beat(ALL).await;
    }
    let health = registry.health().await;
    assert_eq!(health["renewalThreshold"], 6, "{health}");
    assert_eq!(health["selfPreservationActive"], false, "{health}");

    // Three fall silent at once (a network split, say): renewals fall under the threshold and
    // the registry stops evicting, so their leases expire but they stay.
    for _ in 0..6 {
        beat(ONE).await;
    }
    let health = registry.health().await;
    assert_eq!(health["selfPreservationActive"], true, "{health}");
    assert_eq!(registry.instance_ids("AUDIO-SERVICE").await, ids);

    // They are cancelled for good; the one left renews as expected, and preservation ends.
    for id in &ids[1..] {
        let path = format!("/eureka/apps/AUDIO-SERVICE/{id}");
        assert_eq!(registry.send("DELETE", &path, None).await, 200);
    }
    for _ in 0..5 {
        beat(ONE).await;
    }
    let health = registry.health().await;
    assert_eq!(health["selfPreservationActive"], false, "{health}");
    assert_eq!(registry.instance_ids("AUDIO-SERVICE").await, ["sp:1"]);
}
