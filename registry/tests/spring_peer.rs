//! Our registry and a Spring Cloud Netflix Eureka server (Spring Boot 4.0.7, Spring Cloud
//! 2025.1.4, from Maven Central: `registry/interop/spring-eureka-server/`) as peers of each
//! other: an instance registered on either appears on the other, and so do its renewals and
//! its cancel. Needs `mvn` and `java`; without them the test fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support/ports.rs"]
mod ports;

struct Java(Child);

impl Drop for Java {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(url: &str) -> (u16, Value) {
    match awc::Client::new()
        .get(url)
        .insert_header(("Accept", "application/json"))
        .send()
        .await
    {
        Ok(mut response) => (
            response.status().as_u16(),
            response.json().limit(1 << 20).await.unwrap_or_default(),
        ),
        Err(_) => (0, Value::Null),
    }
}

async fn send(method: &str, url: &str, body: Option<Value>) -> u16 {
    let request = awc::Client::new()
        .request(method.parse().unwrap(), url)
        .insert_header(("Accept", "application/json"));
    let response = match body {
        Some(body) => request.send_json(&body).await,
        None => request.send().await,
    };
    response.map(|r| r.status().as_u16()).unwrap_or(0)
}

/// An instance as Netflix's client registers it, renewing every `renewal` seconds.
fn instance(app: &str, id: &str, port: u16) -> Value {
    json!({"instance": {
        "instanceId": id, "hostName": "127.0.0.1", "app": app, "ipAddr": "127.0.0.1",
        "status": "UP", "overriddenStatus": "UNKNOWN",
        "port": {"$": port, "@enabled": "true"}, "securePort": {"$": 443, "@enabled": "false"},
        "countryId": 1,
        "dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", "name": "MyOwn"},
        "leaseInfo": {"renewalIntervalInSecs": 30, "durationInSecs": 90},
        "metadata": {"zone": "test"},
        "homePageUrl": format!("http://127.0.0.1:{port}/"),
        "statusPageUrl": format!("http://127.0.0.1:{port}/health"),
        "healthCheckUrl": format!("http://127.0.0.1:{port}/health"),
        "vipAddress": app.to_lowercase(), "secureVipAddress": app.to_lowercase(),
        "isCoordinatingDiscoveryServer": "false",
        "lastUpdatedTimestamp": "1700000000000", "lastDirtyTimestamp": "1700000000000"
    }})
}

async fn until(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("not within {limit:?}: {what}");
}

async fn renewed_at(base: &str, app: &str, id: &str) -> i64 {
    get(&format!("{base}/eureka/apps/{app}/{id}")).await.1["instance"]["leaseInfo"]
        ["lastRenewalTimestamp"]
        .as_i64()
        .unwrap_or(0)
}

#[actix_rt::test]
async fn a_spring_eureka_server_and_ours_replicate_to_each_other() {
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop/spring-eureka-server");
    let built = Command::new("mvn")
        .args(["-B", "-q", "package", "-DskipTests"])
        .current_dir(&project)
        .status()
        .expect("mvn must be installed to run the Spring peer test");
    assert!(built.success(), "building the Spring Eureka server failed");

    let (ours_port, spring_port) = (
        ports::below_ephemeral_range(),
        ports::below_ephemeral_range(),
    );
    let mut settings = registry::Settings::defaults();
    settings.port = ours_port;
    settings.self_preservation = false;
    settings.peers = format!("http://127.0.0.1:{spring_port}/eureka/");
    let app = registry::Application::build(settings).await.unwrap();
    actix_rt::spawn(app.run_until_stopped());
    let ours = format!("http://127.0.0.1:{ours_port}");
    let spring = format!("http://127.0.0.1:{spring_port}");

    let log = std::env::temp_dir().join(format!("spring-eureka-{spring_port}.log"));
    let _java = Java(
        Command::new("java")
            .args([
                "-jar",
                "target/spring-eureka-server.jar",
                &format!("--server.port={spring_port}"),
                &format!("--eureka.client.service-url.defaultZone={ours}/eureka/"),
            ])
            .current_dir(&project)
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::null())
            .spawn()
            .expect("java must be installed to run the Spring peer test"),
    );
    let spring_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let limit = Duration::from_secs(90);
    until(limit, "the Spring Eureka server starts", async || {
        get(&format!("{spring}/eureka/apps")).await.0 == 200
    })
    .await;

    // Registered on ours: it appears on Spring's.
    let status = send(
        "POST",
        &format!("{ours}/eureka/apps/FROM-OURS"),
        Some(instance("FROM-OURS", "ours-1", 9301)),
    )
    .await;
    assert_eq!(status, 204);
    until(
        Duration::from_secs(30),
        "our registration on Spring's",
        async || {
            get(&format!("{spring}/eureka/apps/FROM-OURS/ours-1"))
                .await
                .0
                == 200
        },
    )
    .await;
    // Registered on Spring's: it appears on ours.
    let status = send(
        "POST",
        &format!("{spring}/eureka/apps/FROM-SPRING"),
        Some(instance("FROM-SPRING", "spring-1", 9302)),
    )
    .await;
    assert_eq!(status, 204, "{}", spring_log());
    until(
        Duration::from_secs(30),
        "Spring's registration on ours",
        async || {
            get(&format!("{ours}/eureka/apps/FROM-SPRING/spring-1"))
                .await
                .0
                == 200
        },
    )
    .await;
    let (_, on_ours) = get(&format!("{ours}/eureka/apps/FROM-SPRING/spring-1")).await;
    assert_eq!(on_ours["instance"]["metadata"]["zone"], "test", "{on_ours}");
    assert_eq!(on_ours["instance"]["port"]["$"], 9302, "{on_ours}");

    // Renewals, both ways.
    let before = renewed_at(&spring, "FROM-OURS", "ours-1").await;
    actix_rt::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        send("PUT", &format!("{ours}/eureka/apps/FROM-OURS/ours-1"), None).await,
        200
    );
    until(
        Duration::from_secs(30),
        "our renewal on Spring's",
        async || renewed_at(&spring, "FROM-OURS", "ours-1").await > before,
    )
    .await;
    let before = renewed_at(&ours, "FROM-SPRING", "spring-1").await;
    actix_rt::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        send(
            "PUT",
            &format!("{spring}/eureka/apps/FROM-SPRING/spring-1"),
            None
        )
        .await,
        200
    );
    until(
        Duration::from_secs(30),
        "Spring's renewal on ours",
        async || renewed_at(&ours, "FROM-SPRING", "spring-1").await > before,
    )
    .await;

    // Cancels, both ways.
    assert_eq!(
        send(
            "DELETE",
            &format!("{ours}/eureka/apps/FROM-OURS/ours-1"),
            None
        )
        .await,
        200
    );
    assert_eq!(
        send(
            "DELETE",
            &format!("{spring}/eureka/apps/FROM-SPRING/spring-1"),
            None
        )
        .await,
        200
    );
    until(
        Duration::from_secs(30),
        "both cancels replicated",
        async || {
            get(&format!("{spring}/eureka/apps/FROM-OURS/ours-1"))
                .await
                .0
                == 404
                && get(&format!("{ours}/eureka/apps/FROM-SPRING/spring-1"))
                    .await
                    .0
                    == 404
        },
    )
    .await;
    // Nothing went unanswered on our side of the link.
    let (_, health) = get(&format!("{ours}/health")).await;
    assert_eq!(health["peers"][0]["reachable"], true, "{health}");
    assert_eq!(health["peers"][0]["droppedTotal"], 0, "{health}");
}
