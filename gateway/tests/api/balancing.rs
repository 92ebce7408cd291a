//! The balancer's view follows the registry client's copy without a lag of its own.

use std::time::Duration;

use actix::{Actor, Addr};
use gateway::balancer::{Balancer, Pick};
use registry_client::{
    Deregister, Discovery, InstanceSpec, Lookup, Registration, RegistryEndpoint,
};

use crate::helpers::{
    connect, get_json, record_fixture, refused_upgrade, spawn_audio, spawn_audio_with,
    spawn_gateway, spawn_registry, wait_for_instances,
};

/// Waits until the registry client's copy holds `ports` for the audio service, then answers
/// what the balancer picks right after: the copy pushes each change into the balancer's
/// mailbox before it answers the lookup, so the pick cannot come before the change.
async fn pick_once_the_copy_has(
    discovery: &Addr<Discovery>,
    balancer: &Addr<Balancer>,
    ports: &[u16],
) -> Option<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = discovery
            .send(Lookup("AUDIO-SERVICE".into()))
            .await
            .unwrap();
        if found.iter().map(|i| i.port).collect::<Vec<_>>() == ports {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the copy never held {ports:?}"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    balancer
        .send(Pick {
            service: "AUDIO-SERVICE".into(),
            websocket: true,
            exclude: Vec::new(),
        })
        .await
        .unwrap()
        .map(|upstream| upstream.authority)
}

#[actix_rt::test]
async fn an_instance_restarting_on_its_address_is_routed_to_as_soon_as_the_copy_has_it_back() {
    let (registry, _handle) = spawn_registry().await;
    let endpoint = RegistryEndpoint::new(&format!("http://{registry}/eureka/"), None);
    let discovery = Discovery::new(endpoint.clone(), Duration::from_millis(100)).start();
    let balancer = Balancer::new(
        discovery.clone(),
        vec!["AUDIO-SERVICE".into()],
        Duration::from_secs(30),
        3,
    )
    .start();
    let spec = InstanceSpec::new("audio-service", "127.0.0.1", 9701);

    let first = Registration::new(endpoint.clone(), spec.clone()).start();
    assert_eq!(
        pick_once_the_copy_has(&discovery, &balancer, &[9701]).await,
        Some("127.0.0.1:9701".to_owned())
    );

    // The restart: the instance leaves, then comes back on the same address.
    first.send(Deregister).await.unwrap().unwrap();
    assert_eq!(
        pick_once_the_copy_has(&discovery, &balancer, &[]).await,
        None
    );
    let _second = Registration::new(endpoint, spec).start();
    assert_eq!(
        pick_once_the_copy_has(&discovery, &balancer, &[9701]).await,
        Some("127.0.0.1:9701".to_owned())
    );
}

#[actix_rt::test]
async fn a_request_that_finds_no_instance_looks_at_the_registry_again_before_failing() {
    let (registry, _handle) = spawn_registry().await;
    // A copy refreshed once a minute: without a fresh look, an instance registering after the
    // first fetch would not be routed to for a minute.
    let gateway = spawn_gateway(&registry, |s| s.discovery_refresh = Duration::from_secs(60)).await;
    let health = format!("http://{gateway}/health");
    for _ in 0..100 {
        if !get_json(&health).await.1["registryCopyAgeMs"].is_null() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!get_json(&health).await.1["registryCopyAgeMs"].is_null());
    let (status, body) = get_json(&format!("http://{gateway}/api/files")).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("no-instance")));

    let data = tempfile::tempdir().unwrap();
    let audio = spawn_audio(&registry, data.path()).await;
    // Registered when the instance's first heartbeat (or registration) is in the registry.
    let registered = format!("http://{registry}/eureka/apps/AUDIO-SERVICE");
    for _ in 0..100 {
        if get_json(&registered).await.0 == 200 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        get_json(&registered).await.0,
        200,
        "{} never registered",
        audio.address
    );

    // The first request after it: a whole recording through the gateway, then the list.
    let completed = record_fixture(&format!("ws://{gateway}/ws/record"), "fresh-look").await;
    let (status, list) = get_json(&format!("http://{gateway}/api/files")).await;
    assert_eq!(status, 200);
    assert!(
        list.to_string()
            .contains(completed["fileName"].as_str().unwrap()),
        "{list}"
    );
}

#[actix_rt::test]
async fn an_instance_full_of_sessions_is_answered_as_full_and_not_ejected() {
    let (registry, _handle) = spawn_registry().await;
    let data = tempfile::tempdir().unwrap();
    spawn_audio_with(&registry, data.path(), |s| s.limits.max_sessions = 1).await;
    let gateway = spawn_gateway(&registry, |_| {}).await;
    wait_for_instances(&gateway, 1).await;
    let _holding = connect(&format!("ws://{gateway}/ws/record")).await;

    // More refusals than the failures that eject an instance (3).
    for _ in 0..5 {
        let (status, body) = refused_upgrade(&gateway).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("too-many-sessions")),
            "{body}"
        );
    }
    let (_, health) = get_json(&format!("http://{gateway}/health")).await;
    let instance = &health["upstreams"]["AUDIO-SERVICE"][0];
    assert_eq!(instance["ejected"], false, "{health}");
    assert_eq!(instance["failures"], 0, "{health}");
    assert_eq!(health["ejectionsTotal"], 0, "{health}");
}
