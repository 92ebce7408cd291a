//! Builds the service from its settings. `Application::build` binds the listener (port 0 picks
//! a free port, which tests use) and starts the supervisor; `run_until_stopped` serves.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix::{Actor, Addr};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web, App, HttpServer};

use registry::client::{Deregister, InstanceSpec, Registration, RegistryEndpoint};

use crate::config::Settings;
use crate::routes;
use crate::session::SessionConfig;
use crate::storage::Layout;
use crate::supervisor::RecordingSupervisor;

/// What every request handler can reach.
pub struct AppState {
    pub layout: Layout,
    pub supervisor: Addr<RecordingSupervisor>,
    pub session: Arc<SessionConfig>,
}

pub struct Application {
    address: SocketAddr,
    server: Server,
    supervisor: Addr<RecordingSupervisor>,
    layout: Layout,
    registration: Option<Addr<Registration>>,
}

/// The name this service registers under (Eureka upper-cases app names).
pub const APP_NAME: &str = "AUDIO-SERVICE";

impl Application {
    /// Must be called inside an actix system (`#[actix_web::main]`, `#[actix_web::test]`).
    pub async fn build(settings: Settings) -> std::io::Result<Self> {
        let layout = Layout::create(&settings.data_dir)?;
        let supervisor = RecordingSupervisor::new(
            layout.clone(),
            settings.max_sessions,
            settings.resume_grace(),
            settings.sweep_interval(),
        )
        .start();
        let state = web::Data::new(AppState {
            layout: layout.clone(),
            supervisor: supervisor.clone(),
            session: Arc::new(SessionConfig {
                layout: layout.clone(),
                max_frame_bytes: settings.max_frame_bytes,
                max_recording_bytes: settings.max_recording_bytes,
                heartbeat_timeout: settings.heartbeat_timeout(),
                ping_interval: settings.ping_interval(),
            }),
        });

        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        let address = listener.local_addr()?;
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(middleware::Logger::new(
                    "%a \"%r\" %s %b %Dms [request %{x-request-id}i]",
                ))
                .app_data(state.clone())
                .configure(routes::configure)
        })
        .listen(listener)?
        .shutdown_timeout(5);
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        if !settings.handle_signals {
            server = server.disable_signals();
        }
        log::info!(
            "audio service listening on http://{address} (data in {})",
            layout.root().display()
        );
        let registration = settings.registry_url.as_deref().map(|url| {
            let mut spec = InstanceSpec::new(APP_NAME, &settings.advertised_host(), address.port());
            spec.renewal_interval =
                std::time::Duration::from_secs(settings.registry_renewal_secs.max(1));
            spec.lease_duration = spec.renewal_interval * 3;
            spec.metadata
                .insert("dataDir".into(), layout.root().display().to_string());
            Registration::new(
                RegistryEndpoint::new(url, settings.registry_token.clone()),
                spec,
            )
            .start()
        });
        Ok(Self {
            address,
            server: server.run(),
            supervisor,
            layout,
            registration,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn supervisor(&self) -> Addr<RecordingSupervisor> {
        self.supervisor.clone()
    }

    /// A handle to stop the server from elsewhere (tests, the one-process stack).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (Ctrl-C, SIGTERM or a handle), then deregisters.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
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
