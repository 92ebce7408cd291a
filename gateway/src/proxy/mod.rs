//! Proxying: plain HTTP requests (`http.rs`) and WebSockets (`websocket.rs`, one actor per
//! socket). Both pick an instance through the `Balancer` and report how it went.

pub mod headers;
pub mod http;
pub mod websocket;

use crate::balancer::{Pick, Upstream};
use crate::error::GatewayError;
use crate::route::Target;
use crate::startup::GatewayState;

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
        Target::Service(service) => state
            .balancer
            .send(Pick {
                service: service.clone(),
                websocket,
                exclude: exclude.to_vec(),
            })
            .await
            .map_err(|_| GatewayError::Unavailable)?
            .ok_or_else(|| GatewayError::NoInstance(service.clone())),
    }
}

/// How many instances a request may try before giving up.
pub(crate) const MAX_ATTEMPTS: usize = 3;
