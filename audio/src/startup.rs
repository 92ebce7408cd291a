//! Builds the service from its settings. `Application::build` binds the listener (port 0 picks
//! a free port, which tests use) and starts the supervisor; `run_until_stopped` serves.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;

use actix::{Actor, Addr, Recipient, SyncArbiter};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web, App, HttpServer};
use kafka_core::{
    publish_durably, Delivery, EventBus, EventHandler, Outbox, Publish, RecordCompletedEvent,
    TOPIC_RECORD_COMPLETED, TOPIC_RECORD_DELETED, TOPIC_RECORD_PROCESSED,
};

use registry_client::{local_socket, Deregister, InstanceSpec, Registration, RegistryEndpoint};
use stack_common::identity::VouchCheck;

use crate::cache_trim::{trims_pages, CacheTrim, CacheTrimmer};
use crate::config::Settings;
use crate::domain::RecordingId;
use crate::events::{processed_event, Broadcast, CloseStreams, EventHub};
use crate::identity;
use crate::local_socket::LocalSocket;
use crate::open_files;
use crate::postprocess::{PostProcessor, Process};
use crate::routes;
use crate::session::{HttpSessions, SessionConfig};
use crate::state::AppState;
use crate::storage::{Blobs, Storage};
use crate::supervisor::{Drain, EndAll, GetStats, RecordingSupervisor, SupervisorLinks};

pub struct Application {
    address: SocketAddr,
    server: Server,
    supervisor: Addr<RecordingSupervisor>,
    registration: Option<Addr<Registration>>,
    local_socket: Option<LocalSocket>,
    bus: EventBus,
    hub: Addr<EventHub>,
    shutdown_grace: std::time::Duration,
}

/// Stops a running service gracefully (see [`Application::shutdown_handle`]).
#[derive(Clone)]
pub struct ShutdownHandle {
    server: ServerHandle,
    supervisor: Addr<RecordingSupervisor>,
    hub: Addr<EventHub>,
    grace: std::time::Duration,
}

impl ShutdownHandle {
    /// No new sessions; live recordings get the grace period to end, then are ended
    /// `interrupted` (their bytes kept, their events in the outbox); then the server stops.
    /// `run_until_stopped` then waits for Kafka to take the outbox and deregisters.
    pub async fn shutdown(&self) {
        let live = self.supervisor.send(Drain).await.unwrap_or(0);
        log::info!(
            "shutting down: {live} live recording(s), grace {:?}",
            self.grace
        );
        let deadline = std::time::Instant::now() + self.grace;
        while std::time::Instant::now() < deadline {
            match self.supervisor.send(GetStats).await {
                Ok(stats) if stats.live_recordings > 0 => {
                    actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await
                }
                _ => break,
            }
        }
        if let Ok(ended) = self.supervisor.send(EndAll).await {
            if ended > 0 {
                log::info!("ended {ended} recording(s) as interrupted for shutdown");
            }
        }
        // After the recordings' ends, so that open list pages saw them.
        let _ = self.hub.send(CloseStreams).await;
        self.server.stop(true).await;
    }
}

/// The name this service registers under by default (Eureka upper-cases app names).
pub const APP_NAME: &str = "AUDIO-SERVICE";

impl Application {
    /// Must be called inside an actix system (`#[actix_web::main]`, `#[actix_web::test]`).
    pub async fn build(settings: Settings) -> std::io::Result<Self> {
        // The listeners first: a port or a socket that cannot be had fails the start before
        // anything runs.
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        let address = listener.local_addr()?;
        let (local_socket, unix_listener) = match &settings.unix_socket {
            Some(path) => {
                let (socket, listener) = LocalSocket::bind(path)?;
                (Some(socket), Some(listener))
            }
            None => (None, None),
        };
        let storage = open_storage(&settings).await?;
        let data_dir = storage.root().to_owned();
        let mut bus = EventBus::start_with_outbox(
            &settings.bus_config(),
            &data_dir,
            storage.outbox().clone(),
        )
        .map_err(std::io::Error::other)?;
        let hub = EventHub::default().start();
        let supervisor = RecordingSupervisor::new(
            storage.clone(),
            SupervisorLinks {
                publisher: bus.publisher(),
                hub: hub.clone(),
            },
            open_files::cap_sessions(
                settings.limits.max_sessions,
                open_files::raise_limit(),
                settings.limits.descriptors_per_session,
            ),
            settings.timeouts.resume_grace,
            settings.sweep_interval(),
        )
        .start();
        subscribe_handlers(&settings, &storage, &mut bus, &hub)?;
        let state = web::Data::new(AppState {
            storage: storage.clone(),
            supervisor: supervisor.clone(),
            session: Arc::new(session_config(&settings, &storage, &data_dir)),
            http_sessions: HttpSessions::default(),
            outbox: bus.outbox().clone(),
            publisher: bus.publisher(),
            hub: hub.clone(),
        });
        let vouch_check = identity_check(&settings)?;
        let json = routes::json_config(settings.limits.max_frame_bytes);
        let mut server = HttpServer::new(move || {
            let app = App::new()
                // The access log, at debug (`RUST_LOG=debug`, or `actix_web=debug`).
                .wrap(
                    middleware::Logger::new("%a \"%r\" %s %b %Dms [request %{x-request-id}i]")
                        .log_level(log::Level::Debug),
                )
                .wrap(middleware::Condition::new(
                    vouch_check.is_some(),
                    middleware::from_fn(identity::require),
                ))
                .app_data(state.clone())
                .app_data(json.clone())
                .configure(routes::configure);
            match &vouch_check {
                Some(check) => app.app_data(check.clone()),
                None => app,
            }
        })
        // Acks are small writes answered by small writes: Nagle's algorithm would hold them
        // back behind delayed ACKs (tens of ms).
        .tcp_nodelay(true)
        .listen(listener)?
        .shutdown_timeout(5);
        if let Some(listener) = unix_listener {
            server = server.listen_uds(listener)?;
        }
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        if !settings.handle_signals {
            server = server.disable_signals();
        }
        log::info!(
            "audio service listening on http://{address}{} (data in {}, recordings in {})",
            local_socket
                .as_ref()
                .map(|s| format!(" and unix:{}", s.path().display()))
                .unwrap_or_default(),
            data_dir.display(),
            storage.blobs().describe()
        );
        let registration = settings.registry.url.as_deref().map(|url| {
            registration(&settings, url, address, &data_dir, local_socket.as_ref()).start()
        });
        Ok(Self {
            address,
            server: server.run(),
            supervisor,
            registration,
            local_socket,
            bus,
            hub,
            shutdown_grace: settings.timeouts.shutdown_grace,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A handle to stop the server from elsewhere (tests, the one-process stack).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// A handle for the graceful shutdown (what SIGTERM does).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            server: self.server.handle(),
            supervisor: self.supervisor.clone(),
            hub: self.hub.clone(),
            grace: self.shutdown_grace,
        }
    }

    /// Serves until the server is stopped (Ctrl-C, SIGTERM or a handle), then deregisters,
    /// flushes what Kafka has not acknowledged yet (the outbox keeps the rest) and stops the
    /// consumers.
    pub async fn run_until_stopped(mut self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some(socket) = &self.local_socket {
            socket.remove();
        }
        self.bus.flush(std::time::Duration::from_secs(5)).await;
        self.bus.stop_consumers();
        if let Some(registration) = self.registration {
            match registration.send(Deregister).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => log::warn!("could not deregister: {err}"),
                Err(err) => log::warn!("could not deregister: {err}"),
            }
        }
        result
    }
}

/// Why a completion event was not handled (it is tried again, then dead-lettered).
#[derive(Debug, thiserror::Error)]
enum ProcessingFailed {
    #[error("not a RecordCompletedEvent: {0}")]
    NotAnEvent(serde_json::Error),
    #[error("the post-processor is gone: {0}")]
    ProcessorGone(actix::MailboxError),
    #[error(transparent)]
    Process(crate::postprocess::worker::ProcessError),
    #[error("the processed event was not written: {0}")]
    NotAnnounced(kafka_core::BusError),
}

/// Post-processes each completed recording and publishes the result. An event that is not a
/// `RecordCompletedEvent` fails (and after its retries goes to the dead-letter topic).
fn processing_handler(
    processor: Addr<PostProcessor>,
    outbox: Outbox,
    publisher: Recipient<Publish>,
    blobs: Blobs,
) -> EventHandler {
    Arc::new(move |delivery: Delivery| {
        let (processor, outbox, publisher, blobs) = (
            processor.clone(),
            outbox.clone(),
            publisher.clone(),
            blobs.clone(),
        );
        Box::pin(async move {
            let event: RecordCompletedEvent =
                serde_json::from_slice(&delivery.payload).map_err(ProcessingFailed::NotAnEvent)?;
            let processed = processor
                .send(Process(RecordingId::from(event.recording_id)))
                .await
                .map_err(ProcessingFailed::ProcessorGone)?
                .map_err(ProcessingFailed::Process)?;
            if let Some(meta) = processed {
                publish_durably(&outbox, &publisher, &processed_event(&blobs, &meta), None)
                    .await
                    .map_err(ProcessingFailed::NotAnnounced)?;
            }
            Ok(())
        })
    })
}

/// Relays lifecycle events to this instance's live pages.
fn live_handler(hub: Addr<EventHub>) -> EventHandler {
    Arc::new(move |delivery: Delivery| {
        let hub = hub.clone();
        Box::pin(async move {
            let kind = match delivery.topic.as_str() {
                TOPIC_RECORD_COMPLETED => "completed",
                TOPIC_RECORD_PROCESSED => "processed",
                TOPIC_RECORD_DELETED => "deleted",
                _ => return Ok(()),
            };
            let data = serde_json::from_slice(&delivery.payload).unwrap_or(serde_json::Value::Null);
            hub.do_send(Broadcast { kind, data });
            Ok(())
        })
    })
}

/// The page-cache trimmer, unless it is turned off or could not drop anything here (tmpfs).
fn cache_trim(settings: &Settings, data_dir: &Path) -> Option<CacheTrim> {
    if settings.processing.cache_trim_after.is_zero() {
        return None;
    }
    match trims_pages(data_dir) {
        Ok(true) => {}
        Ok(false) => {
            log::info!("recordings are in memory (tmpfs): no page-cache trimming");
            return None;
        }
        Err(err) => log::warn!("could not tell the data folder's file system ({err}); trimming"),
    }
    Some(CacheTrim {
        trimmer: SyncArbiter::start(1, || CacheTrimmer),
        after: settings.processing.cache_trim_after,
    })
}

/// Opens the index and the recordings' store the settings name (off the arbiter: a database
/// or a remote store is reached over the network).
async fn open_storage(settings: &Settings) -> std::io::Result<Storage> {
    let root = settings.storage.data_dir.clone();
    let (database, recordings) = (
        settings.storage.database_url.clone(),
        settings.storage.recordings_url.clone(),
    );
    let interval = settings.storage.segment_interval;
    actix_web::rt::task::spawn_blocking(move || {
        Storage::open(root, database.as_deref(), recordings.as_deref())
            .map(|storage| storage.with_segment_interval(interval))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The instance's consumers: post-processing (group `audio-service` by default, each recording
/// once per group) and the live pages (a group of its own, from now on, so that every instance
/// hears every change). Then the bus opens.
fn subscribe_handlers(
    settings: &Settings,
    storage: &Storage,
    bus: &mut EventBus,
    hub: &Addr<EventHub>,
) -> std::io::Result<()> {
    let processor = {
        let storage = storage.clone();
        let background = settings.processing.background;
        SyncArbiter::start(settings.processing.workers.max(1), move || {
            PostProcessor::new(storage.clone(), background)
        })
    };
    let processing = processing_handler(
        processor,
        bus.outbox().clone(),
        bus.publisher(),
        storage.blobs().clone(),
    );
    bus.subscribe(
        &[TOPIC_RECORD_COMPLETED],
        &settings.events.kafka_group,
        "earliest",
        processing,
    )
    .map_err(std::io::Error::other)?;
    let live_group = format!("audio-live-{}", uuid::Uuid::new_v4().simple());
    let topics = [
        TOPIC_RECORD_COMPLETED,
        TOPIC_RECORD_PROCESSED,
        TOPIC_RECORD_DELETED,
    ];
    bus.subscribe(&topics, &live_group, "latest", live_handler(hub.clone()))
        .map_err(std::io::Error::other)?;
    bus.open();
    Ok(())
}

/// The shortest start and idle timeouts taken (shorter ones are most likely a unit mistaken).
const MIN_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(50);

/// What every session is started with.
fn session_config(settings: &Settings, storage: &Storage, data_dir: &Path) -> SessionConfig {
    SessionConfig {
        storage: storage.clone(),
        max_frame_bytes: settings.limits.max_frame_bytes,
        max_recording_bytes: settings.limits.max_recording_bytes,
        heartbeat_timeout: settings.timeouts.heartbeat,
        ping_interval: settings.ping_interval(),
        start_timeout: settings.timeouts.start.max(MIN_TIMEOUT),
        end_grace: settings.timeouts.end_grace,
        http_idle_timeout: settings.timeouts.http_idle.max(MIN_TIMEOUT),
        cache_trim: cache_trim(settings, data_dir),
    }
}

/// With `AUDIO_IDENTITY_SECRET`, the check of the identity the gateway vouches for.
fn identity_check(settings: &Settings) -> std::io::Result<Option<web::Data<VouchCheck>>> {
    let check = match &settings.identity_secret {
        Some(secret) => Some(web::Data::new(VouchCheck::new(secret).map_err(|err| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("AUDIO_IDENTITY_SECRET: {err}"),
            )
        })?)),
        None => None,
    };
    log::info!(
        "audio access: {}",
        if check.is_some() {
            "users vouched for by the gateway, each seeing their own recordings"
        } else {
            "open (no AUDIO_IDENTITY_SECRET): every caller sees every recording"
        }
    );
    Ok(check)
}

/// How this instance registers: its address, lease, data folder and Unix socket.
fn registration(
    settings: &Settings,
    url: &str,
    address: SocketAddr,
    data_dir: &Path,
    local_socket: Option<&LocalSocket>,
) -> Registration {
    let mut spec = InstanceSpec::new(
        &settings.registry.app_name,
        &settings.advertised_host(),
        address.port(),
    );
    spec.renewal_interval = settings
        .registry
        .renewal
        .max(std::time::Duration::from_secs(1));
    spec.lease_duration = spec.renewal_interval * 3;
    spec.metadata
        .insert("dataDir".into(), data_dir.display().to_string());
    if let Some(socket) = local_socket {
        spec.metadata.extend(local_socket::advertise(socket.path()));
    }
    Registration::new(
        RegistryEndpoint::new(url, settings.registry.token.clone()),
        spec,
    )
}
