//! The recording index: one record per recording (its names, status, sizes and what
//! post-processing found), kept in a database so that every instance sharing it sees the same
//! list. [`SqlIndex`] is the implementation: SQLite in the data folder by default,
//! PostgreSQL when several hosts share one (`AUDIO_DATABASE_URL`).
//!
//! Every call blocks; call them off the arbiters (`web::block`, `spawn_blocking`, a
//! `SyncArbiter`), as every other storage call.

mod import;
mod sql;

use std::io;

use serde::Serialize;

pub use import::{import_meta_folder, import_outbox_folder};
pub use sql::{redact, SqlIndex};

use kafka_core::OutboxEntry;

use super::{RecordingMeta, RecordingState};
use crate::domain::RecordingId;

/// A page request: 1-based page number, page size, an optional case-insensitive filter on
/// file name, metaId and userId, and whose recordings (`owner`: one user's only; `None`: all).
#[derive(Debug, Clone)]
pub struct RecordingQuery {
    pub page: usize,
    pub limit: usize,
    pub search: Option<String>,
    pub owner: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: usize,
    pub limit: usize,
    pub total: usize,
    pub next_page: Option<usize>,
}

/// Where recordings' records are kept. A second implementation is real (a different database
/// engine, a service in front of one), so the rest of the service sees only this.
pub trait RecordingIndex: Send + Sync + 'static {
    /// Adds a new recording's record.
    fn insert(&self, meta: &RecordingMeta) -> io::Result<()>;

    /// Adds the records whose ids it does not hold yet, in one transaction (importing);
    /// answers how many were added.
    fn insert_if_absent(&self, metas: &[RecordingMeta]) -> io::Result<usize>;

    fn get(&self, id: RecordingId) -> io::Result<Option<RecordingMeta>>;

    /// Replaces the record of `meta.id` if its stored status is one of `expected`, and then
    /// puts `announce` in the outbox in the same transaction; answers whether it did. This is
    /// what makes one of two instances finishing (or processing) the same recording at once win
    /// and the other see it lost, and what makes a recording's end and its event one change.
    /// A file name that another ended recording holds is an `AlreadyExists` error.
    fn update_if(
        &self,
        meta: &RecordingMeta,
        expected: &[RecordingState],
        announce: Option<&OutboxEntry>,
    ) -> io::Result<bool>;

    /// A page of recordings, newest first.
    fn page(&self, query: &RecordingQuery) -> io::Result<Page<RecordingMeta>>;

    /// Removes a record; answers whether there was one.
    fn delete(&self, id: RecordingId) -> io::Result<bool>;

    /// The file names of finished recordings (any status but `recording`), newest first: the
    /// original's `/api/files`; only `owner`'s when given.
    fn finished_file_names(&self, owner: Option<&str>) -> io::Result<Vec<String>>;

    /// The finished recording stored under `file_name` (names are unique among them).
    fn by_file_name(&self, file_name: &str) -> io::Result<Option<RecordingMeta>>;

    /// Takes or renews the lease on a recording in progress for `owner` until `until`, and
    /// with `durable` moves its durable point: only if it is still `recording` and nobody else
    /// holds an unexpired lease (`now` decides). Answers the recording's durable point after
    /// it, (bytes, chunks), or `None` when it did not hold it.
    fn hold(
        &self,
        id: RecordingId,
        owner: &str,
        now: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
        durable: Option<(u64, u64)>,
    ) -> io::Result<Option<(u64, u64)>>;

    /// Recordings in progress whose lease ran out before `before`, oldest first, at most
    /// `limit`: their holder is gone.
    fn expired_leases(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> io::Result<Vec<RecordingId>>;
}
