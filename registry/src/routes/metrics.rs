use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::registry::GetStatus;
use crate::state::AppState;

/// A per-peer series: name, type, help, and its value for one peer.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&crate::peers::PeerStatus) -> f64,
);

/// `GET /metrics`: the registry actor's figures as Prometheus text.
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let status = state
        .registry
        .send(GetStatus)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let body = format!(
        "# HELP registry_applications Applications registered.\n# TYPE registry_applications gauge\nregistry_applications {}\n\
         # HELP registry_instances Instances registered.\n# TYPE registry_instances gauge\nregistry_instances {}\n\
         # HELP registry_renewals_last_window Renewals counted in the last full window.\n# TYPE registry_renewals_last_window gauge\nregistry_renewals_last_window {}\n\
         # HELP registry_renewal_threshold Renewals below which self-preservation starts.\n# TYPE registry_renewal_threshold gauge\nregistry_renewal_threshold {}\n\
         # HELP registry_self_preservation_active 1 while expired leases are kept.\n# TYPE registry_self_preservation_active gauge\nregistry_self_preservation_active {}\n\
         # HELP registry_evictions_total Leases evicted.\n# TYPE registry_evictions_total counter\nregistry_evictions_total {}\n",
        status.applications,
        status.instances,
        status.renewals_last_window,
        status.renewal_threshold,
        u8::from(status.self_preservation_active),
        status.evicted_total,
    );
    let mut body = body;
    let peers = state.peers.status().await;
    if !peers.is_empty() {
        let series: [Series; 6] = [
            (
                "registry_replication_sent_total",
                "counter",
                "Changes delivered to the peer.",
                |p| p.sent_total as f64,
            ),
            (
                "registry_replication_failed_batches_total",
                "counter",
                "Batches the peer did not take (retried).",
                |p| p.failed_batches_total as f64,
            ),
            (
                "registry_replication_dropped_total",
                "counter",
                "Changes dropped from a full queue (a full sync follows).",
                |p| p.dropped_total as f64,
            ),
            (
                "registry_replication_full_syncs_total",
                "counter",
                "Full syncs sent to the peer.",
                |p| p.full_syncs_total as f64,
            ),
            (
                "registry_replication_backlog",
                "gauge",
                "Changes queued for the peer.",
                |p| p.backlog as f64,
            ),
            (
                "registry_replication_lag_seconds",
                "gauge",
                "Age of the oldest change not yet delivered.",
                |p| p.lag_seconds,
            ),
        ];
        for (name, kind, help, value) in series {
            body.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for peer in &peers {
                body.push_str(&format!(
                    "{name}{{peer=\"{}\"}} {}\n",
                    peer.url,
                    value(peer)
                ));
            }
        }
        body.push_str("# HELP registry_peer_reachable 1 when the last batch reached the peer.\n# TYPE registry_peer_reachable gauge\n");
        for peer in &peers {
            body.push_str(&format!(
                "registry_peer_reachable{{peer=\"{}\"}} {}\n",
                peer.url,
                u8::from(peer.reachable == Some(true))
            ));
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body))
}
