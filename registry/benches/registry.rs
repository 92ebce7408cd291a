//! Registry benchmark: 1,000 registered instances, then heartbeats per second from concurrent
//! clients, and lookup latency (HTTP and the client's in-memory discovery cache). Client and
//! server share this machine's cores, so read the figures as this machine's, together.
//!
//!     cargo bench -p registry

use std::time::{Duration, Instant};

use actix::Actor;
use futures_util::future::join_all;
use registry::client::{Discovery, Lookup, RegistryEndpoint};
use serde_json::json;

const INSTANCES: usize = 1000;
const APPS: usize = 10;
const HEARTBEAT_CLIENTS: usize = 32;
const HEARTBEAT_SECONDS: u64 = 5;
const LOOKUPS: usize = 2000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<40} p50 {:>9.3} ms   p99 {:>9.3} ms   max {:>9.3} ms   (n={})",
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
        samples.len()
    );
}

fn main() -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let mut settings = registry::Settings::defaults();
        settings.port = 0;
        let app = registry::Application::build(settings).await?;
        let base = format!("http://{}/eureka", app.address());
        actix_web::rt::spawn(app.run_until_stopped());
        println!("registry benchmark on {} cores", std::thread::available_parallelism().map_or(0, |n| n.get()));

        let client = awc::Client::builder()
            .connector(awc::Connector::new().limit(256))
            .finish();
        let started = Instant::now();
        for batch in (0..INSTANCES).collect::<Vec<_>>().chunks(50) {
            join_all(batch.iter().map(|i| {
                let app = format!("APP-{}", i % APPS);
                let body = json!({"instance": {"instanceId": format!("i-{i}"), "hostName": "127.0.0.1",
                    "app": app, "status": "UP", "port": {"$": 10000 + i, "@enabled": "true"},
                    "leaseInfo": {"renewalIntervalInSecs": 30, "durationInSecs": 90}}});
                let request = client.post(format!("{base}/apps/{app}")).send_json(&body);
                async move { assert_eq!(request.await.unwrap().status().as_u16(), 204) }
            }))
            .await;
        }
        let took = started.elapsed();
        println!("{:<40} {INSTANCES} in {:.2} s ({:.0}/s)", "registrations", took.as_secs_f64(), INSTANCES as f64 / took.as_secs_f64());

        // Heartbeats: concurrent clients renew random instances for a fixed time.
        let deadline = Instant::now() + Duration::from_secs(HEARTBEAT_SECONDS);
        let workers = (0..HEARTBEAT_CLIENTS).map(|w| {
            let client = client.clone();
            let base = base.clone();
            async move {
                let mut latencies = Vec::new();
                let mut i = w;
                while Instant::now() < deadline {
                    let url = format!("{base}/apps/APP-{}/i-{i}", i % APPS);
                    let at = Instant::now();
                    let status = client.put(url).send().await.unwrap().status();
                    assert_eq!(status.as_u16(), 200);
                    latencies.push(at.elapsed());
                    i = (i + HEARTBEAT_CLIENTS) % INSTANCES;
                }
                latencies
            }
        });
        let latencies: Vec<Duration> = join_all(workers).await.into_iter().flatten().collect();
        println!(
            "{:<40} {:.0}/s with {HEARTBEAT_CLIENTS} concurrent clients over {HEARTBEAT_SECONDS} s",
            "heartbeats",
            latencies.len() as f64 / HEARTBEAT_SECONDS as f64
        );
        report("heartbeat latency (under that load)", latencies);

        let mut app_lookups = Vec::new();
        let mut full_lookups = Vec::new();
        for i in 0..LOOKUPS {
            let at = Instant::now();
            let mut response = client.get(format!("{base}/apps/APP-{}", i % APPS)).send().await.unwrap();
            response.body().limit(16 << 20).await.unwrap();
            app_lookups.push(at.elapsed());
            if i % 10 == 0 {
                let at = Instant::now();
                let mut response = client.get(format!("{base}/apps")).send().await.unwrap();
                response.body().limit(64 << 20).await.unwrap();
                full_lookups.push(at.elapsed());
            }
        }
        report("GET /eureka/apps/{app} (100 instances)", app_lookups);
        report("GET /eureka/apps (1,000 instances)", full_lookups);

        let discovery = Discovery::new(RegistryEndpoint::new(&base, None), Duration::from_secs(30)).start();
        while discovery.send(Lookup("APP-0".into())).await.unwrap().is_empty() {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        let mut cached = Vec::new();
        for i in 0..LOOKUPS * 10 {
            let at = Instant::now();
            let found = discovery.send(Lookup(format!("APP-{}", i % APPS))).await.unwrap();
            cached.push(at.elapsed());
            assert_eq!(found.len(), INSTANCES / APPS);
        }
        report("discovery cache lookup (in memory)", cached);
        Ok(())
    })
}
