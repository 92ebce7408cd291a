use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

#[actix_rt::test]
async fn a_recording_through_the_gateway_is_byte_identical_to_one_sent_directly() {
    let stack = Stack::start(1).await;
    let via_gateway = record_fixture(&stack.ws_url(), "via-gateway").await;
    let direct = record_fixture(
        &format!("ws://{}/ws/record", stack.audio[0].address),
        "direct",
    )
    .await;
    let name = |c: &serde_json::Value| c["fileName"].as_str().unwrap().to_owned();
    // Both arrive as the same bytes (64,827 of them) and are post-processed to the same file.
    assert_eq!(via_gateway["bytes"], 64827);
    assert_eq!(direct["bytes"], 64827);
    for c in [&via_gateway, &direct] {
        wait_ready(&stack.http(""), c["recordingId"].as_str().unwrap()).await;
    }
    let expected = remuxed_fixture();
    let (via_gateway_file, direct_file) = (
        stack.stored(&name(&via_gateway)).await,
        stack.stored(&name(&direct)).await,
    );
    assert!(via_gateway_file == direct_file);
    assert!(via_gateway_file == expected);

    // The REST API through the gateway: list, download with headers, Range.
    let (status, files) = get_json(&stack.http("/api/files")).await;
    assert_eq!(status, 200);
    assert_eq!(files.as_array().unwrap().len(), 2);
    let url = stack.http(&format!(
        "/api/download/{}",
        via_gateway["fileName"].as_str().unwrap()
    ));
    let mut response = awc::Client::new()
        .get(&url)
        .insert_header(("X-Request-Id", "trace-me-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    assert_eq!(
        headers.get("content-length").unwrap(),
        expected.len().to_string().as_str()
    );
    assert_eq!(headers.get("content-type").unwrap(), "audio/webm");
    assert!(headers
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(headers.get("x-request-id").unwrap(), "trace-me-1");
    assert!(headers.get("etag").is_some());
    assert_eq!(
        response.body().limit(1 << 20).await.unwrap().as_ref(),
        expected.as_slice()
    );

    let mut partial = awc::Client::new()
        .get(&url)
        .insert_header(("Range", "bytes=100-199"))
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status().as_u16(), 206);
    assert_eq!(
        partial.headers().get("content-range").unwrap(),
        format!("bytes 100-199/{}", expected.len()).as_str()
    );
    assert_eq!(
        partial.body().await.unwrap().as_ref(),
        &via_gateway_file[100..200]
    );
    let beyond = awc::Client::new()
        .get(&url)
        .insert_header(("Range", "bytes=999999-"))
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status().as_u16(), 416);

    // Errors of the service pass through as they are.
    let (status, body) = get_json(&stack.http("/api/download/..%2fsecret")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid-file-name"))
    );
    // Pages, health and metrics of the gateway itself.
    let (status, page) = get_bytes(&stack.http("/websocket-test.html")).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("<"), "not a page");
    let (status, _) = get_bytes(&stack.http("/file-list.html")).await;
    assert_eq!(status, 200);
    let (status, _) = get_bytes(&stack.http("/no-such-page.html")).await;
    assert_eq!(status, 404);
    let (_, metrics) = get_bytes(&stack.http("/metrics")).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("gateway_requests_total{route=\"audio-api\",status=\"206\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("gateway_websockets_total 1"), "{metrics}");
    // The registry's dashboard under its prefix.
    let (status, dashboard) = get_bytes(&stack.http("/registry/")).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&dashboard).contains("AUDIO-SERVICE"));
}

#[actix_rt::test]
async fn two_instances_on_one_data_folder_share_sessions_and_every_recording() {
    let stack = Stack::start(2).await;
    // Four sockets at once: least-connections spreads them two and two.
    let ws_url = stack.ws_url();
    let sockets: Vec<Socket> =
        futures_util::future::join_all((0..4).map(|_| connect(&ws_url))).await;
    actix_rt::time::sleep(Duration::from_millis(100)).await;
    let (_, health) = get_json(&stack.http("/health")).await;
    let open: Vec<u64> = health["upstreams"]["AUDIO-SERVICE"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["openWebsockets"].as_u64().unwrap())
        .collect();
    assert_eq!(open, [2, 2], "{health}");
    drop(sockets);

    let mut completed = Vec::new();
    for i in 0..4 {
        completed.push(record_fixture(&stack.ws_url(), &format!("shared-{i}")).await);
    }
    // Whichever instance answers, it sees every recording (round-robin spreads these reads).
    for _ in 0..4 {
        let (_, page) = get_json(&stack.http("/api/recordings")).await;
        assert_eq!(page["total"], 4);
        for c in &completed {
            let id = c["recordingId"].as_str().unwrap();
            let meta = wait_ready(&stack.http(""), id).await;
            assert_eq!(meta["endedAs"], "completed");
            let (status, bytes) =
                get_bytes(&stack.http(&format!("/api/recordings/{id}/audio"))).await;
            assert_eq!(status, 200);
            assert_eq!(bytes, remuxed_fixture());
        }
    }
    // Both instances served sessions.
    let completed_by: Vec<u64> = {
        let mut counts = Vec::new();
        for audio in &stack.audio {
            let (_, health) = get_json(&format!("http://{}/health", audio.address)).await;
            counts.push(health["sessions"]["completed"].as_u64().unwrap());
        }
        counts
    };
    assert!(
        completed_by.iter().all(|&n| n > 0),
        "sessions were not shared: {completed_by:?}"
    );
}

#[actix_rt::test]
async fn a_dead_instance_costs_no_failed_request_and_is_evicted() {
    let _ = env_logger::builder().is_test(true).try_init();
    let data_dir = tempfile::tempdir().unwrap();
    let (registry, _registry_handle) = spawn_registry().await;
    let survivor = spawn_audio(&registry, data_dir.path()).await;
    // The victim registers by hand with a short lease, so that killing it (server gone,
    // heartbeats gone, no deregistration) looks to the registry like a crash.
    let victim = {
        let mut settings = audio::Settings::for_data_dir(data_dir.path());
        settings.port = 0;
        settings.workers = 1;
        settings.events.kafka_brokers = None;
        let app = audio::Application::build(settings).await.unwrap();
        let address = app.address().to_string();
        let handle = app.handle();
        actix_rt::spawn(app.run_until_stopped());
        (address, handle)
    };
    let victim_port: u16 = victim.0.rsplit(':').next().unwrap().parse().unwrap();
    let id = format!("127.0.0.1:audio-service:{victim_port}");
    let body = json!({"instance": {"instanceId": id, "hostName": "127.0.0.1", "app": "AUDIO-SERVICE", "status": "UP",
        "port": {"$": victim_port, "@enabled": "true"}, "leaseInfo": {"renewalIntervalInSecs": 1, "durationInSecs": 2}}});
    let registry_url = format!("http://{registry}/eureka");
    let response = awc::Client::new()
        .post(format!("{registry_url}/apps/AUDIO-SERVICE"))
        .send_json(&body)
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let heartbeat_url = format!("{registry_url}/apps/AUDIO-SERVICE/{id}");
    let heartbeats = actix_rt::spawn(async move {
        loop {
            let _ = awc::Client::new().put(&heartbeat_url).send().await;
            actix_rt::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let gateway = spawn_gateway(&registry, |_| {}).await;
    let stack_http = |path: &str| format!("http://{gateway}{path}");
    wait_for_instances(&gateway, 2).await;

    // Kill the victim.
    heartbeats.abort();
    victim.1.stop(false).await;

    // Every request and every new session succeeds: a refused connection is retried on the
    // survivor and the victim is ejected.
    for i in 0..20 {
        let (status, _) = get_json(&stack_http("/api/files")).await;
        assert_eq!(status, 200, "request {i} failed");
    }
    for i in 0..5 {
        let completed = record_fixture(
            &format!("ws://{gateway}/ws/record"),
            &format!("after-kill-{i}"),
        )
        .await;
        assert_eq!(completed["bytes"], 64827);
    }
    let (_, health) = get_json(&stack_http("/health")).await;
    let victim_status = health["upstreams"]["AUDIO-SERVICE"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instanceId"] == id.as_str())
        .cloned();
    if let Some(status) = victim_status {
        assert_eq!(status["ejected"], true, "{health}");
    }
    assert!(health["ejectionsTotal"].as_u64().unwrap() >= 1, "{health}");

    // The registry's eviction removes it (lease 2 s, eviction every 100 ms).
    let mut evicted = false;
    for _ in 0..100 {
        let (_, app) = get_json(&format!("{registry_url}/apps/AUDIO-SERVICE")).await;
        let ids: Vec<&str> = app["application"]["instance"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["instanceId"].as_str().unwrap())
            .collect();
        if ids.len() == 1 && ids[0] != id {
            evicted = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(evicted, "the killed instance was not evicted");
    drop(survivor);
}

#[actix_rt::test]
async fn with_the_registry_stopped_the_gateway_keeps_routing() {
    let stack = Stack::start(1).await;
    stack.registry_handle.stop(false).await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let completed = record_fixture(&stack.ws_url(), "registry-down").await;
    assert_eq!(completed["bytes"], 64827);
    let (status, files) = get_json(&stack.http("/api/files")).await;
    assert_eq!(status, 200);
    assert_eq!(files.as_array().unwrap().len(), 1);
}

#[actix_rt::test]
async fn no_instance_is_a_clear_503_and_the_token_guards_the_api_but_not_the_pages() {
    let (registry, _handle) = spawn_registry().await;
    let gateway = spawn_gateway(&registry, |s| s.token = Some("let-me-in".into())).await;
    let url = |path: &str| format!("http://{gateway}{path}");
    let (status, body) = get_json(&url("/api/files")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = get_bytes(&url("/websocket-test.html")).await;
    assert_eq!(status, 200);
    let response = awc::Client::new()
        .get(url("/api/files"))
        .insert_header(("Authorization", "Bearer let-me-in"))
        .send()
        .await
        .unwrap();
    // Authorised, but no instance is registered: a JSON 503.
    assert_eq!(response.status().as_u16(), 503);
    let (status, body) = get_json(&url("/api/files?access_token=let-me-in")).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("no-instance")));
    let refused = awc::Client::new()
        .ws(format!("ws://{gateway}/ws/record"))
        .connect()
        .await;
    assert!(
        matches!(refused, Err(awc::error::WsClientError::InvalidResponseStatus(s)) if s.as_u16() == 401)
    );
}

/// What the upstream of a fixed-URL route was sent: the `X-Forwarded-*` headers name the
/// client and the host it asked for, and the gateway's own address when it named none.
#[actix_rt::test]
async fn forwarded_headers_name_the_client_and_the_host_it_asked_for() {
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

    // An upstream that answers with the forwarded headers it was sent.
    let upstream = HttpServer::new(|| {
        App::new().default_service(web::to(|req: HttpRequest| async move {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            HttpResponse::Ok().json(json!({
                "for": header("x-forwarded-for"),
                "proto": header("x-forwarded-proto"),
                "host": header("x-forwarded-host"),
            }))
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let upstream_address = upstream.addrs()[0];
    actix_rt::spawn(upstream.run());
    let routes = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        routes.path(),
        format!(
            "[[routes]]\nid = \"echo\"\npath = \"/echo/**\"\nurl = \"http://{upstream_address}\"\n"
        ),
    )
    .unwrap();
    let (registry, _registry) = spawn_registry().await;
    let gateway = spawn_gateway(&registry, |s| s.routes = Some(routes.path().to_owned())).await;

    // HTTP/1.1 with a Host and a chain from an earlier proxy.
    let response = awc::Client::new()
        .get(format!("http://{gateway}/echo/a"))
        .insert_header(("host", "recorder.example:8443"))
        .insert_header(("x-forwarded-for", "203.0.113.9"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        response,
        json!({"for": "203.0.113.9, 127.0.0.1", "proto": "http", "host": "recorder.example:8443"})
    );

    // HTTP/1.0 without a Host: the gateway's own address, not actix-web's placeholder.
    let response = get_without_host(&gateway, "/echo/b").await;
    assert_eq!(
        response,
        json!({"for": "127.0.0.1", "proto": "http", "host": gateway})
    );

    // A gateway listening on every interface names the address the connection reached, not
    // 0.0.0.0.
    let everywhere = spawn_gateway(&registry, |s| {
        s.routes = Some(routes.path().to_owned());
        s.host = "0.0.0.0".into();
    })
    .await;
    let reached = format!("127.0.0.1:{}", everywhere.rsplit(':').next().unwrap());
    let response = get_without_host(&reached, "/echo/c").await;
    assert_eq!(response["host"], json!(reached), "{everywhere}");
}

/// An HTTP/1.0 `GET` without a `Host` header, over a plain socket (no client sends one), and
/// its JSON body.
async fn get_without_host(address: &str, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};

    let request = format!("GET {path} HTTP/1.0\r\n\r\n");
    let address = address.to_owned();
    let answer = actix_rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).expect(&answer)
}
