//! What every request handler can reach, built once by `startup` and shared by the routes. Kept
//! apart from `startup` so that the routes import state, not the code that assembles the service.

use std::sync::Arc;

use actix::{Addr, Recipient};
use kafka_core::{Outbox, Publish};

use crate::events::EventHub;
use crate::session::{HttpSessions, SessionConfig};
use crate::storage::Storage;
use crate::supervisor::RecordingSupervisor;

/// What every request handler can reach.
pub struct AppState {
    pub storage: Storage,
    pub supervisor: Addr<RecordingSupervisor>,
    pub session: Arc<SessionConfig>,
    /// Recordings driven over HTTP by the original gateway, by its `sessionId`.
    pub http_sessions: HttpSessions,
    pub outbox: Outbox,
    pub publisher: Recipient<Publish>,
    pub hub: Addr<EventHub>,
}
