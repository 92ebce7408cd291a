//! The compose files, checked without a Docker engine: every service's image or build, ports,
//! healthchecks, dependencies, volumes, and that every environment variable set for our
//! services is one its configuration really reads (and the other way round for required ones).

use std::collections::BTreeSet;

use clap::CommandFactory;
use serde_yaml::Value;

mod common;
use common::root;

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("compose").join(name)).unwrap();
    let mut value: Value = serde_yaml::from_str(&text).unwrap();
    value.apply_merge().unwrap();
    value
}

fn services(compose: &Value) -> Vec<(String, Value)> {
    compose["services"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

fn environment(service: &Value) -> Vec<(String, String)> {
    service["environment"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let value = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => String::new(),
                    };
                    (k.as_str().unwrap().to_owned(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every environment variable a service's configuration reads.
fn reads(command: clap::Command) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect();
    names.insert("RUST_LOG".into());
    names.insert("HEALTHCHECK_URL".into());
    names
}

#[test]
fn every_service_is_built_health_checked_restarted_and_ordered() {
    let compose = load("docker-compose.yml");
    let all = services(&compose);
    let names: BTreeSet<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "kafka",
        "kafka-ui",
        "kafdrop",
        "registry",
        "registry-2",
        "postgres",
        "s3",
        "s3-bucket",
        "audio-1",
        "audio-2",
        "gateway",
    ] {
        assert!(names.contains(expected), "no service {expected}");
    }
    // One-shot jobs (the bucket's set-up) run to completion: retried on failure, waited for.
    let jobs: BTreeSet<&str> = ["s3-bucket"].into();
    for (name, service) in &all {
        assert!(
            service["image"].is_string() || !service["build"].is_null(),
            "{name}: no image or build"
        );
        if let Some(deps) = service["depends_on"].as_mapping() {
            for (dep, condition) in deps {
                let dep = dep.as_str().unwrap();
                assert!(names.contains(dep), "{name} depends on unknown {dep}");
                let wanted = if jobs.contains(dep) {
                    "service_completed_successfully"
                } else {
                    "service_healthy"
                };
                assert_eq!(condition["condition"], wanted, "{name} -> {dep}");
            }
        }
        if jobs.contains(name.as_str()) {
            assert_eq!(service["restart"], "on-failure", "{name}");
            continue;
        }
        let test = service["healthcheck"]["test"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name}: no healthcheck"));
        assert!(test.len() >= 2, "{name}: empty healthcheck");
        assert!(service["restart"].is_string(), "{name}: no restart policy");
    }
    // Our services are built from the repository's Dockerfile; Kafka is the official image.
    for name in ["registry", "registry-2", "audio-1", "audio-2", "gateway"] {
        let service = &all.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(service["build"]["dockerfile"], "Dockerfile", "{name}");
        assert_eq!(service["build"]["context"], "..", "{name}");
    }
    let kafka = &all.iter().find(|(n, _)| n == "kafka").unwrap().1;
    assert!(kafka["image"]
        .as_str()
        .unwrap()
        .starts_with("apache/kafka:4."));
    let env: Vec<_> = environment(kafka);
    assert!(
        env.contains(&("KAFKA_PROCESS_ROLES".into(), "broker,controller".into())),
        "KRaft"
    );

    // Who starts after whom.
    let depends = |name: &str| -> BTreeSet<String> {
        let service = &all.iter().find(|(n, _)| n == name).unwrap().1;
        service["depends_on"]
            .as_mapping()
            .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        depends("audio-1"),
        ["kafka", "postgres", "registry", "registry-2", "s3-bucket"]
            .map(String::from)
            .into()
    );
    // The two registries are each other's peers, and the services list both.
    let peers_of = |name: &str| {
        environment(&all.iter().find(|(n, _)| n == name).unwrap().1)
            .into_iter()
            .find(|(k, _)| k == "REGISTRY_PEERS")
            .map(|(_, v)| v)
    };
    assert_eq!(
        peers_of("registry").as_deref(),
        Some("http://registry-2:8761/eureka/")
    );
    assert_eq!(
        peers_of("registry-2").as_deref(),
        Some("http://registry:8761/eureka/")
    );
    assert_eq!(depends("s3-bucket"), ["s3"].map(String::from).into());
    let s3 = &all.iter().find(|(n, _)| n == "s3").unwrap().1;
    assert!(s3["image"]
        .as_str()
        .unwrap()
        .starts_with("chrislusf/seaweedfs:4."));
    let postgres = &all.iter().find(|(n, _)| n == "postgres").unwrap().1;
    assert!(postgres["image"]
        .as_str()
        .unwrap()
        .starts_with("postgres:15"));
    // The audio instances' index is that server's database.
    let audio_env = environment(&all.iter().find(|(n, _)| n == "audio-1").unwrap().1);
    let url = &audio_env
        .iter()
        .find(|(k, _)| k == "AUDIO_DATABASE_URL")
        .expect("the audio instances name their index")
        .1;
    assert!(
        url.starts_with("postgres://audio:") && url.ends_with("@postgres:5432/audio"),
        "{url}"
    );
    // Their recordings are that store's bucket, which the job makes.
    let var = |name: &str| {
        audio_env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("audio-1 sets {name}"))
    };
    assert_eq!(var("AUDIO_RECORDINGS_URL"), "s3://recordings");
    assert_eq!(var("AWS_ENDPOINT"), "http://s3:8333");
    let job = &all.iter().find(|(n, _)| n == "s3-bucket").unwrap().1;
    let script = job["entrypoint"][2].as_str().unwrap();
    assert!(script.contains("http://s3:8333/recordings"), "{script}");
    assert_eq!(
        depends("gateway"),
        ["audio-1", "audio-2", "registry", "registry-2"]
            .map(String::from)
            .into()
    );
    assert_eq!(depends("kafka-ui"), ["kafka"].map(String::from).into());
}

#[test]
fn only_the_gateway_and_the_two_uis_are_published() {
    let compose = load("docker-compose.yml");
    for (name, service) in services(&compose) {
        let ports: Vec<String> = service["ports"]
            .as_sequence()
            .map(|p| p.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let expected: Vec<&str> = match name.as_str() {
            "gateway" => vec!["5000:5000"],
            "kafka-ui" => vec!["8080:8080"],
            "kafdrop" => vec!["9000:9000"],
            _ => vec![],
        };
        assert_eq!(ports, expected, "{name}");
    }
}

#[test]
fn two_audio_instances_each_have_a_volume_of_their_own() {
    let compose = load("docker-compose.yml");
    let all = services(&compose);
    let audio: Vec<(&String, &Value)> = all
        .iter()
        .filter(|(n, _)| n.starts_with("audio-"))
        .map(|(n, s)| (n, s))
        .collect();
    assert_eq!(audio.len(), 2);
    let mut advertised = BTreeSet::new();
    for (name, service) in &audio {
        let volumes: Vec<&str> = service["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        // Only work in progress is local; the index and the recordings are shared services.
        assert_eq!(volumes, [format!("{name}-data:/data")]);
        assert!(compose["volumes"]
            .as_mapping()
            .unwrap()
            .contains_key(format!("{name}-data")));
        let env = environment(service);
        assert!(env.contains(&("AUDIO_DATA_DIR".into(), "/data".into())));
        advertised.insert(
            env.iter()
                .find(|(k, _)| k == "AUDIO_ADVERTISE_HOST")
                .unwrap()
                .1
                .clone(),
        );
    }
    assert_eq!(
        advertised,
        ["audio-1", "audio-2"].map(String::from).into(),
        "each instance registers its own address"
    );
    assert!(!compose["volumes"]
        .as_mapping()
        .unwrap()
        .contains_key("recordings"));
}

#[test]
fn every_variable_set_is_read_by_the_service_and_every_required_one_is_set() {
    let compose = load("docker-compose.yml");
    let known = |name: &str| match name {
        "registry" | "registry-2" => reads(registry::Settings::command()),
        "gateway" => reads(gateway::Settings::command()),
        _ => {
            let mut names = reads(audio::Settings::command());
            // The S3 client (object_store) reads the standard AWS variables itself.
            for aws in [
                "AWS_ENDPOINT",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_REGION",
                "AWS_ALLOW_HTTP",
            ] {
                names.insert(aws.into());
            }
            names
        }
    };
    let required: &[(&str, &[&str])] = &[
        (
            "registry",
            &["REGISTRY_HOST", "REGISTRY_PORT", "REGISTRY_PEERS"],
        ),
        (
            "registry-2",
            &["REGISTRY_HOST", "REGISTRY_PORT", "REGISTRY_PEERS"],
        ),
        (
            "audio-1",
            &[
                "AUDIO_HOST",
                "AUDIO_PORT",
                "AUDIO_DATA_DIR",
                "AUDIO_REGISTRY_URL",
                "AUDIO_ADVERTISE_HOST",
                "KAFKA_BROKERS",
                "AUDIO_DATABASE_URL",
                "AUDIO_RECORDINGS_URL",
                "AWS_ENDPOINT",
            ],
        ),
        (
            "audio-2",
            &[
                "AUDIO_HOST",
                "AUDIO_PORT",
                "AUDIO_DATA_DIR",
                "AUDIO_REGISTRY_URL",
                "AUDIO_ADVERTISE_HOST",
                "KAFKA_BROKERS",
                "AUDIO_DATABASE_URL",
                "AUDIO_RECORDINGS_URL",
                "AWS_ENDPOINT",
            ],
        ),
        ("gateway", &["GATEWAY_HOST", "GATEWAY_PORT", "REGISTRY_URL"]),
    ];
    for (name, must) in required {
        let service = services(&compose)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1;
        let env = environment(&service);
        let known = known(name);
        for (key, _) in &env {
            assert!(
                known.contains(key),
                "{name} sets {key}, which it does not read"
            );
        }
        for key in *must {
            assert!(env.iter().any(|(k, _)| k == key), "{name} lacks {key}");
        }
        // The healthcheck probes the port the service is told to use.
        let port = env
            .iter()
            .find(|(k, _)| k.ends_with("_PORT"))
            .unwrap()
            .1
            .clone();
        let test = service["healthcheck"]["test"].as_sequence().unwrap();
        assert!(
            test.iter()
                .any(|t| t.as_str().unwrap().contains(&format!(":{port}/health"))),
            "{name}"
        );
    }
}

#[test]
fn no_secret_is_baked_in_and_every_interpolated_variable_is_in_the_env_example() {
    let example = std::fs::read_to_string(root().join("compose/.env.example")).unwrap();
    let defined: BTreeSet<&str> = example
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| l.split('=').next().unwrap())
        .collect();
    for file in ["docker-compose.yml", "docker-compose.kafka3.yml"] {
        let text = std::fs::read_to_string(root().join("compose").join(file)).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("${") {
            let name: String = rest[at + 2..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                defined.contains(name.as_str()),
                "{file} uses ${{{name}}}, missing from .env.example"
            );
            rest = &rest[at + 2..];
        }
        for (name, service) in services(&load(file)) {
            for (key, value) in environment(&service) {
                if key.contains("TOKEN") || key.contains("PASSWORD") || key.contains("SECRET") {
                    assert!(value.starts_with("${"), "{file}: {name} bakes in {key}");
                }
            }
        }
    }
}

#[test]
fn the_three_broker_variant_replicates_three_times() {
    let overlay = load("docker-compose.kafka3.yml");
    let all = services(&overlay);
    for broker in ["kafka", "kafka-2", "kafka-3"] {
        let service = &all
            .iter()
            .find(|(n, _)| n == broker)
            .unwrap_or_else(|| panic!("no {broker}"))
            .1;
        let env = environment(service);
        assert!(env.contains(&(
            "KAFKA_CONTROLLER_QUORUM_VOTERS".into(),
            "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093".into()
        )));
        assert!(service["healthcheck"]["test"].is_sequence(), "{broker}");
    }
    for audio in ["audio-1", "audio-2"] {
        let env = environment(&all.iter().find(|(n, _)| n == audio).unwrap().1);
        assert!(
            env.contains(&("AUDIO_KAFKA_REPLICATION".into(), "3".into())),
            "{audio}"
        );
        assert!(
            env.contains(&(
                "KAFKA_BROKERS".into(),
                "kafka:9092,kafka-2:9092,kafka-3:9092".into()
            )),
            "{audio}"
        );
        for (key, _) in env {
            assert!(
                reads(audio::Settings::command()).contains(&key),
                "{audio} sets {key}"
            );
        }
    }
}

#[test]
fn the_image_is_multi_stage_cached_small_and_not_root() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let stages = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(stages >= 3, "multi-stage build");
    let cook = dockerfile
        .find("cargo chef cook")
        .expect("a cached dependency layer");
    let copy_all = dockerfile.rfind("COPY . .").unwrap();
    assert!(
        cook < copy_all,
        "dependencies are built before the sources are copied"
    );
    let runtime = &dockerfile[dockerfile.rfind("FROM ").unwrap()..];
    assert!(
        runtime.starts_with("FROM debian:bookworm-slim"),
        "small runtime image"
    );
    assert!(runtime.contains("USER app"), "non-root user");
    assert!(runtime.contains("HEALTHCHECK"), "a healthcheck");
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "target/"));
}

#[test]
fn the_open_files_limits_hold_every_session_the_instances_allow() {
    let compose = load("docker-compose.yml");
    let nofile = |service: &Value| {
        let limit = &service["ulimits"]["nofile"];
        let soft = limit["soft"].as_u64().expect("a soft nofile limit");
        assert_eq!(Some(soft), limit["hard"].as_u64(), "soft and hard alike");
        soft
    };
    let default_max = audio::Settings::for_data_dir("data").limits.max_sessions as u64;
    let mut sessions = 0;
    for (name, service) in services(&compose) {
        if !name.starts_with("audio-") {
            continue;
        }
        let max = environment(&service)
            .into_iter()
            .find(|(k, _)| k == "AUDIO_MAX_SESSIONS")
            .map_or(default_max, |(_, v)| v.parse().unwrap());
        let needed = max * audio::DESCRIPTORS_PER_SESSION + stack_common::open_files::RESERVED;
        assert!(
            nofile(&service) >= needed,
            "{name}: {max} sessions need {needed}"
        );
        sessions += max;
    }
    assert!(sessions > 0, "no audio instance found");
    let gateway = &compose["services"]["gateway"];
    assert!(
        nofile(gateway) >= 2 * sessions + 256,
        "gateway: {sessions} sockets to relay"
    );
}
