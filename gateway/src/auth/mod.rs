//! Who may pass the gateway, and who they are to the services behind it.
//!
//! Three modes (`docs/security.md`):
//! - **open**: anyone who reaches the gateway (the embedded defaults, for a first look);
//! - **shared token** (`GATEWAY_TOKEN`): one token for everybody; no identities;
//! - **JWT** (`GATEWAY_JWT_SECRET` and/or `GATEWAY_JWKS_URL`): every API and WebSocket request
//!   carries a user's token (`jwt.rs`), read as `token.rs` says. The verified subject and roles
//!   go to the audio service in a header only the gateway can sign (`stack_common::identity`,
//!   with `GATEWAY_IDENTITY_SECRET`); any such header a client sends is dropped.
//!
//! The pages stay open in every mode; `/auth/*` (`signin.rs`) tells them who is signed in, and
//! with `GATEWAY_DEV_SIGNIN` mints short-lived tokens for a user name.
//!
//! Layout: `error.rs` (why a request is refused), `token.rs` (where a token is read),
//! `jwt.rs` (verifying one), `jwks.rs` (a provider's published keys), `signin.rs` (the pages'
//! endpoints).

mod error;
mod jwks;
mod jwt;
mod signin;
mod token;

use std::time::Duration;

use actix_web::HttpRequest;
use jsonwebtoken::{DecodingKey, EncodingKey};
use stack_common::identity::{Identity, Voucher, HEADER};
use stack_common::secret::Secret;

pub use error::AuthError;
pub use signin::configure;

use jwks::Jwks;
use jwt::Verifier;

/// The gateway's door: built once from the settings, shared by every worker.
pub struct Gate {
    mode: Mode,
    voucher: Option<Voucher>,
    /// Mints development tokens (`GATEWAY_DEV_SIGNIN`), with the HS256 secret.
    dev_signin: Option<EncodingKey>,
}

enum Mode {
    Open,
    SharedToken(Secret),
    Jwt(Box<Verifier>),
}

/// The auth settings, as the gateway's configuration holds them.
pub struct GateSettings {
    pub shared_token: Option<Secret>,
    pub jwt_secret: Option<Secret>,
    pub jwks_url: Option<String>,
    pub jwks_max_age: Duration,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub identity_secret: Option<Secret>,
    pub dev_signin: bool,
    /// Refuse to start without users' tokens configured (the compose stack sets it).
    pub require_users: bool,
}

/// Settings that cannot work together, found at start-up.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("GATEWAY_TOKEN (one shared token) cannot be combined with JWT verification (GATEWAY_JWT_SECRET, GATEWAY_JWKS_URL)")]
    TokenAndJwt,
    #[error("GATEWAY_DEV_SIGNIN mints tokens with GATEWAY_JWT_SECRET, which is not set")]
    DevSignInWithoutSecret,
    #[error("GATEWAY_IDENTITY_SECRET vouches for users verified by JWT, and neither GATEWAY_JWT_SECRET nor GATEWAY_JWKS_URL is set")]
    IdentityWithoutJwt,
    #[error(
        "GATEWAY_REQUIRE_USERS is set, and neither GATEWAY_JWT_SECRET nor GATEWAY_JWKS_URL is"
    )]
    UsersRequired,
}

impl Gate {
    pub fn new(settings: GateSettings) -> Result<Self, GateError> {
        // A setting given as an empty value (`VAR=` in a compose file) is one not given.
        let present = |secret: Option<Secret>| secret.filter(|s| !s.is_empty());
        let shared_token = present(settings.shared_token);
        let jwt_secret = present(settings.jwt_secret);
        let identity_secret = present(settings.identity_secret);
        let jwks_url = settings.jwks_url.filter(|url| !url.trim().is_empty());
        let jwt = jwt_secret.is_some() || jwks_url.is_some();
        if settings.require_users && !jwt {
            return Err(GateError::UsersRequired);
        }
        if jwt && shared_token.is_some() {
            return Err(GateError::TokenAndJwt);
        }
        if settings.dev_signin && jwt_secret.is_none() {
            return Err(GateError::DevSignInWithoutSecret);
        }
        if identity_secret.is_some() && !jwt {
            return Err(GateError::IdentityWithoutJwt);
        }
        let bytes = |secret: &Secret| secret.expose().as_bytes().to_vec();
        let mode = match (shared_token, jwt) {
            (Some(token), _) => Mode::SharedToken(token),
            (None, false) => Mode::Open,
            (None, true) => Mode::Jwt(Box::new(Verifier::new(
                jwt_secret
                    .as_ref()
                    .map(|s| DecodingKey::from_secret(&bytes(s)).expect("checked non-empty")),
                jwks_url.map(|url| Jwks::new(url, settings.jwks_max_age)),
                settings.issuer.filter(|i| !i.is_empty()),
                settings.audience.filter(|a| !a.is_empty()),
            ))),
        };
        Ok(Self {
            mode,
            voucher: identity_secret
                .as_ref()
                .map(|s| Voucher::new(s).expect("checked non-empty")),
            dev_signin: settings
                .dev_signin
                .then_some(jwt_secret.as_ref())
                .flatten()
                .map(|s| EncodingKey::from_secret(&bytes(s)).expect("checked non-empty")),
        })
    }

    /// One line for the start-up log: what the gateway asks of a request.
    pub fn describe(&self) -> String {
        match &self.mode {
            Mode::Open => "open: no token needed, anyone who reaches the gateway can list, play and delete every recording".to_owned(),
            Mode::SharedToken(_) => "one shared token (GATEWAY_TOKEN) for every API and WebSocket request".to_owned(),
            Mode::Jwt(verifier) => format!(
                "JWT on every API and WebSocket request{}{}{}",
                if self.voucher.is_some() {
                    ", users' identities vouched to the services"
                } else {
                    ", but no GATEWAY_IDENTITY_SECRET: the services cannot tell users apart"
                },
                if self.dev_signin.is_some() {
                    ", development sign-in at /signin.html"
                } else {
                    ""
                },
                verifier
                    .issuer()
                    .map(|i| format!(", issuer {i}"))
                    .unwrap_or_default()
            ),
        }
    }

    /// Whether `req` may pass, and as whom (`None`: no identity in this mode).
    pub async fn admit(
        &self,
        req: &HttpRequest,
        websocket: bool,
    ) -> Result<Option<Identity>, AuthError> {
        match &self.mode {
            Mode::Open => Ok(None),
            Mode::SharedToken(expected) => {
                // The shared token keeps its older rule: header, query parameter or cookie.
                let presented = token::presented(req, true).unwrap_or_default();
                let same = subtle::ConstantTimeEq::ct_eq(
                    presented.as_bytes(),
                    expected.expose().as_bytes(),
                );
                if bool::from(same) {
                    Ok(None)
                } else {
                    Err(AuthError::WrongSharedToken)
                }
            }
            Mode::Jwt(verifier) => {
                let token = token::presented(req, websocket)?;
                verifier.verify(&token).await.map(Some)
            }
        }
    }

    /// The header that tells a service who the user is, when the gateway vouches for users.
    pub fn vouch(&self, identity: Option<&Identity>) -> Option<(&'static str, String)> {
        let voucher = self.voucher.as_ref()?;
        Some((HEADER, voucher.vouch(identity?)))
    }

    pub fn is_jwt(&self) -> bool {
        matches!(self.mode, Mode::Jwt(_))
    }
}

/// Headers a client may not send on: the identity only the gateway vouches for.
pub fn is_reserved(name: &str) -> bool {
    name.eq_ignore_ascii_case(HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> GateSettings {
        GateSettings {
            shared_token: None,
            jwt_secret: None,
            jwks_url: None,
            jwks_max_age: Duration::from_secs(300),
            issuer: None,
            audience: None,
            identity_secret: None,
            dev_signin: false,
            require_users: false,
        }
    }

    #[test]
    fn settings_that_cannot_work_together_are_refused_at_start() {
        let refused = |change: &dyn Fn(&mut GateSettings)| {
            let mut s = settings();
            change(&mut s);
            Gate::new(s).err().map(|err| err.to_string())
        };
        assert!(refused(&|_| {}).is_none());
        let both = refused(&|s| {
            s.shared_token = Some("t".into());
            s.jwt_secret = Some("s".into());
        });
        assert!(both.unwrap().contains("cannot be combined"));
        let dev = refused(&|s| {
            s.jwks_url = Some("http://idp/certs".into());
            s.dev_signin = true;
        });
        assert!(dev.unwrap().contains("GATEWAY_DEV_SIGNIN"));
        let identity = refused(&|s| s.identity_secret = Some("i".into()));
        assert!(identity.unwrap().contains("GATEWAY_IDENTITY_SECRET"));
        let required = refused(&|s| {
            s.require_users = true;
            s.jwt_secret = Some("".into());
        });
        assert!(required.unwrap().contains("GATEWAY_REQUIRE_USERS"));
        assert!(refused(&|s| {
            s.require_users = true;
            s.jwks_url = Some("http://idp/certs".into());
        })
        .is_none());
    }

    #[test]
    fn only_the_identity_header_is_reserved() {
        assert!(is_reserved("X-Gateway-Identity"));
        assert!(!is_reserved("x-request-id"));
    }
}
