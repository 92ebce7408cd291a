use std::net::{SocketAddr, TcpListener};

use actix::{Actor, Addr};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{middleware, web, App, HttpServer};

use crate::auth::TokenPolicy;
use crate::config::Settings;
use crate::peers::{peer_urls, sync_from_peers, Peers};
use crate::registry::Registry;
use crate::routes;
use crate::state::AppState;

/// The registry server, bound (port 0 allowed) and ready to run.
pub struct Application {
    address: SocketAddr,
    server: Server,
    registry: Addr<Registry>,
}

impl Application {
    /// Must be called inside an actix system.
    pub async fn build(settings: Settings) -> std::io::Result<Self> {
        let registry = Registry::new(settings.lease_rules()).start();
        let token = settings
            .token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .filter(|t| !t.is_empty());
        let own = format!("{}:{}", settings.host, settings.port);
        let peer_list = peer_urls(&settings.peers, &own);
        // Before serving, and before binding (a peer that connects to a port bound but not yet
        // served would wait for its timeout): a registry that restarts knows every instance
        // its peers know.
        if !peer_list.is_empty()
            && sync_from_peers(&peer_list, token.as_deref(), &registry)
                .await
                .is_none()
        {
            log::warn!("no peer answered: starting with an empty registry");
        }
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        let address = listener.local_addr()?;
        let peers = Peers::start(
            &peer_list,
            token.clone(),
            registry.clone(),
            settings.peer_queue,
        );
        let state = web::Data::new(AppState {
            registry: registry.clone(),
            tokens: TokenPolicy {
                token,
                protect_reads: settings.protect_reads,
            },
            peers,
        });
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(
                    // The access log, at debug: every client polls and renews every few
                    // seconds, which an `info` log would repeat without end.
                    middleware::Logger::new("%a \"%r\" %s %Dms")
                        .exclude_regex("^/eureka/apps/[^/]+/[^/]+$")
                        .log_level(log::Level::Debug),
                )
                .app_data(state.clone())
                .configure(routes::configure)
        })
        // Heartbeat answers are small writes: sent at once, not behind delayed ACKs.
        .tcp_nodelay(true)
        .listen(listener)?
        .shutdown_timeout(5);
        if !settings.handle_signals {
            server = server.disable_signals();
        }
        let server = server.run();
        log::info!(
            "registry listening on http://{address}{}",
            if peer_list.is_empty() {
                String::new()
            } else {
                format!(", peers {}", peer_list.join(", "))
            }
        );
        Ok(Self {
            address,
            server,
            registry,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn registry(&self) -> Addr<Registry> {
        self.registry.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
