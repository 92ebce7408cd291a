//! Builds the gateway from its settings: discovery, balancer and metrics actors, the routes,
//! and the HTTP server (port 0 allowed). It registers itself as `GATEWAY`.
//!
//! The server is actix-http's, built here rather than through `HttpServer`, because only
//! actix-http can hand a WebSocket upgrade over with its connection (`proxy::upgrade`); every
//! request still goes through the same actix-web `App`.

use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::Duration;

use actix::{Actor, Addr};
use actix_http::HttpService;
use actix_service::{fn_factory, fn_service, map_config, IntoServiceFactory, ServiceFactory};
use actix_web::body::MessageBody;
use actix_web::dev::{
    AppConfig, Extensions, Server, ServerHandle, ServiceRequest, ServiceResponse,
};
use actix_web::{web, App};
use registry_client::{Deregister, Discovery, InstanceSpec, Registration, RegistryEndpoint};

use crate::balancer::Balancer;
use crate::client::{upstream_client, LocalSockets};
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::proxy::budget::RelayBudget;
use crate::proxy::headers::ReachedAddress;
use crate::proxy::upgrade;
use crate::route::{RouteError, RouteTable};
use crate::routes;
use crate::state::GatewayState;

/// The routes: the settings' routes file, or the built-in ones.
fn route_table(settings: &Settings) -> std::io::Result<RouteTable> {
    match &settings.routes {
        Some(path) => RouteTable::load(path),
        None => Ok(RouteTable::defaults(
            &settings.registry_base(),
            &settings.audio_service,
        )),
    }
    .map_err(|err: RouteError| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))
}

/// Places for relayed WebSockets. A relayed WebSocket holds two sockets; the soft open-files
/// limit (often 1,024) would cap them well below what the hard one allows, so it is raised.
fn relay_budget() -> std::sync::Arc<RelayBudget> {
    let limit = stack_common::open_files::raise_limit();
    let relays = RelayBudget::for_limit(limit);
    if let Some(limit) = limit {
        log::info!(
            "open files limit {limit}: up to {} relayed WebSockets",
            relays.max()
        );
    }
    relays
}

/// How the gateway registers: as `GATEWAY`, at its host (loopback when bound to every
/// interface) and port.
fn instance_spec(settings: &Settings, address: SocketAddr) -> InstanceSpec {
    let host = if settings.host == "0.0.0.0" {
        "127.0.0.1".to_owned()
    } else {
        settings.host.clone()
    };
    let mut spec = InstanceSpec::new("GATEWAY", &host, address.port());
    spec.renewal_interval = settings.registry_renewal.max(Duration::from_secs(1));
    spec.lease_duration = spec.renewal_interval * 3;
    spec
}

pub struct Application {
    address: SocketAddr,
    server: Server,
    registration: Addr<Registration>,
}

impl Application {
    /// Must be called inside an actix system.
    pub async fn build(settings: Settings) -> std::io::Result<Self> {
        let routes = route_table(&settings)?;
        let gate = web::Data::new(
            settings
                .gate()
                .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?,
        );
        log::info!("gateway access: {}", gate.describe());
        let endpoint =
            RegistryEndpoint::new(&settings.registry_url, settings.registry_token.clone());
        let refresh = settings.discovery_refresh.max(Duration::from_millis(10));
        let discovery = Discovery::new(endpoint.clone(), refresh).start();
        let mut services: Vec<String> = routes.services().collect();
        services.sort();
        services.dedup();
        let local = LocalSockets::default();
        let balancer = Balancer::new(
            discovery.clone(),
            services,
            settings.ejection,
            settings.max_failures.max(1),
        )
        .with_local_sockets(settings.unix_sockets.then(|| local.clone()))
        .start();
        let relays = relay_budget();
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        let address = listener.local_addr()?;
        let mut server = Server::build().shutdown_timeout(5);
        let stopping = server.graceful_shutdown_signal();
        let state = web::Data::new(GatewayState {
            routes,
            balancer,
            discovery,
            metrics: Metrics::default().start(),
            gate,
            web_dir: settings.web_dir.clone(),
            own_address: address.to_string(),
            relays,
            stopping: stopping.clone(),
        });
        let (connect_timeout, request_timeout) =
            (settings.connect_timeout, settings.request_timeout);
        let cors_origins = settings.cors_origin_list();
        let make_app = move || {
            let client = upstream_client(connect_timeout, request_timeout, local.clone());
            app(state.clone(), client, &cors_origins)
        };
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        if !settings.handle_signals {
            server = server.disable_signals();
        }
        let server = server.listen("gateway", listener, move || {
            let upgrade_app = make_app.clone();
            // Each worker's upgrades have an app of their own: a service is not shared between
            // the dispatcher and the upgrade handler.
            let upgrade = fn_factory(move || {
                let app = upgrade_app().into_factory();
                async move {
                    let app = Rc::new(app.new_service(AppConfig::default()).await?);
                    Ok::<_, ()>(fn_service(move |(req, framed)| {
                        upgrade::serve(Rc::clone(&app), req, framed)
                    }))
                }
            });
            let stopping = stopping.clone();
            HttpService::build()
                // A graceful stop closes idle keep-alive connections at once, and others once
                // their current request is answered (as actix-web's HttpServer does), rather
                // than waiting for them to time out.
                .graceful_shutdown_signal(move || {
                    let stopping = stopping.clone();
                    async move { stopping.notified().await }
                })
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                // Small writes (acks, pongs) go out at once instead of behind delayed ACKs.
                .tcp_nodelay(true)
                .local_addr(address)
                // The address each connection reached, for X-Forwarded-Host when a request names
                // no host: with the listener on 0.0.0.0, its own address says nothing.
                .on_connect_ext(
                    |io: &actix_web::rt::net::TcpStream, data: &mut Extensions| {
                        if let Ok(reached) = io.local_addr() {
                            data.insert(ReachedAddress(reached));
                        }
                    },
                )
                .upgrade(upgrade)
                .finish(map_config(make_app().into_factory(), |()| {
                    AppConfig::default()
                }))
                .tcp()
        })?;
        let registration = Registration::new(endpoint, instance_spec(&settings, address)).start();
        log::info!(
            "gateway listening on http://{address}, registry {}",
            settings.registry_url
        );
        Ok(Self {
            address,
            server: server.run(),
            registration,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, then deregisters.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Ok(Err(err)) = self.registration.send(Deregister).await {
            log::warn!("could not deregister: {err}");
        }
        result
    }
}

/// The gateway's routes and middleware, one per worker (and one more for its upgrades).
fn app(
    state: web::Data<GatewayState>,
    client: awc::Client,
    cors_origins: &[String],
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(cors(cors_origins))
        .app_data(state.gate.clone())
        .app_data(state)
        .app_data(web::Data::new(client))
        .configure(routes::configure)
}

fn cors(origins: &[String]) -> actix_cors::Cors {
    let cors = actix_cors::Cors::default()
        .allow_any_method()
        .allow_any_header()
        .expose_any_header()
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        return cors.allow_any_origin();
    }
    origins
        .iter()
        .fold(cors, |cors, origin| cors.allowed_origin(origin))
}
