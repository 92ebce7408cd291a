use serde_json::{json, Value};

use crate::helpers::*;

#[actix_rt::test]
async fn bad_registrations_are_refused_and_change_nothing() {
    let registry = spawn_registry().await;
    registry.register("AUDIO-SERVICE", "keep:1", 9000).await;
    let (_, before) = registry.get("/eureka/apps").await;

    let with = |patch: Value| {
        let mut body = instance_json("AUDIO-SERVICE", "bad:1", 9001);
        for (key, value) in patch.as_object().unwrap() {
            body["instance"][key] = value.clone();
        }
        body
    };
    let huge_metadata: serde_json::Map<String, Value> =
        (0..100).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases = [
        ("app differs from path", with(json!({"app": "OTHER"}))),
        ("missing host", with(json!({"hostName": "", "ipAddr": ""}))),
        (
            "missing port",
            with(json!({"port": null, "securePort": null})),
        ),
        (
            "disabled port",
            with(json!({"port": {"$": 9001, "@enabled": "false"}})),
        ),
        (
            "port out of range",
            with(json!({"port": {"$": 70000, "@enabled": "true"}})),
        ),
        (
            "zero lease",
            with(json!({"leaseInfo": {"renewalIntervalInSecs": 0, "durationInSecs": 90}})),
        ),
        (
            "absurd lease",
            with(json!({"leaseInfo": {"renewalIntervalInSecs": 30, "durationInSecs": 999999999}})),
        ),
        (
            "lease shorter than interval",
            with(json!({"leaseInfo": {"renewalIntervalInSecs": 60, "durationInSecs": 10}})),
        ),
        ("huge metadata", with(json!({"metadata": huge_metadata}))),
        ("unknown status", with(json!({"status": "SLEEPY"}))),
        ("id with a slash", with(json!({"instanceId": "a/../b"}))),
        ("no instance envelope", json!({"app": "AUDIO-SERVICE"})),
    ];
    for (what, body) in cases {
        let status = registry
            .send("POST", "/eureka/apps/AUDIO-SERVICE", Some(body))
            .await;
        assert_eq!(status, 400, "{what}");
    }
    // Malformed JSON and oversize bodies.
    let client = awc::Client::new();
    let response = client
        .post(registry.url("/eureka/apps/AUDIO-SERVICE"))
        .insert_header(("Content-Type", "application/json"))
        .send_body("{\"instance\": {")
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let response = client
        .post(registry.url("/eureka/apps/AUDIO-SERVICE"))
        .insert_header(("Content-Type", "application/json"))
        .send_body(vec![b' '; 200 * 1024])
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    // Bad names in paths, unknown statuses in overrides.
    assert_eq!(
        registry
            .send(
                "POST",
                "/eureka/apps/bad%20app",
                Some(instance_json("bad app", "x:1", 1))
            )
            .await,
        400
    );
    assert_eq!(
        registry
            .send(
                "PUT",
                "/eureka/apps/AUDIO-SERVICE/keep:1/status?value=SLEEPY",
                None
            )
            .await,
        400
    );
    assert_eq!(
        registry
            .send("PUT", "/eureka/apps/AUDIO-SERVICE/keep:1/status", None)
            .await,
        400
    );
    assert_eq!(
        registry
            .send("PUT", "/eureka/apps/AUDIO-SERVICE/..", None)
            .await,
        400
    );

    let (_, after) = registry.get("/eureka/apps").await;
    assert_eq!(before, after, "a refused request changed the registry");
}
