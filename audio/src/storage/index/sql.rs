//! The recording index in SQL, through `sqlx`'s `Any` driver: one code path for SQLite and
//! PostgreSQL. The statements and the migrations (`audio/migrations/`) keep to SQL both engines
//! take; parameters are written `$1`, `$2`, … which both accept.
//!
//! The rest of the storage code is blocking (files, fsync), and runs off the arbiters. The
//! index keeps a small runtime of its own and blocks on it, so that its connections are driven
//! by threads that are always there, whichever arbiter or blocking thread asks.

use std::future::Future;
use std::io;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Connection, Row};

use kafka_core::{OutboxEntry, OutboxStore};
use uuid::Uuid;

use super::{Page, RecordingIndex, RecordingQuery};
use crate::domain::RecordingId;
use crate::storage::{Processing, RecordingMeta, RecordingState};

const COLUMNS: &str = "id, session_id, file_name, meta_id, user_id, mime_type, status, ended_as, \
     size, chunks, created_at, updated_at, completed_at, resume_token_sha256, duration_ms, codec, \
     sample_rate, channels, sha256, processed_at, note, key_file_name, key_meta_id, key_user_id";

/// The statements made of [`COLUMNS`], assembled once: inserting a record, reading one, and
/// the start of a conditional update (`… WHERE id = $1 AND status IN (`).
struct Statements {
    columns: usize,
    insert: String,
    insert_if_absent: String,
    select_one: String,
    update_where_status_in: String,
}

static STATEMENTS: LazyLock<Statements> = LazyLock::new(|| {
    let names: Vec<&str> = COLUMNS.split(", ").collect();
    let insert = format!(
        "INSERT INTO recordings ({COLUMNS}) VALUES ({})",
        placeholders(1, names.len())
    );
    let assignments = names[1..]
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = ${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ");
    Statements {
        columns: names.len(),
        insert_if_absent: format!("{insert} ON CONFLICT (id) DO NOTHING"),
        insert,
        select_one: format!("SELECT {COLUMNS} FROM recordings WHERE id = $1"),
        update_where_status_in: format!(
            "UPDATE recordings SET {assignments} WHERE id = $1 AND status IN ("
        ),
    }
});

/// A statement assembled from this module's constants and placeholders only (never from
/// anything a client sent: values always travel as bound parameters).
fn statement(sql: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.to_owned())
}

/// `$1, $2, …, $n`.
fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds a record's columns in the order of [`COLUMNS`].
macro_rules! bind_meta {
    ($query:expr, $meta:expr) => {{
        let meta: &RecordingMeta = $meta;
        $query
            .bind(meta.id.to_string())
            .bind(meta.session_id.clone())
            .bind(meta.file_name.clone())
            .bind(meta.meta_id.clone())
            .bind(meta.user_id.clone())
            .bind(meta.mime_type.clone())
            .bind(meta.status.as_str())
            .bind(meta.ended_as.map(|s| s.as_str()))
            .bind(meta.size as i64)
            .bind(meta.chunks as i64)
            .bind(meta.created_at.timestamp_micros())
            .bind(meta.updated_at.timestamp_micros())
            .bind(meta.completed_at.map(|t| t.timestamp_micros()))
            .bind(meta.resume_token_sha256.clone())
            .bind(meta.processing.duration_ms)
            .bind(meta.processing.codec.clone())
            .bind(meta.processing.sample_rate)
            .bind(meta.processing.channels.map(|c| c as i64))
            .bind(meta.processing.sha256.clone())
            .bind(meta.processing.processed_at.map(|t| t.timestamp_micros()))
            .bind(meta.processing.note.clone())
            .bind(search_key(&meta.file_name))
            .bind(meta.meta_id.as_deref().map(search_key))
            .bind(meta.user_id.as_deref().map(search_key))
    }};
}

/// Why the index could not be opened; one clear line each, for the service to stop with.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot start the recording index's runtime: {0}")]
    Runtime(io::Error),
    #[error("cannot connect to the recording index at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot bring the recording index at {url} up to date: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
}

pub struct SqlIndex {
    pool: AnyPool,
    /// Dropped without waiting (see `Drop`); `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
}

impl SqlIndex {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and applies the migrations. Blocking.
    pub fn open(url: &str) -> Result<Self, OpenError> {
        sqlx::any::install_default_drivers();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("recording-index")
            .enable_all()
            .build()
            .map_err(OpenError::Runtime)?;
        let sqlite = url.starts_with("sqlite:");
        let shown = redact(url);
        let pool = runtime.block_on(async {
            // Instances starting together on one fresh SQLite file race to create it and to
            // switch it to WAL, and the loser is told `database is locked` (SQLite's busy
            // handler does not cover that switch): a moment later the winner is done, and a
            // second try goes through.
            let mut tries = 0;
            let pool = loop {
                match connect_pool(url, sqlite).await {
                    Ok(pool) => break pool,
                    Err(source) if sqlite && tries < 5 && is_locked(&source) => {
                        tries += 1;
                        log::info!("recording index: opening, try {tries} found it locked; again");
                        tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
                    }
                    Err(source) => {
                        return Err(OpenError::Connect {
                            url: shown.clone(),
                            source,
                        })
                    }
                }
            };
            // Instances starting together on one index race to apply the same migration; on
            // SQLite nothing keeps them apart, and the loser fails (`duplicate column`). A
            // moment later the winner has applied it, and a second look finds nothing to do.
            let migrator = sqlx::migrate!("./migrations");
            let mut tries = 0;
            loop {
                match migrator.run(&pool).await {
                    Ok(()) => break,
                    Err(source) if tries >= 5 => {
                        return Err(OpenError::Migrate {
                            url: shown.clone(),
                            source,
                        })
                    }
                    Err(err) => {
                        tries += 1;
                        log::info!("recording index: migrating, try {tries} failed ({err}); again");
                        tokio::time::sleep(std::time::Duration::from_millis(200 * tries)).await;
                    }
                }
            }
            Ok::<_, OpenError>(pool)
        })?;
        log::info!("recording index: {shown}");
        let index = Self {
            pool,
            runtime: Some(runtime),
        };
        match index.fill_search_keys() {
            Ok(0) => {}
            Ok(filled) => {
                log::info!("recording index: search keys written for {filled} recordings")
            }
            Err(err) => {
                log::warn!("{err}; searches may miss older recordings until the next start")
            }
        }
        Ok(index)
    }

    fn run<F: Future>(&self, work: F) -> F::Output {
        match &self.runtime {
            Some(runtime) => runtime.block_on(work),
            None => unreachable!("the runtime goes only when the index is dropped"),
        }
    }
}

impl Drop for SqlIndex {
    fn drop(&mut self) {
        // The last owner may be an async thread, where waiting for a runtime is not allowed.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// An index error in words. A unique violation (a file name another recording holds) is
/// `AlreadyExists`, so that the one who asked can choose another name; a database that cannot
/// be reached is `NotConnected`, so that a request gets a 503 to try again.
fn failed(doing: &str) -> impl Fn(sqlx::Error) -> io::Error + '_ {
    move |err| {
        let kind = match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => io::ErrorKind::AlreadyExists,
            // The database cannot be reached (restarting, or the network): try again later.
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                io::ErrorKind::NotConnected
            }
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, format!("recording index: {doing}: {err}"))
    }
}

fn bad_row(what: &str, value: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("recording index: a stored {what} is not valid: {value:?}"),
    )
}

fn time(micros: i64) -> io::Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| bad_row("time", &micros.to_string()))
}

fn state(raw: &str) -> io::Result<RecordingState> {
    RecordingState::parse(raw).ok_or_else(|| bad_row("status", raw))
}

fn meta_of(row: &AnyRow) -> io::Result<RecordingMeta> {
    let get = failed("reading a record");
    let id: String = row.try_get("id").map_err(&get)?;
    let status: String = row.try_get("status").map_err(&get)?;
    let ended_as: Option<String> = row.try_get("ended_as").map_err(&get)?;
    let completed_at: Option<i64> = row.try_get("completed_at").map_err(&get)?;
    let processed_at: Option<i64> = row.try_get("processed_at").map_err(&get)?;
    let channels: Option<i64> = row.try_get("channels").map_err(&get)?;
    Ok(RecordingMeta {
        id: id.parse().map_err(|_| bad_row("id", &id))?,
        session_id: row.try_get("session_id").map_err(&get)?,
        file_name: row.try_get("file_name").map_err(&get)?,
        meta_id: row.try_get("meta_id").map_err(&get)?,
        user_id: row.try_get("user_id").map_err(&get)?,
        mime_type: row.try_get("mime_type").map_err(&get)?,
        status: state(&status)?,
        ended_as: ended_as.as_deref().map(state).transpose()?,
        size: row.try_get::<i64, _>("size").map_err(&get)?.max(0) as u64,
        chunks: row.try_get::<i64, _>("chunks").map_err(&get)?.max(0) as u64,
        created_at: time(row.try_get("created_at").map_err(&get)?)?,
        updated_at: time(row.try_get("updated_at").map_err(&get)?)?,
        completed_at: completed_at.map(time).transpose()?,
        resume_token_sha256: row.try_get("resume_token_sha256").map_err(&get)?,
        processing: Processing {
            duration_ms: row.try_get("duration_ms").map_err(&get)?,
            codec: row.try_get("codec").map_err(&get)?,
            sample_rate: row.try_get("sample_rate").map_err(&get)?,
            channels: channels.map(|c| c.max(0) as u64),
            sha256: row.try_get("sha256").map_err(&get)?,
            processed_at: processed_at.map(time).transpose()?,
            note: row.try_get("note").map_err(&get)?,
        },
    })
}

/// Moves the kept number of recordings by `by`, inside the transaction that adds or removes
/// them.
async fn count_change(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    by: i64,
) -> Result<(), sqlx::Error> {
    if by != 0 {
        sqlx::query("UPDATE recording_count SET n = n + $1 WHERE id = 1")
            .bind(by)
            .execute(&mut **transaction)
            .await?;
    }
    Ok(())
}

const OUTBOX_COLUMNS: &str =
    "id, topic, event_key, event_type, schema_version, payload, created_at";

/// Puts an outbox entry in, inside a transaction (an entry already there stays as it is).
async fn insert_entry(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    entry: &OutboxEntry,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (id, topic, event_key, event_type, schema_version, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind(entry.id.to_string())
    .bind(entry.topic.clone())
    .bind(entry.key.clone())
    .bind(entry.event_type.clone())
    .bind(i64::from(entry.schema_version))
    .bind(entry.payload.to_string())
    .bind(entry.created_at.timestamp_micros())
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

fn entry_of(row: &AnyRow) -> io::Result<OutboxEntry> {
    let get = failed("reading an outbox entry");
    let id: String = row.try_get("id").map_err(&get)?;
    let payload: String = row.try_get("payload").map_err(&get)?;
    let version: i64 = row.try_get("schema_version").map_err(&get)?;
    Ok(OutboxEntry {
        id: id.parse().map_err(|_| bad_row("event id", &id))?,
        topic: row.try_get("topic").map_err(&get)?,
        key: row.try_get("event_key").map_err(&get)?,
        event_type: row.try_get("event_type").map_err(&get)?,
        schema_version: u32::try_from(version)
            .map_err(|_| bad_row("schema version", &version.to_string()))?,
        payload: serde_json::from_str(&payload).map_err(|_| bad_row("payload", &payload))?,
        created_at: time(row.try_get("created_at").map_err(&get)?)?,
    })
}

/// The outbox is a table of the index's database: the index writes a recording's completion
/// event in the transaction that ends it, and the bus relays from here.
impl OutboxStore for SqlIndex {
    fn append(&self, entry: &OutboxEntry) -> io::Result<()> {
        self.run(async {
            let mut transaction = self.pool.begin().await?;
            insert_entry(&mut transaction, entry).await?;
            transaction.commit().await
        })
        .map_err(failed("writing an event to the outbox"))
    }

    /// Called on the producer's arbiter, which must not wait: the delete runs on the index's
    /// own threads. Lost (a crash first), the entry is only delivered again.
    fn remove(&self, id: Uuid) -> io::Result<()> {
        let pool = self.pool.clone();
        let work = async move {
            let deleted = sqlx::query("DELETE FROM outbox WHERE id = $1")
                .bind(id.to_string())
                .execute(&pool)
                .await;
            if let Err(err) = deleted {
                log::warn!("event {id} delivered, not removed from the outbox yet: {err}");
            }
        };
        match &self.runtime {
            Some(runtime) => {
                runtime.spawn(work);
                Ok(())
            }
            None => Err(io::Error::other("the recording index is closing")),
        }
    }

    fn waiting(&self) -> io::Result<usize> {
        let row = self
            .run(sqlx::query("SELECT COUNT(*) AS n FROM outbox").fetch_one(&self.pool))
            .map_err(failed("counting the outbox"))?;
        let n: i64 = row.try_get("n").map_err(failed("counting the outbox"))?;
        Ok(n.max(0) as usize)
    }

    fn pending(&self) -> io::Result<Vec<OutboxEntry>> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY created_at, id");
        let rows = self
            .run(sqlx::query(statement(&sql)).fetch_all(&self.pool))
            .map_err(failed("reading the outbox"))?;
        rows.iter().map(entry_of).collect()
    }
}

/// What a search compares: the text lower-cased, as bytes (UTF-8 orders as its code points).
fn search_key(text: &str) -> Vec<u8> {
    text.to_lowercase().into_bytes()
}

/// `q` as a range of search keys: every key that starts with it, and no other.
fn prefix_range(search: &str) -> (Vec<u8>, Vec<u8>) {
    let from = search_key(search.trim());
    // The first key past every one that starts with `from`: its last byte below 0xff, one up,
    // the rest dropped. (A prefix of 0xff bytes only cannot occur: they are not UTF-8.)
    let mut to = from.clone();
    while to.last() == Some(&0xff) {
        to.pop();
    }
    match to.last_mut() {
        Some(last) => *last += 1,
        None => to = vec![0xff; from.len() + 1],
    }
    (from, to)
}

impl SqlIndex {
    /// Gives rows written before the search keys existed their keys, a thousand a transaction.
    fn fill_search_keys(&self) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            let rows = self
                .run(
                    sqlx::query(
                        "SELECT id, file_name, meta_id, user_id FROM recordings \
                         WHERE key_file_name IS NULL LIMIT 1000",
                    )
                    .fetch_all(&self.pool),
                )
                .map_err(failed("reading rows without search keys"))?;
            if rows.is_empty() {
                return Ok(filled);
            }
            self.run(async {
                let mut transaction = self.pool.begin().await?;
                for row in &rows {
                    let file_name: String = row.try_get("file_name")?;
                    let meta_id: Option<String> = row.try_get("meta_id")?;
                    let user_id: Option<String> = row.try_get("user_id")?;
                    sqlx::query(
                        "UPDATE recordings SET key_file_name = $1, key_meta_id = $2, \
                         key_user_id = $3 WHERE id = $4",
                    )
                    .bind(search_key(&file_name))
                    .bind(meta_id.as_deref().map(search_key))
                    .bind(user_id.as_deref().map(search_key))
                    .bind(row.try_get::<String, _>("id")?)
                    .execute(&mut *transaction)
                    .await?;
                }
                transaction.commit().await
            })
            .map_err(failed("writing search keys"))?;
            filled += rows.len();
            // A million takes a minute or two: say how far it is.
            if filled % 100_000 == 0 {
                log::info!("recording index: search keys written for {filled} recordings so far");
            }
        }
    }
}

impl RecordingIndex for SqlIndex {
    fn insert(&self, meta: &RecordingMeta) -> io::Result<()> {
        self.run(async {
            let mut transaction = self.pool.begin().await?;
            bind_meta!(sqlx::query(statement(&STATEMENTS.insert)), meta)
                .execute(&mut *transaction)
                .await?;
            count_change(&mut transaction, 1).await?;
            transaction.commit().await
        })
        .map_err(failed("adding a recording"))
    }

    fn insert_if_absent(&self, metas: &[RecordingMeta]) -> io::Result<usize> {
        self.run(async {
            let mut transaction = self.pool.begin().await?;
            let mut added = 0;
            for meta in metas {
                let done = bind_meta!(sqlx::query(statement(&STATEMENTS.insert_if_absent)), meta)
                    .execute(&mut *transaction)
                    .await?;
                added += done.rows_affected() as usize;
            }
            count_change(&mut transaction, added as i64).await?;
            transaction.commit().await?;
            Ok(added)
        })
        .map_err(failed("importing recordings"))
    }

    fn get(&self, id: RecordingId) -> io::Result<Option<RecordingMeta>> {
        let row = self
            .run(
                sqlx::query(statement(&STATEMENTS.select_one))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool),
            )
            .map_err(failed("reading a recording"))?;
        row.as_ref().map(meta_of).transpose()
    }

    fn update_if(
        &self,
        meta: &RecordingMeta,
        expected: &[RecordingState],
        announce: Option<&OutboxEntry>,
    ) -> io::Result<bool> {
        let sql = format!(
            "{}{})",
            STATEMENTS.update_where_status_in,
            placeholders(STATEMENTS.columns + 1, expected.len().max(1))
        );
        let mut query = bind_meta!(sqlx::query(statement(&sql)), meta);
        for status in expected {
            query = query.bind(status.as_str());
        }
        if expected.is_empty() {
            query = query.bind("");
        }
        self.run(async {
            let mut transaction = self.pool.begin().await?;
            let updated = query.execute(&mut *transaction).await?.rows_affected() > 0;
            if updated {
                if let Some(entry) = announce {
                    insert_entry(&mut transaction, entry).await?;
                }
            }
            transaction.commit().await?;
            Ok(updated)
        })
        .map_err(failed("updating a recording"))
    }

    fn page(&self, query: &RecordingQuery) -> io::Result<Page<RecordingMeta>> {
        let search = query.search.as_deref().map(prefix_range);
        // Parameters in order: the search range ($1, $2) when searching, then the owner.
        let mut conditions = Vec::new();
        let mut next = 1;
        if search.is_some() {
            conditions.push(
                "((key_file_name >= $1 AND key_file_name < $2) \
                 OR (key_meta_id >= $1 AND key_meta_id < $2) \
                 OR (key_user_id >= $1 AND key_user_id < $2))"
                    .to_owned(),
            );
            next = 3;
        }
        if query.owner.is_some() {
            conditions.push(format!("user_id = ${next}"));
            next += 1;
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let first = next;
        // Unfiltered, the total is kept (see `count_change`); filtered, it is counted.
        let count_sql = if conditions.is_empty() {
            "SELECT n AS total FROM recording_count WHERE id = 1".to_owned()
        } else {
            format!("SELECT COUNT(*) AS total FROM recordings {filter}")
        };
        let page_sql = format!(
            "SELECT {COLUMNS} FROM recordings {filter} \
             ORDER BY created_at DESC, id DESC LIMIT ${first} OFFSET ${}",
            first + 1
        );
        let offset = (query.page - 1).saturating_mul(query.limit);
        let (total, rows) = self
            .run(async {
                let mut count = sqlx::query(statement(&count_sql));
                let mut page = sqlx::query(statement(&page_sql));
                if let Some((from, to)) = &search {
                    count = count.bind(from.clone()).bind(to.clone());
                    page = page.bind(from.clone()).bind(to.clone());
                }
                if let Some(owner) = &query.owner {
                    count = count.bind(owner.clone());
                    page = page.bind(owner.clone());
                }
                let total: i64 = count.fetch_one(&self.pool).await?.try_get("total")?;
                let rows = page
                    .bind(query.limit as i64)
                    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await?;
                Ok::<_, sqlx::Error>((total, rows))
            })
            .map_err(failed("listing recordings"))?;
        let total = total.max(0) as usize;
        Ok(Page {
            items: rows.iter().map(meta_of).collect::<io::Result<_>>()?,
            page: query.page,
            limit: query.limit,
            total,
            next_page: (offset.saturating_add(query.limit) < total).then_some(query.page + 1),
        })
    }

    fn delete(&self, id: RecordingId) -> io::Result<bool> {
        self.run(async {
            let mut transaction = self.pool.begin().await?;
            let done = sqlx::query("DELETE FROM recordings WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *transaction)
                .await?;
            let deleted = done.rows_affected() > 0;
            if deleted {
                count_change(&mut transaction, -1).await?;
            }
            transaction.commit().await?;
            Ok(deleted)
        })
        .map_err(failed("deleting a recording"))
    }

    fn finished_file_names(&self, owner: Option<&str>) -> io::Result<Vec<String>> {
        let rows = self
            .run(async {
                match owner {
                    Some(owner) => {
                        sqlx::query(
                            "SELECT file_name FROM recordings WHERE status <> 'recording' \
                             AND user_id = $1 ORDER BY completed_at DESC, id DESC",
                        )
                        .bind(owner.to_owned())
                        .fetch_all(&self.pool)
                        .await
                    }
                    None => {
                        sqlx::query(
                            "SELECT file_name FROM recordings WHERE status <> 'recording' \
                             ORDER BY completed_at DESC, id DESC",
                        )
                        .fetch_all(&self.pool)
                        .await
                    }
                }
            })
            .map_err(failed("listing file names"))?;
        rows.iter()
            .map(|row| row.try_get("file_name"))
            .collect::<Result<_, _>>()
            .map_err(failed("listing file names"))
    }

    fn by_file_name(&self, file_name: &str) -> io::Result<Option<RecordingMeta>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM recordings WHERE file_name = $1 AND status <> 'recording'"
        );
        let row = self
            .run(
                sqlx::query(statement(&sql))
                    .bind(file_name.to_owned())
                    .fetch_optional(&self.pool),
            )
            .map_err(failed("finding a recording by file name"))?;
        row.as_ref().map(meta_of).transpose()
    }

    fn hold(
        &self,
        id: RecordingId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        durable: Option<(u64, u64)>,
    ) -> io::Result<Option<(u64, u64)>> {
        let (bytes, chunks) = durable.map_or((-1, -1), |(b, c)| (b as i64, c as i64));
        // A durable point of -1 leaves it as it is. The durable point comes back with the
        // update (both engines take RETURNING), so a takeover needs no second read.
        let query = sqlx::query(
            "UPDATE recordings SET owner = $1, lease_until = $2, \
             durable_bytes = CASE WHEN $3 >= 0 THEN $3 ELSE durable_bytes END, \
             durable_chunks = CASE WHEN $4 >= 0 THEN $4 ELSE durable_chunks END \
             WHERE id = $5 AND status = 'recording' \
             AND (owner IS NULL OR owner = $1 OR lease_until IS NULL OR lease_until < $6) \
             RETURNING durable_bytes, durable_chunks",
        )
        .bind(owner.to_owned())
        .bind(until.timestamp_micros())
        .bind(bytes)
        .bind(chunks)
        .bind(id.to_string())
        .bind(now.timestamp_micros());
        let row = self
            .run(query.fetch_optional(&self.pool))
            .map_err(failed("holding a recording"))?;
        row.map(|row| {
            let get = |column| {
                row.try_get::<i64, _>(column)
                    .map(|n| n.max(0) as u64)
                    .map_err(failed("holding a recording"))
            };
            Ok((get("durable_bytes")?, get("durable_chunks")?))
        })
        .transpose()
    }

    fn expired_leases(&self, before: DateTime<Utc>, limit: usize) -> io::Result<Vec<RecordingId>> {
        let rows = self
            .run(
                sqlx::query(
                    "SELECT id FROM recordings WHERE status = 'recording' \
                     AND lease_until < $1 ORDER BY lease_until LIMIT $2",
                )
                .bind(before.timestamp_micros())
                .bind(limit as i64)
                .fetch_all(&self.pool),
            )
            .map_err(failed("finding expired leases"))?;
        rows.iter()
            .map(|row| {
                let id: String = row
                    .try_get("id")
                    .map_err(failed("finding expired leases"))?;
                id.parse().map_err(|_| bad_row("id", &id))
            })
            .collect()
    }
}

/// A database URL fit for logs and errors: its password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// A pool on the index at `url` (SQLite: one connection, in WAL mode). One connection is made
/// first, so that a wrong URL or an unreachable server is refused with its own reason (a pool
/// would only say it timed out).
async fn connect_pool(url: &str, sqlite: bool) -> Result<sqlx::AnyPool, sqlx::Error> {
    sqlx::AnyConnection::connect(url).await?.close().await.ok();
    let pool = AnyPoolOptions::new()
        // SQLite takes one writer at a time: more connections only wait on its lock (its busy
        // handler sleeps and retries). With four, 5,000 sessions starting through the gateway
        // had a p99 ack latency of 77 ms; with one, 49 and 18 ms.
        .max_connections(if sqlite { 1 } else { 16 })
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await?;
    if sqlite {
        // Readers go on while a writer commits; the journal mode stays with the file.
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await?;
    }
    Ok(pool)
}

/// SQLite's `SQLITE_BUSY` (5): another connection holds the lock.
fn is_locked(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|err| err.code())
        .is_some_and(|code| code == "5")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("postgres://audio:s3cret@db:5432/audio"),
            "postgres://audio:***@db:5432/audio"
        );
        assert_eq!(
            redact("sqlite:///data/audio.db?mode=rwc"),
            "sqlite:///data/audio.db?mode=rwc"
        );
    }

    #[test]
    fn a_prefix_is_a_range_of_keys() {
        assert_eq!(
            prefix_range(" Lec_1 "),
            (b"lec_1".to_vec(), b"lec_2".to_vec())
        );
        let (from, to) = prefix_range("É");
        assert_eq!(from, "é".as_bytes());
        assert!(to.as_slice() > "éz".as_bytes() && to.as_slice() > "é\u{10ffff}".as_bytes());
        assert!(to.as_slice() <= "ê".as_bytes());
    }
}
