use serde_json::json;

use crate::helpers::*;

#[actix_rt::test]
async fn register_heartbeat_lookup_override_and_cancel_as_eureka_does() {
    let registry = spawn_registry().await;
    assert_eq!(
        registry
            .register("audio-service", "host-a:audio-service:9001", 9001)
            .await,
        204
    );
    assert_eq!(
        registry
            .register("AUDIO-SERVICE", "host-b:audio-service:9002", 9002)
            .await,
        204
    );

    // The whole registry, in Eureka's JSON shape.
    let (status, apps) = registry.get("/eureka/apps").await;
    assert_eq!(status, 200);
    let applications = &apps["applications"];
    assert_eq!(applications["apps__hashcode"], "UP_2_");
    assert!(applications["versions__delta"].as_str().is_some(), "{apps}");
    let app = &applications["application"][0];
    assert_eq!(app["name"], "AUDIO-SERVICE");
    let instance = &app["instance"][0];
    assert_eq!(instance["port"], json!({"$": 9001, "@enabled": "true"}));
    assert_eq!(instance["status"], "UP");
    assert_eq!(instance["overriddenstatus"], "UNKNOWN");
    assert_eq!(instance["leaseInfo"]["durationInSecs"], 90);
    assert!(
        instance["leaseInfo"]["registrationTimestamp"]
            .as_i64()
            .unwrap()
            > 0
    );
    assert!(instance["lastUpdatedTimestamp"].as_str().is_some());

    // App names are case-insensitive.
    assert_eq!(
        registry.instance_ids("audio-service").await,
        ["host-a:audio-service:9001", "host-b:audio-service:9002"]
    );
    let (status, one) = registry
        .get("/eureka/apps/Audio-Service/host-a:audio-service:9001")
        .await;
    assert_eq!(
        (status, one["instance"]["app"].as_str()),
        (200, Some("AUDIO-SERVICE"))
    );
    let (status, one) = registry
        .get("/eureka/instances/host-b:audio-service:9002")
        .await;
    assert_eq!(
        (status, one["instance"]["port"]["$"].as_u64()),
        (200, Some(9002))
    );
    let (status, vips) = registry.get("/eureka/vips/audio-service").await;
    assert_eq!(status, 200);
    assert_eq!(
        vips["applications"]["application"][0]["instance"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Heartbeats: 200 for a known instance, 404 for an unknown one (so its client re-registers).
    assert_eq!(registry.send("PUT", "/eureka/apps/AUDIO-SERVICE/host-a:audio-service:9001?status=UP&lastDirtyTimestamp=1700000000000", None).await, 200);
    assert_eq!(
        registry
            .send("PUT", "/eureka/apps/AUDIO-SERVICE/nobody", None)
            .await,
        404
    );
    // A client holding newer data than the registry is told to register again.
    assert_eq!(registry.send("PUT", "/eureka/apps/AUDIO-SERVICE/host-a:audio-service:9001?lastDirtyTimestamp=1800000000000", None).await, 404);

    // Status override, then its removal.
    let path = "/eureka/apps/AUDIO-SERVICE/host-a:audio-service:9001";
    assert_eq!(
        registry
            .send("PUT", &format!("{path}/status?value=OUT_OF_SERVICE"), None)
            .await,
        200
    );
    let (_, one) = registry.get(path).await;
    assert_eq!(one["instance"]["status"], "OUT_OF_SERVICE");
    assert_eq!(one["instance"]["overriddenstatus"], "OUT_OF_SERVICE");
    let (_, apps) = registry.get("/eureka/apps").await;
    assert_eq!(
        apps["applications"]["apps__hashcode"],
        "OUT_OF_SERVICE_1_UP_1_"
    );
    // The override survives the instance registering again.
    registry
        .register("AUDIO-SERVICE", "host-a:audio-service:9001", 9001)
        .await;
    assert_eq!(
        registry.get(path).await.1["instance"]["status"],
        "OUT_OF_SERVICE"
    );
    assert_eq!(
        registry
            .send("DELETE", &format!("{path}/status?value=UP"), None)
            .await,
        200
    );
    let (_, one) = registry.get(path).await;
    assert_eq!(
        (
            one["instance"]["status"].as_str(),
            one["instance"]["overriddenstatus"].as_str()
        ),
        (Some("UP"), Some("UNKNOWN"))
    );

    // Metadata updates merge.
    assert_eq!(
        registry
            .send("PUT", &format!("{path}/metadata?zone=a&weight=3"), None)
            .await,
        200
    );
    let (_, one) = registry.get(path).await;
    assert_eq!(
        one["instance"]["metadata"],
        json!({"zone": "a", "weight": "3"})
    );

    // Cancel.
    assert_eq!(registry.send("DELETE", path, None).await, 200);
    assert_eq!(registry.get(path).await.0, 404);
    assert_eq!(registry.send("DELETE", path, None).await, 404);
    assert_eq!(
        registry.instance_ids("AUDIO-SERVICE").await,
        ["host-b:audio-service:9002"]
    );

    // The delta holds every recent change with its action.
    let (_, delta) = registry.get("/eureka/apps/delta").await;
    let actions: Vec<&str> = delta["applications"]["application"][0]["instance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["actionType"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"ADDED"));
    assert!(
        actions.contains(&"MODIFIED") && actions.last() == Some(&"DELETED"),
        "{actions:?}"
    );
    assert_eq!(delta["applications"]["apps__hashcode"], "UP_1_");
}

#[actix_rt::test]
async fn dashboard_and_health_show_instances_and_self_preservation() {
    let registry = spawn_registry().await;
    registry
        .register("AUDIO-SERVICE", "dash:audio:1", 9100)
        .await;
    let mut response = awc::Client::new()
        .get(registry.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let html = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
    for expected in [
        "AUDIO-SERVICE",
        "dash:audio:1",
        "127.0.0.1:9100",
        "UP",
        "Self-preservation",
        "http-equiv=\"refresh\"",
    ] {
        assert!(html.contains(expected), "dashboard lacks {expected}");
    }
    let health = registry.health().await;
    assert_eq!(health["instances"], 1);
    let mut metrics = awc::Client::new()
        .get(registry.url("/metrics"))
        .send()
        .await
        .unwrap();
    let metrics = String::from_utf8(metrics.body().await.unwrap().to_vec()).unwrap();
    assert!(metrics.contains("registry_instances 1\n"), "{metrics}");
    // The metric says what /health says (active here: no full renewal window measured yet).
    let active = u8::from(health["selfPreservationActive"] == true);
    assert!(
        metrics.contains(&format!("registry_self_preservation_active {active}\n")),
        "{metrics}"
    );
    assert_eq!(health["selfPreservationEnabled"], true);
}

#[actix_rt::test]
async fn a_token_guards_writes_and_optionally_reads() {
    let registry = spawn_registry_with(|s| s.token = Some("s3cret".into())).await;
    let body = || Some(instance_json("APP", "tok:1", 9000));
    assert_eq!(registry.send("POST", "/eureka/apps/APP", body()).await, 401);
    assert_eq!(
        registry
            .send_with("POST", "/eureka/apps/APP", body(), Some("Bearer wrong"))
            .await,
        401
    );
    assert!(
        registry.instance_ids("APP").await.is_empty(),
        "a refused write changed the registry"
    );
    assert_eq!(
        registry
            .send_with("POST", "/eureka/apps/APP", body(), Some("Bearer s3cret"))
            .await,
        204
    );
    // Basic auth with the token as password: what Eureka's Java client sends for user:pass@host.
    let basic = format!("Basic {}", base64_encode("eureka:s3cret"));
    assert_eq!(
        registry
            .send_with("PUT", "/eureka/apps/APP/tok:1", None, Some(&basic))
            .await,
        200
    );
    assert_eq!(
        registry
            .send("DELETE", "/eureka/apps/APP/tok:1", None)
            .await,
        401
    );
    assert_eq!(registry.instance_ids("APP").await, ["tok:1"]);

    let closed = spawn_registry_with(|s| {
        s.token = Some("s3cret".into());
        s.protect_reads = true;
    })
    .await;
    assert_eq!(closed.get("/eureka/apps").await.0, 401);
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
