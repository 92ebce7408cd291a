//! At start, before it serves: the full registry of the first peer that answers, so that a
//! registry that restarts knows every instance at once instead of waiting for each to renew.

use std::time::Duration;

use actix::Addr;

use crate::model::ApplicationsEnvelope;
use crate::registry::{Registry, SyncFrom};

/// Fetches the registry of the first peer that answers (each tried twice, 2 s each) and loads
/// it; answers how many instances came, or `None` when no peer answered.
pub async fn sync_from_peers(
    peers: &[String],
    token: Option<&str>,
    registry: &Addr<Registry>,
) -> Option<usize> {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(2))
        .finish();
    for round in 0..2 {
        for peer in peers {
            let mut request = client
                .get(format!("{peer}/eureka/apps"))
                .insert_header(("Accept", "application/json"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let fetched = async {
                let mut response = request.send().await.map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    return Err(format!("answered {}", response.status()));
                }
                response
                    .json::<ApplicationsEnvelope>()
                    .limit(64 << 20)
                    .await
                    .map_err(|e| e.to_string())
            };
            match fetched.await {
                Ok(envelope) => {
                    let instances: Vec<_> = envelope
                        .applications
                        .application
                        .into_iter()
                        .flat_map(|app| app.instance)
                        .collect();
                    let count = instances.len();
                    let loaded = registry.send(SyncFrom(instances)).await.unwrap_or(0);
                    log::info!("synced {loaded} of {count} instances from peer {peer}");
                    return Some(loaded);
                }
                Err(err) => log::warn!("peer {peer} cannot be synced from ({err})"),
            }
        }
        if round == 0 {
            actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        }
    }
    None
}
