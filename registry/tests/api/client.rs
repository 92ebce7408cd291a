use std::time::Duration;

use actix::Actor;
use registry::client::{
    Deregister, Discovery, FetchNow, GetSnapshot, InstanceSpec, InstancesChanged, Lookup,
    Registration, RegistryEndpoint, Subscribe,
};

use crate::helpers::*;

fn fast_spec(port: u16) -> InstanceSpec {
    let mut spec = InstanceSpec::new("audio-service", "127.0.0.1", port);
    spec.renewal_interval = Duration::from_millis(200);
    spec.lease_duration = Duration::from_secs(2);
    spec
}

#[actix_rt::test]
async fn a_live_client_registers_heartbeats_and_comes_back_after_a_registry_restart() {
    let first = spawn_registry().await;
    let address = first.address.clone();
    let endpoint = RegistryEndpoint::new(&format!("http://{address}/eureka/"), None);
    let registration = Registration::new(endpoint.clone(), fast_spec(9500)).start();
    eventually(Duration::from_secs(5), "registered", || async {
        first.instance_ids("AUDIO-SERVICE").await == ["127.0.0.1:audio-service:9500"]
    })
    .await;
    let (_, one) = first
        .get("/eureka/apps/AUDIO-SERVICE/127.0.0.1:audio-service:9500")
        .await;
    let renewed_at = one["instance"]["leaseInfo"]["lastRenewalTimestamp"]
        .as_i64()
        .unwrap();
    eventually(Duration::from_secs(5), "heartbeats arrive", || async {
        let (_, one) = first
            .get("/eureka/apps/AUDIO-SERVICE/127.0.0.1:audio-service:9500")
            .await;
        one["instance"]["leaseInfo"]["lastRenewalTimestamp"]
            .as_i64()
            .unwrap()
            > renewed_at
    })
    .await;

    // The registry goes away (the client keeps running and retrying), then a new, empty one
    // starts on the same address: the first heartbeat gets 404 and the client registers again.
    first.stop().await;
    actix_rt::time::sleep(Duration::from_millis(600)).await;
    let mut settings = registry::Settings::defaults();
    settings.port = address.rsplit(':').next().unwrap().parse().unwrap();
    let second = spawn_registry_settings(settings).await;
    eventually(
        Duration::from_secs(5),
        "re-registered after restart",
        || async { second.instance_ids("AUDIO-SERVICE").await == ["127.0.0.1:audio-service:9500"] },
    )
    .await;

    // Graceful shutdown deregisters.
    registration.send(Deregister).await.unwrap().unwrap();
    assert!(second.instance_ids("AUDIO-SERVICE").await.is_empty());
}

#[actix_rt::test]
async fn discovery_follows_the_registry_and_keeps_its_copy_while_it_is_down() {
    let registry = spawn_registry().await;
    registry.register("AUDIO-SERVICE", "a:1", 9601).await;
    registry.register("AUDIO-SERVICE", "b:1", 9602).await;
    registry.register("GATEWAY", "g:1", 5000).await;
    let endpoint = RegistryEndpoint::new(&format!("http://{}", registry.address), None);
    let discovery = Discovery::new(endpoint, Duration::from_millis(100)).start();
    let ports = |discovery: actix::Addr<Discovery>| async move {
        discovery
            .send(Lookup("audio-service".into()))
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.port)
            .collect::<Vec<_>>()
    };
    eventually(Duration::from_secs(5), "both instances seen", || {
        let d = discovery.clone();
        async move { ports(d).await == [9601, 9602] }
    })
    .await;

    // Changes arrive through deltas: an instance out of service is no longer offered, a new
    // one is, a cancelled one goes.
    registry
        .send(
            "PUT",
            "/eureka/apps/AUDIO-SERVICE/a:1/status?value=OUT_OF_SERVICE",
            None,
        )
        .await;
    registry.register("AUDIO-SERVICE", "c:1", 9603).await;
    registry
        .send("DELETE", "/eureka/apps/AUDIO-SERVICE/b:1", None)
        .await;
    eventually(Duration::from_secs(5), "delta applied", || {
        let d = discovery.clone();
        async move { ports(d).await == [9603] }
    })
    .await;

    // The registry stops: lookups keep answering from the last copy.
    registry.stop().await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ports(discovery.clone()).await, [9603]);
}

/// Keeps every push it is sent, to be read back with `Told`.
#[derive(Default)]
struct Follower(Vec<InstancesChanged>);

impl actix::Actor for Follower {
    type Context = actix::Context<Self>;
}

impl actix::Handler<InstancesChanged> for Follower {
    type Result = ();

    fn handle(&mut self, msg: InstancesChanged, _: &mut Self::Context) {
        self.0.push(msg);
    }
}

#[derive(actix::Message)]
#[rtype(result = "Vec<(String, Vec<u16>)>")]
struct Told;

impl actix::Handler<Told> for Follower {
    type Result = actix::MessageResult<Told>;

    fn handle(&mut self, _: Told, _: &mut Self::Context) -> Self::Result {
        actix::MessageResult(
            self.0
                .iter()
                .map(|m| {
                    (
                        m.service.clone(),
                        m.instances.iter().map(|i| i.port).collect(),
                    )
                })
                .collect(),
        )
    }
}

#[actix_rt::test]
async fn a_subscriber_is_told_what_the_copy_holds_at_once_then_each_change_and_only_changes() {
    let registry = spawn_registry().await;
    registry.register("AUDIO-SERVICE", "a:1", 9611).await;
    let endpoint = RegistryEndpoint::new(&format!("http://{}", registry.address), None);
    let discovery = Discovery::new(endpoint, Duration::from_millis(50)).start();
    eventually(Duration::from_secs(5), "the copy has the instance", || {
        let d = discovery.clone();
        async move { d.send(Lookup("AUDIO-SERVICE".into())).await.unwrap().len() == 1 }
    })
    .await;

    let follower = Follower::default().start();
    discovery
        .send(Subscribe {
            services: vec!["audio-service".into(), "GATEWAY".into()],
            recipient: follower.clone().recipient(),
        })
        .await
        .unwrap();
    // Both services at once, under the names given (a service with no instance as empty).
    assert_eq!(
        follower.send(Told).await.unwrap(),
        [
            ("audio-service".to_owned(), vec![9611]),
            ("GATEWAY".to_owned(), vec![])
        ]
    );

    registry.register("AUDIO-SERVICE", "b:1", 9612).await;
    eventually(Duration::from_secs(5), "the change pushed", || {
        let f = follower.clone();
        async move { f.send(Told).await.unwrap().len() == 3 }
    })
    .await;
    // Ten more refreshes with nothing changed push nothing.
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        follower.send(Told).await.unwrap()[2..],
        [("audio-service".to_owned(), vec![9611, 9612])]
    );
}

#[actix_rt::test]
async fn fetch_now_answers_after_a_fresh_fetch_and_starts_one_at_most_every_200_ms() {
    let registry = spawn_registry().await;
    let endpoint = RegistryEndpoint::new(&format!("http://{}", registry.address), None);
    // Its own interval is a minute: every fetch after the first is one asked for.
    let discovery = Discovery::new(endpoint, Duration::from_secs(60)).start();
    eventually(Duration::from_secs(5), "the first fetch", || {
        let d = discovery.clone();
        async move { d.send(GetSnapshot).await.unwrap().age.is_some() }
    })
    .await;
    registry.register("AUDIO-SERVICE", "a:1", 9621).await;
    discovery.send(FetchNow).await.unwrap();
    let found = discovery
        .send(Lookup("AUDIO-SERVICE".into()))
        .await
        .unwrap();
    assert_eq!(found.iter().map(|i| i.port).collect::<Vec<_>>(), [9621]);

    // Callers at once share a fetch; callers one after another wait their turn, 200 ms apart.
    let started = std::time::Instant::now();
    let together = (0..20).map(|_| discovery.send(FetchNow));
    for answer in futures_util::future::join_all(together).await {
        answer.unwrap();
    }
    for _ in 0..5 {
        discovery.send(FetchNow).await.unwrap();
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(5 * 200),
        "six fetches asked for in {elapsed:?}"
    );
}
