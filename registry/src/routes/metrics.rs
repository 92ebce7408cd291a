use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::registry::GetStatus;
use crate::startup::AppState;

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
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body))
}
