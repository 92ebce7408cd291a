//! Gateway benchmark: the same load sent straight to an audio instance and through the gateway,
//! in one run, so the ratio is what to read (load generator and servers share the cores).
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

async fn http_load(base: &str) -> f64 {
    let client = awc::Client::builder()
        .connector(awc::Connector::new().limit(256))
        .finish();
    let deadline = Instant::now() + Duration::from_secs(HTTP_SECONDS);
    let counts = join_all((0..HTTP_CLIENTS).map(|_| {
        let client = client.clone();
        let url = format!("{base}/api/recordings?limit=5");
        async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let mut response = client.get(&url).send().await.unwrap();
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

async fn ws_load(url: &str) -> (f64, Duration) {
    let started = Instant::now();
    let chunk = vec![42u8; CHUNK];
    join_all((0..WS_SESSIONS).map(|i| {
        let chunk = chunk.clone();
        async move {
            let (_, mut socket) = awc::Client::new().ws(url).connect().await.unwrap();
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

        let mut audio_settings = audio::Settings::for_data_dir(data.path());
        audio_settings.port = 0;
        audio_settings.registry_url = Some(registry_url.clone());
        audio_settings.kafka_brokers = None;
        let audio = audio::Application::build(audio_settings).await?;
        let direct = format!("{}", audio.address());
        actix_web::rt::spawn(audio.run_until_stopped());

        let mut gateway_settings = gateway::Settings::defaults();
        gateway_settings.port = 0;
        gateway_settings.registry_url = registry_url;
        gateway_settings.discovery_refresh_ms = 200;
        let gateway = gateway::Application::build(gateway_settings).await?;
        let via = format!("{}", gateway.address());
        actix_web::rt::spawn(gateway.run_until_stopped());
        // Wait until the gateway routes to the instance.
        let client = awc::Client::new();
        loop {
            if let Ok(response) = client.get(format!("http://{via}/api/files")).send().await {
                if response.status().is_success() {
                    break;
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        println!("gateway benchmark on {} cores; load generator in the same process", std::thread::available_parallelism().map_or(0, |n| n.get()));

        let direct_rps = http_load(&format!("http://{direct}")).await;
        let gateway_rps = http_load(&format!("http://{via}")).await;
        println!("HTTP GET /api/recordings, {HTTP_CLIENTS} clients, {HTTP_SECONDS} s each");
        println!("  direct   {direct_rps:>9.0} req/s");
        println!("  gateway  {gateway_rps:>9.0} req/s   ratio {:.2}", gateway_rps / direct_rps);

        let (direct_cps, direct_took) = ws_load(&format!("ws://{direct}/ws/record")).await;
        let (gateway_cps, gateway_took) = ws_load(&format!("ws://{via}/ws/record")).await;
        let mb = |cps: f64| cps * CHUNK as f64 / 1e6;
        println!("WebSocket: {WS_SESSIONS} sessions x {WS_CHUNKS} chunks of {CHUNK} B, each chunk waits for its ack");
        println!("  direct   {direct_cps:>9.0} chunks/s  {:>6.1} MB/s  ({:.2} s)", mb(direct_cps), direct_took.as_secs_f64());
        println!("  gateway  {gateway_cps:>9.0} chunks/s  {:>6.1} MB/s  ({:.2} s)   ratio {:.2}", mb(gateway_cps), gateway_took.as_secs_f64(), gateway_cps / direct_cps);
        Ok(())
    })
}
