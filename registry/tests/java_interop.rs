//! Interoperability with a client nobody here wrote: Netflix's own Java Eureka client
//! (`com.netflix.eureka:eureka-client` from Maven Central), built by Maven and run as a real
//! process against our registry. Needs `mvn` and `java`; without them the test fails.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

async fn get(url: &str) -> (u16, Value) {
    let mut response = awc::Client::new()
        .get(url)
        .insert_header(("Accept", "application/json"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().limit(1 << 20).await.unwrap_or_default(),
    )
}

#[actix_rt::test]
async fn netflix_eureka_client_registers_keeps_its_lease_and_finds_audio_service() {
    let interop = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop");
    let built = Command::new("mvn")
        .args(["-B", "-q", "package", "-DskipTests"])
        .current_dir(&interop)
        .status()
        .expect("mvn must be installed to run the Eureka interop test");
    assert!(built.success(), "building the Java interop client failed");

    let mut settings = registry::Settings::defaults();
    settings.port = 0;
    let app = registry::Application::build(settings).await.unwrap();
    let base = format!("http://{}/eureka/", app.address());
    actix_rt::spawn(app.run_until_stopped());

    // An AUDIO-SERVICE instance for the Java client to find.
    let audio = serde_json::json!({"instance": {
        "instanceId": "127.0.0.1:audio-service:9001", "hostName": "127.0.0.1", "app": "AUDIO-SERVICE",
        "ipAddr": "127.0.0.1", "status": "UP", "port": {"$": 9001, "@enabled": "true"},
        "leaseInfo": {"renewalIntervalInSecs": 30, "durationInSecs": 90}}});
    let response = awc::Client::new()
        .post(format!("{base}apps/AUDIO-SERVICE"))
        .send_json(&audio)
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);

    let mut java = Command::new("java")
        .args([
            "-cp",
            "target/classes:target/dependency/*",
            "Interop",
            &base,
            "7777",
        ])
        .current_dir(&interop)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("java must be installed to run the Eureka interop test");

    // While it runs: it appears in our registry, and its renewals move its lease on.
    let mut renewals = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = java.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the Java client did not finish in 60 s"
        );
        let (code, body) = get(&format!("{base}apps/JAVA-INTEROP")).await;
        if code == 200 {
            let instance = &body["application"]["instance"][0];
            assert_eq!(instance["status"], "UP");
            assert_eq!(instance["port"]["$"], 7777);
            renewals.push(
                instance["leaseInfo"]["lastRenewalTimestamp"]
                    .as_i64()
                    .unwrap(),
            );
        }
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    };
    let mut out = String::new();
    std::io::Read::read_to_string(java.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(status.success(), "Java client failed:\n{out}");
    assert!(
        out.contains("FOUND AUDIO-SERVICE at 127.0.0.1:9001 status UP"),
        "{out}"
    );
    assert!(out.contains("LEASE-KEPT UP"), "{out}");
    renewals.dedup();
    assert!(
        renewals.len() >= 3,
        "the Java client's lease was not renewed: {renewals:?}"
    );
    // Its shutdown cancelled the registration.
    assert_eq!(get(&format!("{base}apps/JAVA-INTEROP")).await.0, 404);
}
