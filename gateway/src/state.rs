//! What every request handler can reach, built once by `startup` and shared by the routes and the
//! proxy. Kept apart from `startup` so that they import state, not the code that assembles it.

use std::path::PathBuf;
use std::sync::Arc;

use actix::Addr;
use actix_server::GracefulShutdownSignal;
use actix_web::web;
use registry_client::Discovery;

use crate::auth::Gate;
use crate::balancer::Balancer;
use crate::metrics::Metrics;
use crate::proxy::budget::RelayBudget;
use crate::route::RouteTable;

/// The gateway's shared state.
pub struct GatewayState {
    pub routes: RouteTable,
    pub balancer: Addr<Balancer>,
    pub discovery: Addr<Discovery>,
    pub metrics: Addr<Metrics>,
    /// Who may pass, and as whom (`auth`).
    pub gate: web::Data<Gate>,
    pub web_dir: Option<PathBuf>,
    /// The address the gateway listens on: the `X-Forwarded-Host` of a request that names no host.
    pub own_address: String,
    /// Places for relayed WebSockets under the open-files limit.
    pub relays: Arc<RelayBudget>,
    /// Notified when the server starts a graceful stop: relayed event streams end then, as
    /// they would otherwise hold the stop until its timeout (a browser reconnects elsewhere).
    pub stopping: GracefulShutdownSignal,
}
