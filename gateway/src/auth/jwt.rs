//! Verifying a user's JWT: HS256 with the configured secret (`GATEWAY_JWT_SECRET`, as the
//! original's `jwt.secret`), and RS256/ES256/… against the identity provider's JWKS
//! (`GATEWAY_JWKS_URL`). Each key pins its algorithm: a token's `alg` must be that key's, so
//! `none` and HS/RS confusion (an HS256 token "signed" with an RSA public key) are refused
//! before any signature is computed. `exp` and `sub` are required; `nbf`, `iss` and `aud` are
//! checked (the last two when configured), with a small clock skew.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use stack_common::identity::Identity;

use super::jwks::Jwks;
use super::AuthError;

/// Clock difference tolerated between the identity provider and the gateway.
pub const LEEWAY_SECS: u64 = 30;
/// A subject longer than this is refused (it becomes a recording's `userId`).
const MAX_SUBJECT: usize = 128;

pub struct Verifier {
    secret: Option<DecodingKey>,
    jwks: Option<Jwks>,
    issuer: Option<String>,
    audience: Option<String>,
}

/// The claims the gateway reads; the rest of a token is not its business.
#[derive(Deserialize)]
struct Claims {
    /// Optional here so that a token without one is "lacks the sub claim", not "malformed".
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    roles: Roles,
}

/// `roles` as an array of strings or as one space-separated string (both are seen in the wild).
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Roles {
    #[default]
    None,
    List(Vec<String>),
    Spaced(String),
}

impl Roles {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::List(roles) => roles,
            Self::Spaced(roles) => roles.split_whitespace().map(str::to_owned).collect(),
        }
    }
}

impl Verifier {
    pub fn new(
        secret: Option<DecodingKey>,
        jwks: Option<Jwks>,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> Self {
        Self {
            secret,
            jwks,
            issuer,
            audience,
        }
    }

    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The identity in `token`, if it verifies.
    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let header = match jsonwebtoken::decode_header(token) {
            Ok(header) => header,
            // Say which algorithm when the header names one this library does not know
            // (`none` among them), rather than only "malformed".
            Err(_) => {
                return Err(declared_alg(token)
                    .map(AuthError::Algorithm)
                    .unwrap_or(AuthError::Malformed))
            }
        };
        let (key, algorithm) = match header.alg {
            Algorithm::HS256 => match &self.secret {
                Some(secret) => (KeyRef::Secret(secret), Algorithm::HS256),
                None => return Err(AuthError::Algorithm("HS256".to_owned())),
            },
            alg => match &self.jwks {
                Some(jwks) => {
                    let key = jwks.key(header.kid.as_deref()).await?;
                    if key.algorithm != alg {
                        return Err(AuthError::Algorithm(format!("{alg:?}")));
                    }
                    let algorithm = key.algorithm;
                    (KeyRef::Published(key), algorithm)
                }
                None => return Err(AuthError::Algorithm(format!("{alg:?}"))),
            },
        };
        let validation = self.validation(algorithm);
        let data = jsonwebtoken::decode::<Claims>(token, key.decoding(), &validation)?;
        let subject = data
            .claims
            .sub
            .ok_or_else(|| AuthError::MissingClaim("sub".to_owned()))?;
        if subject.trim().is_empty()
            || subject.chars().count() > MAX_SUBJECT
            || subject.chars().any(char::is_control)
        {
            return Err(AuthError::BadSubject);
        }
        Ok(Identity {
            subject,
            roles: data.claims.roles.into_vec(),
        })
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match &self.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

enum KeyRef<'a> {
    Secret(&'a DecodingKey),
    Published(std::sync::Arc<super::jwks::Key>),
}

impl KeyRef<'_> {
    fn decoding(&self) -> &DecodingKey {
        match self {
            Self::Secret(key) => key,
            Self::Published(key) => &key.decoding,
        }
    }
}

/// The `alg` a token's header declares, read without trusting anything else in it.
fn declared_alg(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let alg = value.get("alg")?.as_str()?;
    Some(alg.chars().take(16).collect())
}
