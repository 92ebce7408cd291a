use std::time::Duration;

use actix_web::dev::ServerHandle;
use registry::{Application, Settings};
use serde_json::{json, Value};

pub struct TestRegistry {
    pub address: String,
    pub handle: ServerHandle,
}

impl TestRegistry {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let mut response = awc::Client::new()
            .get(self.url(path))
            .insert_header(("Accept", "application/json"))
            .send()
            .await
            .unwrap();
        let body = response.body().limit(64 << 20).await.unwrap();
        (
            response.status().as_u16(),
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        )
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> u16 {
        self.send_with(method, path, body, None).await
    }

    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        auth: Option<&str>,
    ) -> u16 {
        let client = awc::Client::new();
        let mut request = client
            .request(method.parse().unwrap(), self.url(path))
            .insert_header(("Accept", "application/json"));
        if let Some(auth) = auth {
            request = request.insert_header(("Authorization", auth));
        }
        let response = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        };
        response.unwrap().status().as_u16()
    }

    /// As `send`, with one more header.
    pub async fn send_with_header(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        header: (&str, &str),
    ) -> u16 {
        let request = awc::Client::new()
            .request(method.parse().unwrap(), self.url(path))
            .insert_header(("Accept", "application/json"))
            .insert_header(header);
        let response = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        };
        response.unwrap().status().as_u16()
    }

    pub async fn register(&self, app: &str, id: &str, port: u16) -> u16 {
        self.send(
            "POST",
            &format!("/eureka/apps/{app}"),
            Some(instance_json(app, id, port)),
        )
        .await
    }

    pub async fn health(&self) -> Value {
        self.get("/health").await.1["registry"].clone()
    }

    /// Instance ids of an app, as the registry reports them.
    pub async fn instance_ids(&self, app: &str) -> Vec<String> {
        let (status, body) = self.get(&format!("/eureka/apps/{app}")).await;
        if status == 404 {
            return Vec::new();
        }
        let mut ids: Vec<String> = body["application"]["instance"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["instanceId"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    }

    pub fn stop(&self) -> impl std::future::Future<Output = ()> {
        self.handle.stop(false)
    }
}

/// A registration body shaped as Netflix's Java client sends it.
pub fn instance_json(app: &str, id: &str, port: u16) -> Value {
    instance_with_lease(app, id, port, 30, 90)
}

pub fn instance_with_lease(app: &str, id: &str, port: u16, renewal: u64, duration: u64) -> Value {
    json!({"instance": {
        "instanceId": id, "hostName": "127.0.0.1", "app": app.to_uppercase(), "ipAddr": "127.0.0.1",
        "status": "UP", "overriddenStatus": "UNKNOWN",
        "port": {"$": port, "@enabled": "true"}, "securePort": {"$": 443, "@enabled": "false"},
        "countryId": 1,
        "dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", "name": "MyOwn"},
        "leaseInfo": {"renewalIntervalInSecs": renewal, "durationInSecs": duration},
        "metadata": {"@class": "java.util.Collections$EmptyMap"},
        "homePageUrl": format!("http://127.0.0.1:{port}/"),
        "healthCheckUrl": format!("http://127.0.0.1:{port}/health"),
        "vipAddress": app.to_lowercase(), "secureVipAddress": app.to_lowercase(),
        "isCoordinatingDiscoveryServer": "false",
        "lastUpdatedTimestamp": "1700000000000", "lastDirtyTimestamp": "1700000000000"
    }})
}

pub async fn spawn_registry_with(tweak: impl FnOnce(&mut Settings)) -> TestRegistry {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut settings = Settings::defaults();
    settings.port = 0;
    tweak(&mut settings);
    spawn_registry_settings(settings).await
}

pub async fn spawn_registry_settings(settings: Settings) -> TestRegistry {
    let app = Application::build(settings).await.expect("registry starts");
    let address = app.address().to_string();
    let handle = app.handle();
    actix_rt::spawn(app.run_until_stopped());
    TestRegistry { address, handle }
}

pub async fn spawn_registry() -> TestRegistry {
    spawn_registry_with(|_| {}).await
}

/// Polls `check` every 50 ms until it holds, or fails after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within {limit:?}: {what}");
}
