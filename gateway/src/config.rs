//! Typed configuration: `--flags` with `GATEWAY_*` environment variables of the same meaning
//! (and `REGISTRY_URL`, shared with the design's other services).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser};
use stack_common::secret::Secret;
use stack_common::settings::{millis, seconds};

use crate::auth::{GateError, GateSettings};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "gateway",
    about = "The API gateway in front of the audio services"
)]
pub struct Settings {
    #[arg(long, env = "GATEWAY_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to bind (5000, as the original); 0 picks a free one.
    #[arg(long, env = "GATEWAY_PORT", default_value_t = 5000)]
    pub port: u16,

    /// The registry, e.g. `http://127.0.0.1:8761/eureka/`, or its peers, comma-separated: one is
    /// used, the next on failure.
    #[arg(
        long,
        env = "REGISTRY_URL",
        default_value = "http://127.0.0.1:8761/eureka/"
    )]
    pub registry_url: String,

    /// Token for a registry that requires one.
    #[arg(long, env = "GATEWAY_REGISTRY_TOKEN", hide_env_values = true)]
    pub registry_token: Option<Secret>,

    /// Heartbeat interval of the gateway's own registration (the lease is three).
    #[arg(long = "registry-renewal", visible_alias = "registry-renewal-secs", env = "GATEWAY_REGISTRY_RENEWAL_SECS", default_value = "30s", value_parser = seconds)]
    pub registry_renewal: Duration,

    /// The registry app name the built-in routes send `/api/**` and `/ws/**` to:
    /// `AUDIO-SERVER` finds the original's Spring audio server (or ours registered under that
    /// name with `AUDIO_APP_NAME`). A routes file names its own services.
    #[arg(long, env = "GATEWAY_AUDIO_SERVICE", default_value = "AUDIO-SERVICE")]
    pub audio_service: String,

    /// A TOML routes file replacing the built-in routes (see docs/gateway.md).
    #[arg(long, env = "GATEWAY_ROUTES")]
    pub routes: Option<PathBuf>,

    /// Serve the web pages from this folder instead of the copy embedded in the binary.
    #[arg(long, env = "GATEWAY_WEB_DIR")]
    pub web_dir: Option<PathBuf>,

    /// How often the registry copy is refreshed.
    #[arg(long = "discovery-refresh", visible_alias = "discovery-refresh-ms", env = "GATEWAY_DISCOVERY_REFRESH_MS", default_value = "5s", value_parser = millis)]
    pub discovery_refresh: Duration,

    /// Time to connect to an instance.
    #[arg(long = "connect-timeout", visible_alias = "connect-timeout-ms", env = "GATEWAY_CONNECT_TIMEOUT_MS", default_value = "2s", value_parser = millis)]
    pub connect_timeout: Duration,

    /// Time for an instance to answer a request (headers).
    #[arg(long = "request-timeout", visible_alias = "request-timeout-ms", env = "GATEWAY_REQUEST_TIMEOUT_MS", default_value = "30s", value_parser = millis)]
    pub request_timeout: Duration,

    /// How long an instance that failed stays out of rotation.
    #[arg(long = "ejection", visible_alias = "ejection-ms", env = "GATEWAY_EJECTION_MS", default_value = "30s", value_parser = millis)]
    pub ejection: Duration,

    /// Consecutive failures (5xx, timeouts) that eject an instance; a refused connection
    /// ejects at once.
    #[arg(long, env = "GATEWAY_MAX_FAILURES", default_value_t = 3)]
    pub max_failures: u32,

    /// When set, API and WebSocket requests need this one shared token (Bearer header,
    /// `access_token` query parameter, or `gateway_token` cookie); pages stay open. For users
    /// with identities, use JWT instead (the two cannot be combined).
    #[arg(long, env = "GATEWAY_TOKEN", hide_env_values = true)]
    pub token: Option<Secret>,

    #[command(flatten)]
    pub jwt: JwtSettings,

    /// Origins allowed by CORS, comma-separated (`*` for any); none by default.
    #[arg(long, env = "GATEWAY_CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,

    /// Whether the server stops itself on Ctrl-C/SIGTERM (off when embedded in the stack).
    #[arg(skip = true)]
    pub handle_signals: bool,

    /// Relay to an instance on this host over the Unix socket it advertises (`unixSocket` in
    /// its registry metadata), which costs less CPU than loopback TCP; `false` always uses TCP.
    #[arg(long, env = "GATEWAY_UNIX_SOCKETS", default_value_t = true, action = clap::ArgAction::Set)]
    pub unix_sockets: bool,

    /// HTTP worker threads; 0 means one per core.
    #[arg(long, env = "GATEWAY_WORKERS", default_value_t = 0)]
    pub workers: usize,
}

/// Users' tokens (docs/security.md): with a secret or a JWKS URL set, every API and WebSocket
/// request needs a valid JWT.
#[derive(Debug, Clone, Args)]
pub struct JwtSettings {
    /// HS256 secret that users' tokens are signed with (the original's `jwt.secret`).
    #[arg(
        long = "jwt-secret",
        env = "GATEWAY_JWT_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<Secret>,

    /// The identity provider's JWKS (RS256, ES256, ...), e.g. Keycloak's
    /// `https://host/realms/NAME/protocol/openid-connect/certs`.
    #[arg(long = "jwks-url", env = "GATEWAY_JWKS_URL")]
    pub jwks_url: Option<String>,

    /// How long fetched keys are used before the set is fetched again (an unknown `kid`
    /// fetches it at once).
    #[arg(
        long = "jwks-max-age",
        visible_alias = "jwks-max-age-secs",
        env = "GATEWAY_JWKS_MAX_AGE_SECS",
        default_value = "5m",
        value_parser = seconds
    )]
    pub jwks_max_age: Duration,

    /// The `iss` tokens must carry; unchecked when unset.
    #[arg(long = "jwt-issuer", env = "GATEWAY_JWT_ISSUER")]
    pub issuer: Option<String>,

    /// The `aud` tokens must carry; unchecked when unset.
    #[arg(long = "jwt-audience", env = "GATEWAY_JWT_AUDIENCE")]
    pub audience: Option<String>,

    /// Secret shared with the audio service (its `AUDIO_IDENTITY_SECRET`): the gateway signs
    /// each request's verified user with it, so the service knows whose recordings to show.
    #[arg(
        long = "identity-secret",
        env = "GATEWAY_IDENTITY_SECRET",
        hide_env_values = true
    )]
    pub identity_secret: Option<Secret>,

    /// Serve a development sign-in (`/signin.html`) that mints an hour's token for any user
    /// name with `GATEWAY_JWT_SECRET`. Never in production: anyone can be anyone.
    #[arg(long = "dev-signin", env = "GATEWAY_DEV_SIGNIN", default_value_t = false, action = clap::ArgAction::Set)]
    pub dev_signin: bool,

    /// Refuse to start unless users' tokens are configured (a secret or a JWKS URL), so that a
    /// deployment cannot come up open by mistake.
    #[arg(long = "require-users", env = "GATEWAY_REQUIRE_USERS", default_value_t = false, action = clap::ArgAction::Set)]
    pub require_users: bool,
}

impl Settings {
    /// The auth settings, checked (`auth::Gate::new` says what cannot be combined).
    pub fn gate(&self) -> Result<crate::auth::Gate, GateError> {
        crate::auth::Gate::new(GateSettings {
            shared_token: self.token.clone(),
            jwt_secret: self.jwt.secret.clone(),
            jwks_url: self.jwt.jwks_url.clone(),
            jwks_max_age: self.jwt.jwks_max_age.max(Duration::from_secs(1)),
            issuer: self.jwt.issuer.clone(),
            audience: self.jwt.audience.clone(),
            identity_secret: self.jwt.identity_secret.clone(),
            dev_signin: self.jwt.dev_signin,
            require_users: self.jwt.require_users,
        })
    }

    /// The declared defaults, whatever the environment holds: what tests build on.
    pub fn defaults() -> Self {
        stack_common::settings::declared_defaults()
    }

    /// The environment's `GATEWAY_*` settings: what the one-process stack starts with.
    pub fn from_env() -> Self {
        stack_common::settings::from_environment()
    }

    /// The (first) registry's base URL, without `/eureka`: where `/registry/` leads.
    /// The origins `GATEWAY_CORS_ORIGINS` lists.
    pub fn cors_origin_list(&self) -> Vec<String> {
        self.cors_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn registry_base(&self) -> String {
        registry_client::registry_bases(&self.registry_url)
            .into_iter()
            .next()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_flags_are_well_formed() {
        Settings::command().debug_assert();
    }
}
