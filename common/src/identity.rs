//! The identity the gateway vouches for: after it has verified a user's token, the gateway sends
//! the user's subject and roles to the audio service in the `X-Gateway-Identity` header, as a
//! short-lived JWT signed (HS256) with a secret only the gateway and the audio service hold
//! (`GATEWAY_IDENTITY_SECRET` = `AUDIO_IDENTITY_SECRET`). A client cannot forge it without the
//! secret, and the gateway drops any such header a client sends.
//!
//! It lives a minute: whoever can read the traffic between the gateway and the audio service
//! could replay one for that long, so that link belongs on a private network (see
//! `docs/security.md`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The header that carries it, lower-case as HTTP/2 and actix name headers.
pub const HEADER: &str = "x-gateway-identity";

/// The role that sees every user's recordings.
pub const ADMIN_ROLE: &str = "admin";

const ISSUER: &str = "gateway";
const AUDIENCE: &str = "audio-service";
/// How long a vouched identity is good for.
const LIFETIME: Duration = Duration::from_secs(60);
/// Clock difference tolerated between the gateway's host and the audio service's.
const LEEWAY_SECS: u64 = 5;

/// A verified user: who (`sub`) and with which roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub roles: Vec<String>,
}

impl Identity {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|role| role == ADMIN_ROLE)
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
    iss: String,
    aud: String,
    exp: u64,
}

/// The gateway's side: signs identities.
pub struct Voucher {
    key: EncodingKey,
}

/// The identity secret was set to an empty value.
#[derive(Debug, thiserror::Error)]
#[error("the identity secret is empty")]
pub struct EmptySecret;

impl Voucher {
    pub fn new(secret: &Secret) -> Result<Self, EmptySecret> {
        Ok(Self {
            key: EncodingKey::from_secret(secret.expose().as_bytes()).map_err(|_| EmptySecret)?,
        })
    }

    /// The header value that vouches for `identity` for the next minute.
    pub fn vouch(&self, identity: &Identity) -> String {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(LIFETIME)
            .as_secs();
        let claims = Claims {
            sub: identity.subject.clone(),
            roles: identity.roles.clone(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            exp,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .expect("HS256 signing with a byte key cannot fail")
    }
}

/// Why a vouched identity was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VouchError {
    #[error("this service takes requests only through the gateway (no X-Gateway-Identity)")]
    Missing,
    #[error("the X-Gateway-Identity header was not signed by the gateway, or has expired")]
    Invalid,
}

/// The audio service's side: checks identities.
pub struct VouchCheck {
    key: DecodingKey,
    validation: Validation,
}

impl VouchCheck {
    pub fn new(secret: &Secret) -> Result<Self, EmptySecret> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = LEEWAY_SECS;
        Ok(Self {
            key: DecodingKey::from_secret(secret.expose().as_bytes()).map_err(|_| EmptySecret)?,
            validation,
        })
    }

    /// The identity in a request's header value (`None`: the request had no such header).
    pub fn check(&self, header: Option<&str>) -> Result<Identity, VouchError> {
        let value = header.ok_or(VouchError::Missing)?;
        let data = jsonwebtoken::decode::<Claims>(value.trim(), &self.key, &self.validation)
            .map_err(|_| VouchError::Invalid)?;
        Ok(Identity {
            subject: data.claims.sub,
            roles: data.claims.roles,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[&str]) -> Identity {
        Identity {
            subject: "alice".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn an_identity_vouched_with_the_shared_secret_is_accepted() {
        let secret = Secret::new("shared");
        let header = Voucher::new(&secret).unwrap().vouch(&user(&["admin"]));
        let identity = VouchCheck::new(&secret)
            .unwrap()
            .check(Some(&header))
            .unwrap();
        assert_eq!(identity, user(&["admin"]));
        assert!(identity.is_admin());
        assert!(!user(&["administrator"]).is_admin());
    }

    #[test]
    fn a_forged_or_missing_identity_is_refused() {
        let check = VouchCheck::new(&Secret::new("shared")).unwrap();
        let forged = Voucher::new(&Secret::new("guessed"))
            .unwrap()
            .vouch(&user(&[]));
        assert_eq!(check.check(Some(&forged)), Err(VouchError::Invalid));
        assert_eq!(check.check(None), Err(VouchError::Missing));
        assert_eq!(check.check(Some("alice")), Err(VouchError::Invalid));
        // A client's own token for the same subject is not a gateway's vouch.
        let mut claims = serde_json::json!({"sub": "alice", "exp": 4_000_000_000u64});
        let client_token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"shared").unwrap(),
        )
        .unwrap();
        assert_eq!(check.check(Some(&client_token)), Err(VouchError::Invalid));
        // An expired one.
        claims = serde_json::json!({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": 1_000});
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"shared").unwrap(),
        )
        .unwrap();
        assert_eq!(check.check(Some(&expired)), Err(VouchError::Invalid));
    }
}
