use std::time::Duration;

use crate::helpers::*;

#[actix_rt::test]
async fn the_audio_service_registers_as_audio_service_and_deregisters_on_shutdown() {
    let mut settings = registry::Settings::defaults();
    settings.port = 0;
    let registry_app = registry::Application::build(settings).await.unwrap();
    let registry_url = format!("http://{}/eureka/", registry_app.address());
    actix_rt::spawn(registry_app.run_until_stopped());

    let app = spawn_app_with(|s| s.registry.url = Some(registry_url.clone())).await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let apps_url = format!("{registry_url}apps/AUDIO-SERVICE");
    let fetch = || async {
        let mut response = awc::Client::new()
            .get(&apps_url)
            .insert_header(("Accept", "application/json"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        (status, body)
    };
    let mut registered = None;
    for _ in 0..100 {
        let (status, body) = fetch().await;
        if status == 200 {
            registered = Some(body);
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    let body = registered.expect("AUDIO-SERVICE registered");
    let instance = &body["application"]["instance"][0];
    assert_eq!(instance["app"], "AUDIO-SERVICE");
    assert_eq!(instance["port"]["$"], port);
    assert_eq!(instance["status"], "UP");
    assert_eq!(
        instance["healthCheckUrl"],
        format!("http://127.0.0.1:{port}/health")
    );

    app.stop().await;
    for _ in 0..100 {
        if fetch().await.0 == 404 {
            return;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("AUDIO-SERVICE still registered after shutdown");
}
