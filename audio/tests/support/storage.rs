//! Where a test's audio service keeps its recordings' index and its finished recordings, and
//! how a test looks at what it stored there.
//!
//! The suites run once on the embedded defaults (SQLite and the data folder) and once on
//! PostgreSQL and S3: for the second run `scripts/test` sets `AUDIO_TEST_DATABASE_URL` (a
//! running PostgreSQL's `postgres` database) and `AUDIO_TEST_RECORDINGS_URL` (`s3://<bucket>`,
//! with the `AWS_*` variables). Each service then gets a fresh database and a bucket prefix of
//! its own, and flushes its recordings in progress to the bucket every 200 ms.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use audio::domain::{FileName, RecordingId};
use audio::storage::Blobs;
use serde_json::{json, Value};

#[path = "postgres.rs"]
mod postgres;

/// How often recordings in progress are flushed to the shared store in the tests.
pub const SEGMENT_INTERVAL_MS: u64 = 200;

/// One service's (or one data folder's) index and recordings' store.
pub struct TestStorage {
    data: PathBuf,
    /// The index's database when it is not the embedded SQLite in the data folder.
    pub database_url: Option<String>,
    /// The recordings' store when it is not the data folder's `recordings/`.
    pub recordings_url: Option<String>,
    /// The same store, opened by the test to look at what the service stored.
    blobs: Blobs,
}

impl TestStorage {
    /// The engines this run tests on, fresh, for a service whose data folder is `data`.
    pub async fn for_data_dir(data: &Path) -> Self {
        let (database_url, recordings_url) = (test_database().await, test_recordings());
        let blobs = {
            let (dir, url) = (data.to_owned(), recordings_url.clone());
            tokio::task::spawn_blocking(move || {
                Blobs::open(&dir, url.as_deref()).expect("the recordings' store")
            })
            .await
            .unwrap()
        };
        Self {
            data: data.to_owned(),
            database_url,
            recordings_url,
            blobs,
        }
    }

    /// The service's data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Points an in-process service's settings at these engines.
    pub fn apply(&self, settings: &mut audio::Settings) {
        settings.storage.database_url = self.database_url.clone();
        settings.storage.recordings_url = self.recordings_url.clone();
        // Flushes to the shared store during the tests' recordings, not after them.
        settings.storage.segment_interval = Duration::from_millis(SEGMENT_INTERVAL_MS);
    }

    /// Points an `audio` process at these engines (and at nothing the developer's own
    /// environment names).
    pub fn apply_to_process(&self, command: &mut Command) {
        for (name, value) in [
            ("AUDIO_DATABASE_URL", &self.database_url),
            ("AUDIO_RECORDINGS_URL", &self.recordings_url),
        ] {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command.env("AUDIO_SEGMENT_INTERVAL_MS", SEGMENT_INTERVAL_MS.to_string());
    }

    /// The index, opened by the test (the service may be stopped or killed).
    async fn index(&self) -> sqlx::AnyConnection {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data.join("audio.db").display()),
        };
        sqlx::AnyConnection::connect(&url)
            .await
            .expect("the test opens the service's index")
    }

    /// How many events wait in the index's outbox table.
    pub async fn outbox_entries(&self) -> i64 {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) AS n FROM outbox")
            .fetch_one(&mut self.index().await)
            .await
            .unwrap()
            .get("n")
    }

    /// A recording's record as the service left it in the index.
    pub async fn record(&self, id: &str) -> Value {
        use sqlx::Row;
        let row = sqlx::query(
            "SELECT status, ended_as, chunks, size, file_name, note FROM recordings WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut self.index().await)
        .await
        .unwrap();
        json!({
            "status": row.get::<String, _>("status"),
            "endedAs": row.get::<Option<String>, _>("ended_as"),
            "chunks": row.get::<i64, _>("chunks"),
            "size": row.get::<i64, _>("size"),
            "fileName": row.get::<String, _>("file_name"),
            "note": row.get::<Option<String>, _>("note"),
        })
    }

    /// Runs `look` on the test's own handle on the store, off the test's runtime (the store's
    /// calls block).
    async fn on_store<T: Send + 'static>(
        &self,
        look: impl FnOnce(&Blobs) -> T + Send + 'static,
    ) -> T {
        let blobs = self.blobs.clone();
        tokio::task::spawn_blocking(move || look(&blobs))
            .await
            .unwrap()
    }

    /// A stored recording's bytes, read from the store; `None` when there is no such object.
    pub async fn stored(&self, name: &str) -> Option<Vec<u8>> {
        let name = FileName::parse(name).unwrap();
        self.on_store(move |blobs| blobs.read(&name).unwrap()).await
    }

    /// The bytes post-processing kept of recording `id` (stored as `name`) before it replaced
    /// them, or `None`.
    pub async fn original(&self, name: &str, id: &str) -> Option<Vec<u8>> {
        let (name, id) = (
            FileName::parse(name).unwrap(),
            id.parse::<RecordingId>().unwrap(),
        );
        self.on_store(move |blobs| blobs.read_original(&name, id).unwrap())
            .await
    }

    /// How many segments of recording `id` the store holds.
    pub async fn segments(&self, id: &str) -> usize {
        let id = id.parse::<RecordingId>().unwrap();
        self.on_store(move |blobs| audio::storage::segments::count(blobs, id).unwrap())
            .await
    }

    /// The names of the objects in the recordings' store.
    pub async fn names(&self) -> Vec<String> {
        self.on_store(|blobs| blobs.list_names().unwrap()).await
    }
}

/// A fresh database on the PostgreSQL that `AUDIO_TEST_DATABASE_URL` names, or `None` (the
/// embedded SQLite) when it is not set.
pub async fn test_database() -> Option<String> {
    let admin = std::env::var("AUDIO_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())?;
    Some(postgres::create_database(&admin, "audio_test").await)
}

/// A prefix of its own in the bucket `AUDIO_TEST_RECORDINGS_URL` names, or `None` (the data
/// folder) when it is not set.
pub fn test_recordings() -> Option<String> {
    let bucket = std::env::var("AUDIO_TEST_RECORDINGS_URL")
        .ok()
        .filter(|url| !url.is_empty())?;
    Some(format!(
        "{}/{}",
        bucket.trim_end_matches('/'),
        uuid::Uuid::new_v4().simple()
    ))
}
