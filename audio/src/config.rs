//! Typed configuration: every setting is a `--flag` with an `AUDIO_*` environment variable of the
//! same meaning.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "audio",
    about = "The audio service: records WebSocket audio streams to files"
)]
pub struct Settings {
    /// Address to bind; internal services stay on loopback unless told otherwise.
    #[arg(long, env = "AUDIO_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to bind; 0 picks a free one (the bound address is logged).
    #[arg(long, env = "AUDIO_PORT", default_value_t = 0)]
    pub port: u16,

    /// Folder that holds recordings, their metadata and in-progress files.
    #[arg(long, env = "AUDIO_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Where recordings' records are kept: `postgres://user:password@host/db` for several
    /// hosts sharing one index, or `sqlite://path?mode=rwc`; by default the SQLite file
    /// `audio.db` in the data folder. Never printed with its password.
    #[arg(long, env = "AUDIO_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Where finished recordings are stored: `s3://bucket/prefix` for an S3-compatible store
    /// several hosts share (with the standard `AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`); by default the data folder's
    /// `recordings/`.
    #[arg(long, env = "AUDIO_RECORDINGS_URL")]
    pub recordings_url: Option<String>,

    /// With `AUDIO_RECORDINGS_URL`: how often a recording in progress is made durable in the
    /// store (one segment per flush), in milliseconds. A host lost mid-recording loses at most
    /// this much, which its client resends; its lease runs out after three times this.
    #[arg(long, env = "AUDIO_SEGMENT_INTERVAL_MS", default_value_t = 5_000)]
    pub segment_interval_ms: u64,

    /// Largest WebSocket frame accepted, in bytes (a larger one closes the socket with 1009).
    #[arg(long, env = "AUDIO_MAX_FRAME_BYTES", default_value_t = 1024 * 1024)]
    pub max_frame_bytes: usize,

    /// Largest recording, in bytes; chunks past it are refused with `recording-too-large`.
    #[arg(long, env = "AUDIO_MAX_RECORDING_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub max_recording_bytes: u64,

    /// Most WebSocket sessions open at once; more are refused with 503.
    #[arg(long, env = "AUDIO_MAX_SESSIONS", default_value_t = 10_000)]
    pub max_sessions: usize,

    /// Descriptors the process spends on each session of this instance, which sets the share of
    /// the open-files limit it takes (`open_files`): its own three; the one-process stack adds
    /// the gateway's two and divides among its instances.
    #[arg(skip = crate::open_files::PER_SESSION)]
    pub descriptors_per_session: u64,

    /// A socket silent (no frame, no pong) for this long is dropped, in milliseconds.
    #[arg(long, env = "AUDIO_HEARTBEAT_TIMEOUT_MS", default_value_t = 30_000)]
    pub heartbeat_timeout_ms: u64,

    /// A socket that holds no recording this long (never started one, or finished it) is
    /// closed with 1008, so idle connections cannot hold session places; in milliseconds.
    #[arg(long, env = "AUDIO_START_TIMEOUT_MS", default_value_t = 30_000)]
    pub start_timeout_ms: u64,

    /// How long `record-end` waits for a late chunk from a client that does not number its
    /// chunks (the original's page sends its last chunk after `record-end`), in milliseconds;
    /// clients that send `seq` or binary frames are finished at once. 0 never waits.
    #[arg(long, env = "AUDIO_END_GRACE_MS", default_value_t = 1_500)]
    pub end_grace_ms: u64,

    /// A recording driven over HTTP (`POST /record/*`, the original gateway's calls) whose
    /// caller is silent this long is let go, and the stale-session sweep ends it after the
    /// resume grace, every accepted byte kept; in milliseconds.
    #[arg(long, env = "AUDIO_HTTP_IDLE_TIMEOUT_MS", default_value_t = 120_000)]
    pub http_idle_timeout_ms: u64,

    /// How long a dropped recording stays resumable before it ends `interrupted`, in milliseconds.
    #[arg(long, env = "AUDIO_RESUME_GRACE_MS", default_value_t = 60_000)]
    pub resume_grace_ms: u64,

    /// The registry to register with, e.g. `http://127.0.0.1:8761/eureka/`, or its peers,
    /// comma-separated: one is used, the next on failure.
    #[arg(long, env = "AUDIO_REGISTRY_URL")]
    pub registry_url: Option<String>,

    /// The app name to register under (Eureka upper-cases it). `AUDIO-SERVER` puts this service
    /// where the original's Spring gateway looks for its audio server (`lb://audio-server`).
    #[arg(long, env = "AUDIO_APP_NAME", default_value = crate::startup::APP_NAME)]
    pub app_name: String,

    /// Token for a registry that requires one.
    #[arg(long, env = "AUDIO_REGISTRY_TOKEN", hide_env_values = true)]
    pub registry_token: Option<stack_common::secret::Secret>,

    /// Secret shared with the gateway (its `GATEWAY_IDENTITY_SECRET`). With it, every request
    /// but `/health`, `/metrics` and the OpenAPI document needs an identity the gateway vouched
    /// for, and each user sees only their own recordings (docs/security.md).
    #[arg(long, env = "AUDIO_IDENTITY_SECRET", hide_env_values = true)]
    pub identity_secret: Option<stack_common::secret::Secret>,

    /// Host name or address others reach this instance at (default: the bound host, or
    /// 127.0.0.1 when bound to every interface).
    #[arg(long, env = "AUDIO_ADVERTISE_HOST")]
    pub advertise_host: Option<String>,

    /// Also serve on this Unix socket (an absolute path) and advertise it in the registry: a
    /// gateway on the same host then relays over it instead of loopback TCP, which costs both
    /// sides less CPU per chunk. The gateway must be able to open the path (same host, a shared
    /// folder between containers).
    #[arg(long, env = "AUDIO_UNIX_SOCKET")]
    pub unix_socket: Option<PathBuf>,

    /// Heartbeat interval towards the registry, in seconds (the lease lasts three of them).
    #[arg(long, env = "AUDIO_REGISTRY_RENEWAL_SECS", default_value_t = 30)]
    pub registry_renewal_secs: u64,

    /// Kafka's bootstrap servers; without them events travel on the embedded bus.
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,

    /// The consumer group that post-processes recordings (instances sharing it share the work).
    #[arg(long, env = "AUDIO_KAFKA_GROUP", default_value = kafka_core::GROUP_AUDIO_SERVICE)]
    pub kafka_group: String,

    /// Partitions of topics created at start-up.
    #[arg(long, env = "AUDIO_KAFKA_PARTITIONS", default_value_t = 3)]
    pub kafka_partitions: i32,

    /// Replication factor of topics created at start-up.
    #[arg(long, env = "AUDIO_KAFKA_REPLICATION", default_value_t = 1)]
    pub kafka_replication: i32,

    /// Post-processing threads.
    #[arg(long, env = "AUDIO_PROCESSING_WORKERS", default_value_t = 1)]
    pub processing_workers: usize,

    /// Post-processing threads run only on CPU time that live recordings leave idle (Linux
    /// `SCHED_IDLE`); `false` runs them at normal priority.
    #[arg(long, env = "AUDIO_PROCESSING_BACKGROUND", default_value_t = true, action = clap::ArgAction::Set)]
    pub processing_background: bool,

    /// Bytes of a recording in progress are dropped from the page cache (once written to disk)
    /// when they are this old, so that the cache recycles its memory instead of growing by
    /// everything recorded; in milliseconds, 0 keeps them cached. Off on tmpfs, where the
    /// cache is the storage.
    #[arg(long, env = "AUDIO_CACHE_TRIM_AFTER_MS", default_value_t = 20_000)]
    pub cache_trim_after_ms: u64,

    /// Tries of a failing event handler before the event goes to the dead-letter topic.
    #[arg(long, env = "AUDIO_EVENT_ATTEMPTS", default_value_t = 5)]
    pub event_attempts: u32,

    /// First pause between tries, in milliseconds (doubling, at most 5 s).
    #[arg(long, env = "AUDIO_EVENT_BACKOFF_MS", default_value_t = 200)]
    pub event_backoff_ms: u64,

    /// At shutdown, how long live recordings may go on before they are ended `interrupted`,
    /// in milliseconds.
    #[arg(long, env = "AUDIO_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,

    /// Whether the server stops itself (and the actix System) on Ctrl-C/SIGTERM; a process that
    /// embeds several services turns this off and orders their shutdown itself.
    #[arg(skip = true)]
    pub handle_signals: bool,

    /// HTTP worker threads; 0 means one per core.
    #[arg(long, env = "AUDIO_WORKERS", default_value_t = 0)]
    pub workers: usize,
}

impl Settings {
    /// Defaults for a given data folder, as tests and the one-process stack use them.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut settings = Settings::parse_from(["audio"]);
        settings.data_dir = data_dir.into();
        settings
    }

    /// The address registered for this instance.
    pub fn advertised_host(&self) -> String {
        match &self.advertise_host {
            Some(host) => host.clone(),
            None if self.host == "0.0.0.0" || self.host == "::" => "127.0.0.1".into(),
            None => self.host.clone(),
        }
    }

    pub fn bus_config(&self) -> kafka_core::BusConfig {
        kafka_core::BusConfig {
            brokers: self.kafka_brokers.clone().filter(|b| !b.trim().is_empty()),
            partitions: self.kafka_partitions.max(1),
            replication: self.kafka_replication.max(1),
            retry: kafka_core::RetryPolicy {
                attempts: self.event_attempts.max(1),
                backoff: Duration::from_millis(self.event_backoff_ms),
                max_backoff: Duration::from_secs(5),
            },
            redrive_every: Duration::from_secs(5),
        }
    }

    pub fn heartbeat_timeout(&self) -> Duration {
        Duration::from_millis(self.heartbeat_timeout_ms)
    }

    pub fn resume_grace(&self) -> Duration {
        Duration::from_millis(self.resume_grace_ms)
    }

    /// How often the socket is pinged: a third of the timeout, so two lost pings are tolerated.
    pub fn ping_interval(&self) -> Duration {
        (self.heartbeat_timeout() / 3).max(Duration::from_millis(50))
    }

    /// How often the supervisor looks for abandoned recordings.
    pub fn sweep_interval(&self) -> Duration {
        (self.resume_grace() / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }
}
