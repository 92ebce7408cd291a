//! Proxying: plain HTTP requests (`http.rs`) and WebSockets (`upgrade.rs` takes the client's
//! connection over, `websocket.rs` makes the upstream's upgrade, `relay.rs` relays the bytes, one
//! future per socket, `frames.rs` follows frame boundaries).
//! Both pick an instance through the `Balancer` and report how it went.

pub mod budget;
pub mod frames;
pub mod headers;
pub mod http;
pub mod relay;
pub mod upgrade;
pub mod websocket;

use std::time::Duration;

use actix_web::HttpRequest;
use registry_client::FetchNow;

use crate::balancer::{Attempt, Outcome, Pick, Upstream};
use crate::error::GatewayError;
use crate::route::{Route, Target};
use crate::state::GatewayState;

/// The upstream for one attempt: a discovered instance or the route's fixed URL.
pub(crate) async fn choose(
    state: &GatewayState,
    target: &Target,
    websocket: bool,
    exclude: &[String],
) -> Result<Upstream, GatewayError> {
    match target {
        Target::Url(url) => {
            let authority = url
                .split_once("://")
                .map_or(url.as_str(), |(_, rest)| rest)
                .to_owned();
            Ok(Upstream {
                instance_id: url.clone(),
                authority,
            })
        }
        Target::Service(service) => {
            let pick = || {
                state.balancer.send(Pick {
                    service: service.clone(),
                    websocket,
                    exclude: exclude.to_vec(),
                })
            };
            let mut found = pick().await.map_err(|_| GatewayError::Unavailable)?;
            if found.is_none() && exclude.is_empty() {
                // No instance at all: the copy may predate a registration (an instance that has
                // just started or restarted), so look at the registry once more before failing.
                let fresh = state.discovery.send(FetchNow);
                let _ = actix_web::rt::time::timeout(FRESH_LOOK_LIMIT, fresh).await;
                found = pick().await.map_err(|_| GatewayError::Unavailable)?;
            }
            found.ok_or_else(|| GatewayError::NoInstance(service.clone()))
        }
    }
}

/// How long a request that found no instance waits for a fresh look at the registry.
const FRESH_LOOK_LIMIT: Duration = Duration::from_secs(1);

/// How many instances a request may try before giving up.
pub(crate) const MAX_ATTEMPTS: usize = 3;

/// Where one attempt of `req` goes on `upstream`: the route's rewritten path and the query
/// without the gateway's own `access_token`.
pub(crate) fn upstream_url(
    scheme: &str,
    upstream: &Upstream,
    route: &Route,
    req: &HttpRequest,
) -> String {
    format!(
        "{scheme}://{}{}{}",
        upstream.authority,
        route.upstream_path(req.path()),
        headers::upstream_query(req.query_string())
    )
}

/// Tells the balancer how an attempt on a discovered instance went (fixed URLs are not balanced).
pub(crate) fn report(state: &GatewayState, target: &Target, upstream: &Upstream, result: Attempt) {
    if matches!(target, Target::Service(_)) {
        state.balancer.do_send(Outcome {
            instance_id: upstream.instance_id.clone(),
            result,
        });
    }
}
