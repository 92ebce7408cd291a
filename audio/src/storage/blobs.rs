//! Where finished recordings' bytes are kept: an object store, through the `object_store`
//! crate's one interface. The data folder's `recordings/` by default; any S3-compatible store
//! with `AUDIO_RECORDINGS_URL=s3://bucket/prefix` and the standard `AWS_*` variables (endpoint,
//! keys, region, `AWS_ALLOW_HTTP`), so that several hosts share one set of recordings.
//!
//! Object names are file names (parsed [`FileName`]s, never raw client strings); a recording
//! that post-processing repaired keeps its original bytes as `originals/<recordingId>.<ext>`.
//!
//! The store's I/O runs on a runtime of its own: blocking callers (finishing, post-processing,
//! the sweep) wait on it, async callers (downloads) await a task on it, so no connection is tied
//! to an arbiter.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{
    BackoffConfig, GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig,
};
use tokio::io::AsyncWriteExt;

use super::atomic::{sync_dir, write_atomically};
use crate::domain::{FileName, RecordingId};

/// A finished recording's object, as a download needs it.
#[derive(Debug, Clone)]
pub struct BlobMeta {
    pub size: u64,
    /// The store's entity tag, as it gave it (S3 quotes it, the local folder does not).
    pub etag: Option<String>,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

/// The bytes of one object (or a range of it), as a stream of chunks read from the store.
pub type BlobStream = futures_util::stream::BoxStream<'static, io::Result<Bytes>>;

/// The recordings' object store.
#[derive(Clone)]
pub struct Blobs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ObjectStore>,
    kind: Kind,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last owner may be an async thread, where waiting for a runtime is not allowed.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Inner {
    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the store")
    }
}

enum Kind {
    /// `<data>/recordings`, and `<data>/originals` beside it.
    Local {
        recordings: PathBuf,
        originals: PathBuf,
    },
    /// `s3://bucket/prefix`, as configured.
    Remote { url: String },
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs")
            .field("at", &self.describe())
            .finish_non_exhaustive()
    }
}

impl Blobs {
    /// The data folder's `recordings/` (created when missing), or the store at `url`. A remote
    /// store is checked at once (its bucket listed), so a wrong bucket, endpoint or key stops
    /// the service at start with one clear error rather than at the first finished recording.
    /// Blocking.
    pub fn open(data_root: &Path, url: Option<&str>) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("object-store")
            .enable_all()
            .build()?;
        let (store, kind): (Arc<dyn ObjectStore>, Kind) = match url {
            None => {
                let recordings = data_root.join("recordings");
                std::fs::create_dir_all(&recordings)?;
                let store = LocalFileSystem::new_with_prefix(&recordings)
                    .map_err(io::Error::other)?
                    .with_automatic_cleanup(false);
                (
                    Arc::new(store),
                    Kind::Local {
                        recordings,
                        originals: data_root.join("originals"),
                    },
                )
            }
            Some(url) => (
                remote_store(url)?,
                Kind::Remote {
                    url: url.trim_end_matches('/').to_owned(),
                },
            ),
        };
        let blobs = Self {
            inner: Arc::new(Inner {
                store,
                kind,
                runtime: Some(runtime),
            }),
        };
        if matches!(blobs.inner.kind, Kind::Remote { .. }) {
            let store = blobs.inner.store.clone();
            blobs
                .block_on(async move {
                    store.list_with_delimiter(None).await?;
                    Ok::<_, object_store::Error>(())
                })
                .map_err(|err| {
                    io::Error::other(format!(
                        "the recordings' store {} cannot be listed: {}",
                        blobs.describe(),
                        one_line(&err)
                    ))
                })?;
        }
        Ok(blobs)
    }

    /// Where the recordings are: a folder, or `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match &self.inner.kind {
            Kind::Local { recordings, .. } => recordings.display().to_string(),
            Kind::Remote { url } => url.clone(),
        }
    }

    /// Whether the recordings are on another machine: then a recording's end uploads it, and
    /// an upload that fails leaves it `storing` until the store is back.
    pub fn is_remote(&self) -> bool {
        matches!(self.inner.kind, Kind::Remote { .. })
    }

    /// Where one recording is, for events' `filePath`.
    pub fn location(&self, name: &FileName) -> String {
        match &self.inner.kind {
            Kind::Local { recordings, .. } => recordings.join(name.as_str()).display().to_string(),
            Kind::Remote { url } => format!("{url}/{}", name.as_str()),
        }
    }

    /// Stores the finished file `part` as `name`. In the local folder it is hard-linked, which
    /// never replaces another recording's file (an earlier, interrupted attempt's link to the
    /// same file is reused). Remotely it is streamed up (multipart when large); the index has
    /// already given `name` to this recording alone, so writing it again after a crash is
    /// harmless. Blocking.
    pub fn store_file(&self, name: &FileName, part: &Path) -> io::Result<()> {
        match &self.inner.kind {
            Kind::Local { recordings, .. } => {
                let target = recordings.join(name.as_str());
                match std::fs::hard_link(part, &target) {
                    Ok(()) => {}
                    Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                        if !same_file(part, &target)? {
                            return Err(err);
                        }
                    }
                    Err(err) => return Err(err),
                }
                sync_dir(recordings)
            }
            Kind::Remote { .. } => {
                let store = self.inner.store.clone();
                let (location, part) = (object_path(name), part.to_owned());
                self.block_on(async move {
                    let mut file = tokio::fs::File::open(&part).await?;
                    let mut upload = BufWriter::with_capacity(store, location, 8 << 20);
                    match tokio::io::copy(&mut file, &mut upload).await {
                        Ok(_) => upload.shutdown().await,
                        Err(err) => {
                            let _ = upload.abort().await;
                            Err(err)
                        }
                    }
                })
            }
        }
    }

    /// Whether the local folder already holds a file by this name (another recording's).
    /// Remotely names are given out by the index, so this is always false there.
    pub fn local_name_taken(&self, name: &FileName) -> bool {
        match &self.inner.kind {
            Kind::Local { recordings, .. } => recordings.join(name.as_str()).exists(),
            Kind::Remote { .. } => false,
        }
    }

    /// A whole recording, or `None` when there is no such object. Blocking.
    pub fn read(&self, name: &FileName) -> io::Result<Option<Vec<u8>>> {
        self.get_object(name.as_str())
    }

    /// Replaces a recording's bytes (post-processing's result) in one step: readers see the
    /// old bytes or the new ones. Blocking.
    pub fn replace(&self, name: &FileName, bytes: Vec<u8>) -> io::Result<()> {
        match &self.inner.kind {
            Kind::Local { recordings, .. } => {
                write_atomically(&recordings.join(name.as_str()), &bytes)
            }
            // One PUT replaces an object whole.
            Kind::Remote { .. } => self.put_object(name.as_str(), bytes),
        }
    }

    /// Keeps a recording's bytes as they were uploaded, as `originals/<id>.<ext>`, before
    /// post-processing replaces them. Blocking.
    pub fn keep_original(&self, name: &FileName, id: RecordingId) -> io::Result<()> {
        let kept = original_name(name, id);
        match &self.inner.kind {
            Kind::Local {
                recordings,
                originals,
            } => {
                std::fs::create_dir_all(originals)?;
                match std::fs::hard_link(recordings.join(name.as_str()), originals.join(kept)) {
                    Err(err) if err.kind() != io::ErrorKind::AlreadyExists => Err(err),
                    _ => Ok(()),
                }
            }
            Kind::Remote { .. } => {
                let store = self.inner.store.clone();
                let (from, to) = (
                    object_path(name),
                    ObjectPath::from(format!("originals/{kept}")),
                );
                self.block_on(async move { store.copy(&from, &to).await.map_err(io::Error::other) })
            }
        }
    }

    /// The bytes `keep_original` kept of recording `id` stored as `name`, or `None` when none
    /// were kept. Blocking.
    pub fn read_original(&self, name: &FileName, id: RecordingId) -> io::Result<Option<Vec<u8>>> {
        let kept = original_name(name, id);
        match &self.inner.kind {
            Kind::Local { originals, .. } => match std::fs::read(originals.join(kept)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(err) => Err(err),
            },
            Kind::Remote { .. } => self.get_object(&format!("originals/{kept}")),
        }
    }

    /// Removes a recording's object; one that is not there is not an error. Blocking.
    pub fn delete(&self, name: &FileName) -> io::Result<()> {
        let store = self.inner.store.clone();
        let location = object_path(name);
        self.block_on(async move {
            match store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(err) => Err(io::Error::other(err)),
            }
        })
    }

    /// The names of every recording in the store (not the kept originals), in no order.
    /// Blocking.
    pub fn list_names(&self) -> io::Result<Vec<String>> {
        let store = self.inner.store.clone();
        self.block_on(async move {
            let listed = store
                .list_with_delimiter(None)
                .await
                .map_err(io::Error::other)?;
            Ok(listed
                .objects
                .into_iter()
                .filter_map(|object| object.location.filename().map(str::to_owned))
                .filter(|name| FileName::parse(name).is_ok())
                .collect())
        })
    }

    /// Writes an object of the store's own (a segment of a recording in progress), by its path
    /// under the store's root. Blocking.
    pub(super) fn put_object(&self, path: &str, bytes: Vec<u8>) -> io::Result<()> {
        let store = self.inner.store.clone();
        let location = ObjectPath::from(path);
        self.block_on(async move {
            store
                .put(&location, PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(io::Error::other)
        })
    }

    /// An object of the store's own, or `None`. Blocking.
    pub(super) fn get_object(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        let store = self.inner.store.clone();
        let location = ObjectPath::from(path);
        self.block_on(async move {
            match store.get(&location).await {
                Ok(result) => Ok(Some(result.bytes().await?.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(err) => Err(io::Error::other(err)),
            }
        })
    }

    /// The objects under `prefix` whose names are numbers, by number, with their paths.
    /// Blocking.
    pub(super) fn list_objects(&self, prefix: &str) -> io::Result<Vec<(u64, String)>> {
        let store = self.inner.store.clone();
        let location = ObjectPath::from(prefix);
        self.block_on(async move {
            let mut listed = Vec::new();
            let mut objects = store.list(Some(&location));
            while let Some(object) = objects.next().await {
                let object = object.map_err(io::Error::other)?;
                if let Some(number) = object.location.filename().and_then(|n| n.parse().ok()) {
                    listed.push((number, object.location.to_string()));
                }
            }
            listed.sort();
            Ok(listed)
        })
    }

    /// Removes every object under `prefix`, in the background (errors are logged). On S3 the
    /// listed objects go in bulk `DeleteObjects` requests (a thousand keys each) rather than a
    /// request per object: the store's work per finished recording is mostly per request.
    pub(super) fn delete_all_under(&self, prefix: String) {
        let store = self.inner.store.clone();
        self.inner.runtime().spawn(async move {
            let location = ObjectPath::from(prefix.as_str());
            let listed = store
                .list(Some(&location))
                .map(|object| object.map(|object| object.location))
                .boxed();
            let mut deleted = store.delete_stream(listed);
            while let Some(result) = deleted.next().await {
                match result {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(err) => {
                        log::warn!("{prefix}: not removed: {err}");
                        return;
                    }
                }
            }
        });
    }

    /// A recording's size, entity tag and time, or `None` when there is no such object.
    pub async fn head(&self, name: &FileName) -> io::Result<Option<BlobMeta>> {
        let store = self.inner.store.clone();
        let location = object_path(name);
        self.spawn(async move {
            match store.head(&location).await {
                Ok(meta) => Ok(Some(blob_meta(meta))),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(err) => Err(io::Error::other(err)),
            }
        })
        .await
    }

    /// The bytes in `range` of a recording, as long as it is still the object `etag` names
    /// (post-processing may replace it between a `head` and this): `Ok(None)` when it is not,
    /// or is gone. The stream is read from the store as the response is sent, a few chunks
    /// ahead, never the whole object at once.
    pub async fn read_range(
        &self,
        name: &FileName,
        range: Range<u64>,
        etag: Option<String>,
    ) -> io::Result<Option<BlobStream>> {
        let store = self.inner.store.clone();
        let location = object_path(name);
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            if_match: etag,
            ..Default::default()
        };
        let opened = self
            .spawn(async move {
                match store.get_opts(&location, options).await {
                    Ok(result) => Ok(Some(result.into_stream())),
                    Err(
                        object_store::Error::NotFound { .. }
                        | object_store::Error::Precondition { .. },
                    ) => Ok(None),
                    Err(err) => Err(io::Error::other(err)),
                }
            })
            .await?;
        let Some(mut stream) = opened else {
            return Ok(None);
        };
        // The store's stream is polled on the store's runtime; the response reads a channel.
        // A reader that stops reading holds one piece in the channel and the one after it:
        // the store's stream is not polled again until the reader takes more, and its pieces
        // are small (the S3 client's read buffer, `s3_http`; 8 KiB from the local folder).
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(1);
        self.inner.runtime().spawn(async move {
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                if tx.send(item.map_err(io::Error::other)).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Some(
            futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            })
            .boxed(),
        ))
    }

    fn block_on<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.inner.runtime().block_on(work)
    }

    async fn spawn<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = io::Result<T>> + Send + 'static,
    ) -> io::Result<T> {
        self.inner
            .runtime()
            .spawn(work)
            .await
            .map_err(io::Error::other)?
    }
}

/// What `keep_original` keeps recording `id` (stored as `name`) as, under `originals/`.
fn original_name(name: &FileName, id: RecordingId) -> String {
    format!("{id}.{}", name.extension().unwrap_or("bin"))
}

/// An S3 store from `s3://bucket[/prefix]` and the `AWS_*` variables. Retries are kept short:
/// a store that is down makes a finished recording wait as `storing` (retried by the sweep),
/// not hold its session for minutes.
fn remote_store(raw: &str) -> io::Result<Arc<dyn ObjectStore>> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("AUDIO_RECORDINGS_URL {raw:?} {why} (expected s3://bucket[/prefix])"),
        )
    };
    let url = url::Url::parse(raw).map_err(|err| invalid(&err.to_string()))?;
    if url.scheme() != "s3" {
        return Err(invalid("is not an s3:// URL"));
    }
    let bucket = url.host_str().filter(|b| !b.is_empty());
    let Some(bucket) = bucket else {
        return Err(invalid("names no bucket"));
    };
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(10),
    };
    // Timeouts and buffers are the HTTP client's own (s3_http); `AWS_ALLOW_HTTP` reaches it
    // through the builder's options.
    let store = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry)
        .with_http_connector(super::s3_http::SmallBuffers)
        .build()
        .map_err(|err| io::Error::other(one_line(&err)))?;
    let prefix = url.path().trim_matches('/');
    Ok(if prefix.is_empty() {
        Arc::new(store)
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    })
}

fn object_path(name: &FileName) -> ObjectPath {
    ObjectPath::from(name.as_str())
}

fn blob_meta(meta: ObjectMeta) -> BlobMeta {
    BlobMeta {
        size: meta.size,
        etag: meta.e_tag,
        last_modified: meta.last_modified,
    }
}

/// An error on one line: the store's messages nest their causes across lines.
fn one_line(err: &dyn std::fmt::Display) -> String {
    err.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn same_file(a: &Path, b: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (std::fs::metadata(a)?, std::fs::metadata(b)?);
    Ok(a.dev() == b.dev() && a.ino() == b.ino())
}
