//! What `docker compose up` would do, minus the containers: the registry, two audio instances
//! on one shared folder and the gateway, started as real processes with exactly the environment
//! the compose file gives them (host names and published ports mapped to loopback), against a
//! real Kafka broker (`KAFKA_BROKERS`) and a real PostgreSQL for their shared recording index
//! (`STACK_TEST_POSTGRES_URL`), as scripts/test provides. Users' tokens are on, as in compose:
//! a recording through the gateway by a signed-in user, listed by both instances for the user
//! the gateway vouches for, and a SIGTERM to each that must end it cleanly.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use awc::ws;
use futures_util::SinkExt;
use serde_yaml::Value;

mod common;
use common::{binary, free_port, next_json, root};

/// What compose/.env would hold.
const JWT_SECRET: &str = "compose-test-jwt-secret-0123456789abcdef";
const IDENTITY_SECRET: &str = "compose-test-identity-secret-0123456789";

/// A user's token, as an identity provider (or the development sign-in) would issue it.
fn user_token(sub: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": sub, "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// `${NAME:-default}` as compose resolves it with no .env file.
fn interpolate(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('}').unwrap() + at;
        let inner = &rest[at + 2..end];
        let default = inner.split_once(":-").map_or("", |(_, d)| d);
        out.push_str(default);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

struct Service {
    name: String,
    child: Child,
}

/// A test that fails half-way leaves no service running.
impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(compose: &Value, name: &str, map: &dyn Fn(&str, String) -> Option<String>) -> Service {
    let service = &compose["services"][name];
    let command: Vec<String> = service["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let mut process = Command::new(binary(&command[0]));
    process
        .args(&command[1..])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (key, value) in service["environment"].as_mapping().unwrap() {
        let key = key.as_str().unwrap();
        let value = match value {
            Value::String(s) => interpolate(s),
            Value::Number(n) => n.to_string(),
            other => panic!("{name}: {key} is {other:?}"),
        };
        if let Some(value) = map(key, value) {
            process.env(key, value);
        }
    }
    Service {
        name: name.into(),
        child: process.spawn().unwrap(),
    }
}

async fn healthy(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    // The same probe the containers' HEALTHCHECK runs.
    while !Command::new(binary("healthcheck"))
        .arg(url)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
    {
        assert!(Instant::now() < deadline, "{url} never became healthy");
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }
}

#[actix_rt::test]
async fn the_compose_services_run_together_and_record_through_the_gateway() {
    let brokers = std::env::var("KAFKA_BROKERS")
        .expect("KAFKA_BROKERS must name a running broker: run the tests with scripts/test");
    let database = common::fresh_database("compose").await;
    let text = std::fs::read_to_string(root().join("compose/docker-compose.yml")).unwrap();
    let mut compose: Value = serde_yaml::from_str(&text).unwrap();
    compose.apply_merge().unwrap();
    // The compose network's S3 store is the one scripts/test started (its bucket audio-test),
    // a prefix of this run's own standing in for the bucket the job makes.
    let s3 = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} must describe a running S3 server: run the tests with scripts/test")
        })
    };
    let (s3_endpoint, s3_key, s3_secret) = (
        s3("STACK_TEST_S3_ENDPOINT"),
        s3("STACK_TEST_S3_ACCESS_KEY"),
        s3("STACK_TEST_S3_SECRET_KEY"),
    );
    let bucket = format!("s3://audio-test/compose-{}", uuid::Uuid::new_v4().simple());
    // A volume of each instance's own.
    let volumes = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let (registry_port, registry_2_port, gateway_port) = (free_port(), free_port(), free_port());
    let audio_ports = [free_port(), free_port()];

    // Host names of the compose network, and container ports, mapped to loopback.
    let network = |value: String| {
        value
            .replace("kafka:9092", &brokers)
            .replace("registry:8761", &format!("127.0.0.1:{registry_port}"))
            .replace("registry-2:8761", &format!("127.0.0.1:{registry_2_port}"))
            .replace("0.0.0.0", "127.0.0.1")
    };
    // The two registries, peers of each other.
    let mut services = vec![start(&compose, "registry", &|key, value| match key {
        "REGISTRY_PORT" => Some(registry_port.to_string()),
        _ => Some(network(value)),
    })];
    services.push(start(&compose, "registry-2", &|key, value| match key {
        "REGISTRY_PORT" => Some(registry_2_port.to_string()),
        _ => Some(network(value)),
    }));
    healthy(&format!("http://127.0.0.1:{registry_port}/health")).await;
    healthy(&format!("http://127.0.0.1:{registry_2_port}/health")).await;
    for (i, name) in ["audio-1", "audio-2"].into_iter().enumerate() {
        let port = audio_ports[i];
        let data_dir = volumes[i].path().to_owned();
        let database = database.clone();
        let (bucket, s3_endpoint) = (bucket.clone(), s3_endpoint.clone());
        let (s3_key, s3_secret) = (s3_key.clone(), s3_secret.clone());
        services.push(start(&compose, name, &move |key, value| match key {
            // The compose network's PostgreSQL, with its password, is the test's.
            "AUDIO_DATABASE_URL" => {
                assert!(value.ends_with("@postgres:5432/audio"), "{value}");
                Some(database.clone())
            }
            "AUDIO_RECORDINGS_URL" => {
                assert_eq!(value, "s3://recordings");
                Some(bucket.clone())
            }
            "AWS_ENDPOINT" => {
                assert_eq!(value, "http://s3:8333");
                Some(s3_endpoint.clone())
            }
            "AWS_ACCESS_KEY_ID" => Some(s3_key.clone()),
            "AWS_SECRET_ACCESS_KEY" => Some(s3_secret.clone()),
            "AUDIO_PORT" => Some(port.to_string()),
            "AUDIO_ADVERTISE_HOST" => Some("127.0.0.1".into()),
            "AUDIO_IDENTITY_SECRET" => {
                assert!(value.is_empty(), "compose has no default for it");
                Some(IDENTITY_SECRET.into())
            }
            // The instance's own volume.
            "AUDIO_DATA_DIR" => Some(data_dir.display().to_string()),
            "HEALTHCHECK_URL" => None,
            _ => Some(network(value)),
        }));
        healthy(&format!("http://127.0.0.1:{port}/health")).await;
    }
    services.push(start(&compose, "gateway", &|key, value| match key {
        "GATEWAY_PORT" => Some(gateway_port.to_string()),
        "GATEWAY_REQUIRE_USERS" => {
            assert_eq!(value, "true", "compose never runs the gateway open");
            Some(value)
        }
        "GATEWAY_JWT_SECRET" => Some(JWT_SECRET.into()),
        "GATEWAY_IDENTITY_SECRET" => Some(IDENTITY_SECRET.into()),
        _ => Some(network(value)),
    }));
    healthy(&format!("http://127.0.0.1:{gateway_port}/health")).await;

    // Both audio instances are registered, on both registries (each registered with the first
    // and replicated to the second), and the gateway routes to them.
    let client = awc::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    for port in [registry_port, registry_2_port] {
        loop {
            let mut response = client
                .get(format!("http://127.0.0.1:{port}/eureka/apps/AUDIO-SERVICE"))
                .insert_header(("Accept", "application/json"))
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if body["application"]["instance"]
                .as_array()
                .is_some_and(|i| i.len() == 2)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the audio instances did not register on {port}: {body}"
            );
            actix_rt::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Users' tokens are on: nothing without one.
    let response = client
        .get(format!("http://127.0.0.1:{gateway_port}/api/recordings"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let bearer = format!("Bearer {}", user_token("kim"));
    let mut socket = loop {
        match client
            .ws(format!("ws://127.0.0.1:{gateway_port}/ws/record"))
            .header("authorization", bearer.as_str())
            .connect()
            .await
        {
            Ok((_, socket)) => break socket,
            Err(_) => actix_rt::time::sleep(Duration::from_millis(200)).await,
        }
    };
    socket
        .send(ws::Message::Text(
            r#"{"action":"record-start","metaId":"compose"}"#.into(),
        ))
        .await
        .unwrap();
    let started = next_json(&mut socket).await;
    let dir = root().join("testdata/mediarecorder-webm-opus-250ms");
    for i in 0..14 {
        let chunk = std::fs::read(dir.join(format!("chunk-{i:03}.bin"))).unwrap();
        socket
            .send(ws::Message::Binary(chunk.into()))
            .await
            .unwrap();
        assert_eq!(next_json(&mut socket).await["type"], "ack");
    }
    socket
        .send(ws::Message::Text(r#"{"action":"record-end"}"#.into()))
        .await
        .unwrap();
    let completed = next_json(&mut socket).await;
    assert_eq!(completed["bytes"], 64_827);
    let id = started["recordingId"].as_str().unwrap();

    // Post-processed over Kafka by one of the instances; readable through the gateway.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut response = client
            .get(format!(
                "http://127.0.0.1:{gateway_port}/api/recordings/{id}"
            ))
            .insert_header(("authorization", bearer.as_str()))
            .send()
            .await
            .unwrap();
        let meta: serde_json::Value = response.json().await.unwrap_or_default();
        if meta["status"] == "ready" {
            assert_eq!(
                meta["userId"], "kim",
                "the recording is the signed-in user's"
            );
            let duration = meta["durationMs"].as_f64().unwrap();
            assert!((duration - 3960.0).abs() <= 20.0, "{meta}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready through the gateway: {meta}"
        );
        actix_rt::time::sleep(Duration::from_millis(200)).await;
    }

    // Both instances list it from the shared index and serve it from the shared store, each
    // answering on its own, to the user the gateway vouches for (and to nobody else).
    let kim = stack_common::identity::Voucher::new(&IDENTITY_SECRET.into())
        .unwrap()
        .vouch(&stack_common::identity::Identity {
            subject: "kim".into(),
            roles: vec![],
        });
    for port in audio_ports {
        let response = client
            .get(format!("http://127.0.0.1:{port}/api/recordings/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "instance on {port}");
        let mut response = client
            .get(format!("http://127.0.0.1:{port}/api/recordings/{id}"))
            .insert_header((stack_common::identity::HEADER, kim.as_str()))
            .send()
            .await
            .unwrap();
        let meta: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!(meta["status"], "ready", "instance on {port}: {meta}");
        let mut response = client
            .get(format!("http://127.0.0.1:{port}/api/recordings/{id}/audio"))
            .insert_header((stack_common::identity::HEADER, kim.as_str()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "instance on {port}");
        let body = response.body().limit(1 << 20).await.unwrap();
        assert_eq!(body.len() as u64, meta["size"].as_u64().unwrap());
    }

    // SIGTERM, as `docker compose down` sends: each service exits 0.
    for service in services.iter_mut().rev() {
        let pid = service.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(40);
        let status = loop {
            if let Some(status) = service.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{} did not stop", service.name);
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(status.success(), "{} exited with {status:?}", service.name);
    }
}
