//! Typed configuration: every setting is a `--flag` with an `AUDIO_*` environment variable of the
//! same meaning, in groups by concern (`#[command(flatten)]`: the flags stay flat). Durations
//! take `30s`, `1500ms`, `2m` (`stack_common::settings`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser};
use stack_common::secret::Secret;
use stack_common::settings::{millis, seconds};

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

    /// Also serve on this Unix socket (an absolute path) and advertise it in the registry: a
    /// gateway on the same host then relays over it instead of loopback TCP, which costs both
    /// sides less CPU per chunk. The gateway must be able to open the path (same host, a shared
    /// folder between containers).
    #[arg(long, env = "AUDIO_UNIX_SOCKET")]
    pub unix_socket: Option<PathBuf>,

    /// HTTP worker threads; 0 means one per core.
    #[arg(long, env = "AUDIO_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Secret shared with the gateway (its `GATEWAY_IDENTITY_SECRET`). With it, every request
    /// but `/health`, `/metrics` and the OpenAPI document needs an identity the gateway vouched
    /// for, and each user sees only their own recordings (docs/security.md).
    #[arg(long, env = "AUDIO_IDENTITY_SECRET", hide_env_values = true)]
    pub identity_secret: Option<Secret>,

    /// Whether the server stops itself (and the actix System) on Ctrl-C/SIGTERM; a process that
    /// embeds several services turns this off and orders their shutdown itself.
    #[arg(skip = true)]
    pub handle_signals: bool,

    #[command(flatten)]
    pub storage: StorageSettings,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub timeouts: Timeouts,

    #[command(flatten)]
    pub registry: RegistrySettings,

    #[command(flatten)]
    pub events: EventSettings,

    #[command(flatten)]
    pub processing: ProcessingSettings,
}

/// Where recordings and their records are kept.
#[derive(Debug, Clone, Args)]
pub struct StorageSettings {
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
    /// store (one segment per flush). A host lost mid-recording loses at most this much, which
    /// its client resends; its lease runs out after three times this.
    #[arg(long = "segment-interval", visible_alias = "segment-interval-ms", env = "AUDIO_SEGMENT_INTERVAL_MS", default_value = "5s", value_parser = millis)]
    pub segment_interval: Duration,
}

/// How much one client, and all of them, may take.
#[derive(Debug, Clone, Args)]
pub struct Limits {
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
}

/// How long clients and recordings are waited for.
#[derive(Debug, Clone, Args)]
pub struct Timeouts {
    /// A socket silent (no frame, no pong) for this long is dropped.
    #[arg(long = "heartbeat-timeout", visible_alias = "heartbeat-timeout-ms", env = "AUDIO_HEARTBEAT_TIMEOUT_MS", default_value = "30s", value_parser = millis)]
    pub heartbeat: Duration,

    /// A socket that holds no recording this long (never started one, or finished it) is
    /// closed with 1008, so idle connections cannot hold session places.
    #[arg(long = "start-timeout", visible_alias = "start-timeout-ms", env = "AUDIO_START_TIMEOUT_MS", default_value = "30s", value_parser = millis)]
    pub start: Duration,

    /// How long `record-end` waits for a late chunk from a client that does not number its
    /// chunks (the original's page sends its last chunk after `record-end`); clients that send
    /// `seq` or binary frames are finished at once. 0 never waits.
    #[arg(long = "end-grace", visible_alias = "end-grace-ms", env = "AUDIO_END_GRACE_MS", default_value = "1500ms", value_parser = millis)]
    pub end_grace: Duration,

    /// A recording driven over HTTP (`POST /record/*`, the original gateway's calls) whose
    /// caller is silent this long is let go, and the stale-session sweep ends it after the
    /// resume grace, every accepted byte kept.
    #[arg(long = "http-idle-timeout", visible_alias = "http-idle-timeout-ms", env = "AUDIO_HTTP_IDLE_TIMEOUT_MS", default_value = "2m", value_parser = millis)]
    pub http_idle: Duration,

    /// How long a dropped recording stays resumable before it ends `interrupted`.
    #[arg(long = "resume-grace", visible_alias = "resume-grace-ms", env = "AUDIO_RESUME_GRACE_MS", default_value = "60s", value_parser = millis)]
    pub resume_grace: Duration,

    /// At shutdown, how long live recordings may go on before they are ended `interrupted`.
    #[arg(long = "shutdown-grace", visible_alias = "shutdown-grace-ms", env = "AUDIO_SHUTDOWN_GRACE_MS", default_value = "10s", value_parser = millis)]
    pub shutdown_grace: Duration,
}

/// Taking part in the registry.
#[derive(Debug, Clone, Args)]
pub struct RegistrySettings {
    /// The registry to register with, e.g. `http://127.0.0.1:8761/eureka/`, or its peers,
    /// comma-separated: one is used, the next on failure.
    #[arg(long = "registry-url", env = "AUDIO_REGISTRY_URL")]
    pub url: Option<String>,

    /// The app name to register under (Eureka upper-cases it). `AUDIO-SERVER` puts this service
    /// where the original's Spring gateway looks for its audio server (`lb://audio-server`).
    #[arg(long, env = "AUDIO_APP_NAME", default_value = crate::startup::APP_NAME)]
    pub app_name: String,

    /// Token for a registry that requires one.
    #[arg(
        long = "registry-token",
        env = "AUDIO_REGISTRY_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<Secret>,

    /// Host name or address others reach this instance at (default: the bound host, or
    /// 127.0.0.1 when bound to every interface).
    #[arg(long, env = "AUDIO_ADVERTISE_HOST")]
    pub advertise_host: Option<String>,

    /// Heartbeat interval towards the registry (the lease lasts three of them).
    #[arg(long = "registry-renewal", visible_alias = "registry-renewal-secs", env = "AUDIO_REGISTRY_RENEWAL_SECS", default_value = "30s", value_parser = seconds)]
    pub renewal: Duration,
}

/// Kafka, or the embedded bus, and the handlers' retries.
#[derive(Debug, Clone, Args)]
pub struct EventSettings {
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

    /// Tries of a failing event handler before the event goes to the dead-letter topic.
    #[arg(
        long = "event-attempts",
        env = "AUDIO_EVENT_ATTEMPTS",
        default_value_t = 5
    )]
    pub attempts: u32,

    /// First pause between tries (doubling, at most 5 s).
    #[arg(long = "event-backoff", visible_alias = "event-backoff-ms", env = "AUDIO_EVENT_BACKOFF_MS", default_value = "200ms", value_parser = millis)]
    pub backoff: Duration,
}

/// Post-processing, and what the host's page cache keeps.
#[derive(Debug, Clone, Args)]
pub struct ProcessingSettings {
    /// Post-processing threads.
    #[arg(
        id = "processing_workers",
        long = "processing-workers",
        env = "AUDIO_PROCESSING_WORKERS",
        default_value_t = 1
    )]
    pub workers: usize,

    /// Post-processing threads run only on CPU time that live recordings leave idle (Linux
    /// `SCHED_IDLE`); `false` runs them at normal priority.
    #[arg(long = "processing-background", env = "AUDIO_PROCESSING_BACKGROUND", default_value_t = true, action = clap::ArgAction::Set)]
    pub background: bool,

    /// Bytes of a recording in progress are dropped from the page cache (once written to disk)
    /// when they are this old, so that the cache recycles its memory instead of growing by
    /// everything recorded; 0 keeps them cached. Off on tmpfs, where the cache is the storage.
    #[arg(long = "cache-trim-after", visible_alias = "cache-trim-after-ms", env = "AUDIO_CACHE_TRIM_AFTER_MS", default_value = "20s", value_parser = millis)]
    pub cache_trim_after: Duration,
}

impl Settings {
    /// The declared defaults for a given data folder, whatever the environment holds: what
    /// tests build on.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut settings: Self = stack_common::settings::declared_defaults();
        settings.storage.data_dir = data_dir.into();
        settings
    }

    /// The environment's `AUDIO_*` settings for a given data folder: what the one-process
    /// stack starts its instances with.
    pub fn from_env_for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut settings: Self = stack_common::settings::from_environment();
        settings.storage.data_dir = data_dir.into();
        settings
    }

    /// The address registered for this instance.
    pub fn advertised_host(&self) -> String {
        match &self.registry.advertise_host {
            Some(host) => host.clone(),
            None if self.host == "0.0.0.0" || self.host == "::" => "127.0.0.1".into(),
            None => self.host.clone(),
        }
    }

    pub fn bus_config(&self) -> kafka_core::BusConfig {
        kafka_core::BusConfig {
            brokers: self
                .events
                .kafka_brokers
                .clone()
                .filter(|b| !b.trim().is_empty()),
            partitions: self.events.kafka_partitions.max(1),
            replication: self.events.kafka_replication.max(1),
            retry: kafka_core::RetryPolicy {
                attempts: self.events.attempts.max(1),
                backoff: self.events.backoff,
                max_backoff: Duration::from_secs(5),
            },
            redrive_every: Duration::from_secs(5),
        }
    }

    /// How often the socket is pinged: a third of the timeout, so two lost pings are tolerated.
    pub fn ping_interval(&self) -> Duration {
        (self.timeouts.heartbeat / 3).max(Duration::from_millis(50))
    }

    /// How often the supervisor looks for abandoned recordings.
    pub fn sweep_interval(&self) -> Duration {
        (self.timeouts.resume_grace / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_flags_are_well_formed_and_durations_take_units() {
        Settings::command().debug_assert();
        let settings =
            Settings::try_parse_from(["audio", "--end-grace", "2s", "--resume-grace-ms", "1500"])
                .unwrap();
        assert_eq!(settings.timeouts.end_grace, Duration::from_secs(2));
        assert_eq!(settings.timeouts.resume_grace, Duration::from_millis(1500));
        let wrong = Settings::try_parse_from(["audio", "--end-grace", "soon"]).unwrap_err();
        assert!(wrong.to_string().contains("30s, 1500ms or 2m"), "{wrong}");
    }
}
