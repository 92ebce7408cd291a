//! What every request handler can reach, built once by `startup`. Kept apart from `startup` so
//! that the routes import state, not the code that assembles the server.

use actix::Addr;

use crate::auth::TokenPolicy;
use crate::peers::Peers;
use crate::registry::Registry;

/// The registry's shared state.
pub struct AppState {
    pub registry: Addr<Registry>,
    pub tokens: TokenPolicy,
    pub peers: Peers,
}
