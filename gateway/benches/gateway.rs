//! Gateway benchmark: the same load sent straight to an audio instance, through the gateway, and
//! through a gateway with users' tokens on (HS256 JWTs verified on every request, each user
//! vouched to an audio instance that checks it), in one run, so the ratios are what to read (load
//! generator and servers share the cores).
//!
//!     cargo bench -p gateway

use std::time::{Duration, Instant};

use awc::ws;
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};

const HTTP_CLIENTS: usize = 32;
const HTTP_SECONDS: u64 = 5;
const WS_SESSIONS: usize = 50;
const WS_CHUNKS: usize = 200;
const CHUNK: usize = 5_000;
const JWT_SECRET: &str = "bench-jwt-secret-0123456789abcdef0123456789";
const IDENTITY_SECRET: &str = "bench-identity-secret-0123456789abcdef";

/// A user's token, valid for the run.
fn user_token() -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"sub": "bench-user", "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

async fn http_load(base: &str, token: Option<&str>) -> f64 {
    let client = awc::Client::builder()
        .connector(awc::Connector::new().limit(256))
        .finish();
    let deadline = Instant::now() + Duration::from_secs(HTTP_SECONDS);
    let counts = join_all((0..HTTP_CLIENTS).map(|_| {
        let client = client.clone();
        let url = format!("{base}/api/recordings?limit=5");
        let bearer = token.map(|t| format!("Bearer {t}"));
        async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let mut request = client.get(&url);
                if let Some(bearer) = &bearer {
                    request = request.insert_header(("authorization", bearer.as_str()));
                }
                let mut response = request.send().await.unwrap();
                assert_eq!(response.status().as_u16(), 200);
                response.body().await.unwrap();
                n += 1;
            }
            n
        }
    }))
    .await;
    counts.iter().sum::<u64>() as f64 / HTTP_SECONDS as f64
}

async fn ws_load(url: &str, token: Option<&str>) -> (f64, Duration) {
    let started = Instant::now();
    let chunk = vec![42u8; CHUNK];
    join_all((0..WS_SESSIONS).map(|i| {
        let chunk = chunk.clone();
        async move {
            let mut request = awc::Client::new().ws(url);
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let (_, mut socket) = request.connect().await.unwrap();
            let start = format!(r#"{{"action":"record-start","metaId":"bench-{i}"}}"#);
            socket.send(ws::Message::Text(start.into())).await.unwrap();
            next_text(&mut socket).await;
            for _ in 0..WS_CHUNKS {
                socket
                    .send(ws::Message::Binary(chunk.clone().into()))
                    .await
                    .unwrap();
                next_text(&mut socket).await;
            }
            socket
                .send(ws::Message::Text(r#"{"action":"record-end"}"#.into()))
                .await
                .unwrap();
            next_text(&mut socket).await;
        }
    }))
    .await;
    let took = started.elapsed();
    ((WS_SESSIONS * WS_CHUNKS) as f64 / took.as_secs_f64(), took)
}

async fn next_text(socket: &mut actix_codec::Framed<awc::BoxedSocket, ws::Codec>) {
    loop {
        match socket.next().await.unwrap().unwrap() {
            ws::Frame::Text(_) => return,
            ws::Frame::Ping(p) => socket.send(ws::Message::Pong(p)).await.unwrap(),
            _ => {}
        }
    }
}

fn main() -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let data = tempfile::tempdir()?;
        let mut registry_settings = registry::Settings::defaults();
        registry_settings.port = 0;
        let registry = registry::Application::build(registry_settings).await?;
        let registry_url = format!("http://{}/eureka/", registry.address());
        actix_web::rt::spawn(registry.run_until_stopped());

        // An open instance behind an open gateway, and an instance that requires vouched users
        // (under an app name of its own) behind a gateway that verifies users' tokens.
        let auth_data = tempfile::tempdir()?;
        let mut instances = Vec::new();
        for (dir, app_name, secret) in [
            (data.path(), "AUDIO-SERVICE", None),
            (auth_data.path(), "AUDIO-USERS", Some(IDENTITY_SECRET)),
        ] {
            let mut settings = audio::Settings::for_data_dir(dir);
            settings.port = 0;
            settings.registry.url = Some(registry_url.clone());
            settings.events.kafka_brokers = None;
            settings.registry.app_name = app_name.into();
            settings.identity_secret = secret.map(Into::into);
            let audio = audio::Application::build(settings).await?;
            instances.push(format!("{}", audio.address()));
            actix_web::rt::spawn(audio.run_until_stopped());
        }
        let direct = instances[0].clone();
        let mut gateways = Vec::new();
        for users in [false, true] {
            let mut settings = gateway::Settings::defaults();
            settings.port = 0;
            settings.registry_url = registry_url.clone();
            settings.discovery_refresh = Duration::from_millis(200);
            if users {
                settings.audio_service = "AUDIO-USERS".into();
                settings.jwt.secret = Some(JWT_SECRET.into());
                settings.jwt.identity_secret = Some(IDENTITY_SECRET.into());
            }
            let gateway = gateway::Application::build(settings).await?;
            gateways.push(format!("{}", gateway.address()));
            actix_web::rt::spawn(gateway.run_until_stopped());
        }
        let (via, via_users) = (gateways[0].clone(), gateways[1].clone());
        let token = user_token();
        // Wait until both gateways route to their instance.
        let client = awc::Client::new();
        for (gateway, token) in [(&via, None), (&via_users, Some(&token))] {
            loop {
                let mut request = client.get(format!("http://{gateway}/api/files"));
                if let Some(token) = token {
                    request = request.insert_header(("authorization", format!("Bearer {token}")));
                }
                if let Ok(response) = request.send().await {
                    if response.status().is_success() {
                        break;
                    }
                }
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            }
        }
        println!("gateway benchmark on {} cores; load generator in the same process", std::thread::available_parallelism().map_or(0, |n| n.get()));

        let direct_rps = http_load(&format!("http://{direct}"), None).await;
        // Open and with users, twice each, alternated: the machine's drift hits both alike.
        let mut open_rps = Vec::new();
        let mut users_rps = Vec::new();
        for _ in 0..2 {
            open_rps.push(http_load(&format!("http://{via}"), None).await);
            users_rps.push(http_load(&format!("http://{via_users}"), Some(&token)).await);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (gateway_rps, users_rps) = (mean(&open_rps), mean(&users_rps));
        println!("HTTP GET /api/recordings, {HTTP_CLIENTS} clients, {HTTP_SECONDS} s each (gateways: mean of 2)");
        println!("  direct           {direct_rps:>9.0} req/s");
        println!("  gateway          {gateway_rps:>9.0} req/s   ratio {:.2}", gateway_rps / direct_rps);
        println!("  gateway + users  {users_rps:>9.0} req/s   ratio {:.2}   users on / off {:.3}", users_rps / direct_rps, users_rps / gateway_rps);

        // What users' tokens cost a request, on one core: the gateway verifies the token and
        // vouches for its user, the audio service checks the vouch.
        let gate = gateway::Settings {
            jwt: gateway::JwtSettings {
                secret: Some(JWT_SECRET.into()),
                identity_secret: Some(IDENTITY_SECRET.into()),
                ..gateway::Settings::defaults().jwt
            },
            ..gateway::Settings::defaults()
        }
        .gate()
        .unwrap();
        let check = stack_common::identity::VouchCheck::new(&IDENTITY_SECRET.into()).unwrap();
        let request = actix_web::test::TestRequest::default()
            .insert_header(("authorization", format!("Bearer {token}")))
            .to_http_request();
        const ROUNDS: u32 = 20_000;
        let started = Instant::now();
        for _ in 0..ROUNDS {
            let identity = gate.admit(&request, false).await.unwrap();
            let (_, header) = gate.vouch(identity.as_ref()).unwrap();
            check.check(Some(&header)).unwrap();
        }
        let per_request = started.elapsed() / ROUNDS;
        println!(
            "  users' tokens per request: {:.1} µs of CPU (verify, vouch, check), against {:.0} µs of the 2 cores per request at the rate above",
            per_request.as_secs_f64() * 1e6,
            2e6 / users_rps
        );

        let (direct_cps, direct_took) = ws_load(&format!("ws://{direct}/ws/record"), None).await;
        let (gateway_cps, gateway_took) = ws_load(&format!("ws://{via}/ws/record"), None).await;
        let (users_cps, users_took) = ws_load(&format!("ws://{via_users}/ws/record"), Some(&token)).await;
        let mb = |cps: f64| cps * CHUNK as f64 / 1e6;
        println!("WebSocket: {WS_SESSIONS} sessions x {WS_CHUNKS} chunks of {CHUNK} B, each chunk waits for its ack");
        println!("  direct           {direct_cps:>9.0} chunks/s  {:>6.1} MB/s  ({:.2} s)", mb(direct_cps), direct_took.as_secs_f64());
        println!("  gateway          {gateway_cps:>9.0} chunks/s  {:>6.1} MB/s  ({:.2} s)   ratio {:.2}", mb(gateway_cps), gateway_took.as_secs_f64(), gateway_cps / direct_cps);
        println!("  gateway + users  {users_cps:>9.0} chunks/s  {:>6.1} MB/s  ({:.2} s)   ratio {:.2}   users on / off {:.3}", mb(users_cps), users_took.as_secs_f64(), users_cps / direct_cps, users_cps / gateway_cps);
        Ok(())
    })
}
