//! The same-host shortcut: an audio instance that advertises a Unix socket is reached over it.
//! The instance advertises a TCP address nobody can reach (192.0.2.1 is reserved for
//! documentation), so a request that succeeds can only have gone over the socket.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;

const UNREACHABLE: &str = "192.0.2.1";

/// A registry, one audio instance serving `socket` and advertising `advertise_host`, and a
/// gateway (`unix_sockets` on or off) that knows the instance.
async fn start(
    data_dir: &Path,
    socket: &Path,
    advertise_host: Option<&str>,
    unix_sockets: bool,
) -> (String, String) {
    let _ = env_logger::builder().is_test(true).try_init();
    let (registry, _handle) = spawn_registry().await;
    spawn_audio_with(&registry, data_dir, |s| {
        s.unix_socket = Some(socket.to_owned());
        s.registry.advertise_host = advertise_host.map(str::to_owned);
    })
    .await;
    let gateway = spawn_gateway(&registry, |s| {
        s.unix_sockets = unix_sockets;
        s.connect_timeout = Duration::from_millis(500);
    })
    .await;
    wait_for_instances(&gateway, 1).await;
    (registry, gateway)
}

fn upstream(health: &Value) -> &Value {
    &health["upstreams"]["AUDIO-SERVICE"][0]
}

#[actix_rt::test]
async fn an_instance_on_this_host_is_reached_over_its_unix_socket() {
    let data = tempfile::tempdir().unwrap();
    let socket = data.path().join("run/audio.sock");
    let (registry, gateway) = start(data.path(), &socket, Some(UNREACHABLE), true).await;

    // The registry holds the socket and the kernel it is on, as instance metadata.
    let (_, apps) = get_json(&format!("http://{registry}/eureka/apps/AUDIO-SERVICE")).await;
    let instance = &apps["application"]["instance"][0];
    assert_eq!(instance["ipAddr"], UNREACHABLE, "{instance}");
    assert_eq!(
        instance["metadata"]["unixSocket"],
        socket.display().to_string()
    );
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_eq!(instance["metadata"]["bootId"], boot_id.trim());

    let (_, health) = get_json(&format!("http://{gateway}/health")).await;
    assert_eq!(
        upstream(&health)["unixSocket"],
        socket.display().to_string()
    );

    // A recording (WebSocket), the list and a download (HTTP), all through the gateway.
    let completed = record_fixture(&format!("ws://{gateway}/ws/record"), "over-unix").await;
    assert_eq!(completed["bytes"], 64827, "{completed}");
    let id = completed["recordingId"].as_str().unwrap();
    wait_ready(&format!("http://{gateway}"), id).await;
    let (status, files) = get_json(&format!("http://{gateway}/api/files")).await;
    assert_eq!(status, 200);
    assert_eq!(files.as_array().unwrap().len(), 1, "{files}");
    let file_name = completed["fileName"].as_str().unwrap();
    let (status, bytes) = get_bytes(&format!("http://{gateway}/api/download/{file_name}")).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, remuxed_fixture());
}

#[actix_rt::test]
async fn without_a_usable_socket_the_gateway_goes_over_tcp() {
    // The socket file is gone (removed by hand, or the instance's folder is not shared with the
    // gateway): TCP, with the recording intact.
    let data = tempfile::tempdir().unwrap();
    let socket = data.path().join("audio.sock");
    let (_, gateway) = start(data.path(), &socket, None, true).await;
    std::fs::remove_file(&socket).unwrap();
    let completed = record_fixture(&format!("ws://{gateway}/ws/record"), "over-tcp").await;
    assert_eq!(completed["bytes"], 64827, "{completed}");
    let (status, files) = get_json(&format!("http://{gateway}/api/files")).await;
    assert_eq!((status, files.as_array().map(Vec::len)), (200, Some(1)));
}

#[actix_rt::test]
async fn with_unix_sockets_off_the_gateway_uses_only_tcp() {
    // Same instance as the first test, gateway told not to use sockets: only the unreachable
    // TCP address is left, so the request fails with the gateway's 502.
    let data = tempfile::tempdir().unwrap();
    let socket = data.path().join("audio.sock");
    let (_, gateway) = start(data.path(), &socket, Some(UNREACHABLE), false).await;
    let (_, health) = get_json(&format!("http://{gateway}/health")).await;
    assert!(upstream(&health).get("unixSocket").is_none(), "{health}");
    let (status, body) = get_json(&format!("http://{gateway}/api/files")).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"], "bad-gateway", "{body}");
}
