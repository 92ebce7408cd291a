//! Who is asking. With `AUDIO_IDENTITY_SECRET` set, every request but `/health`, `/metrics` and
//! the OpenAPI document must carry an identity the gateway vouched for
//! (`stack_common::identity`); a request straight to an instance without one, or with a forged
//! one, is refused 401. The caller then sees only their own recordings, and records as
//! themselves; the `admin` role sees everyone's.
//!
//! Without the secret the service is open (the embedded defaults): it cannot tell a gateway's
//! header from a client's, so it reads none, and everyone sees everything.

use std::future::{ready, Ready};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use stack_common::identity::{Identity, VouchCheck, HEADER};

use crate::error::ApiError;

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Open mode: no identities; everything is visible.
    Anyone,
    /// A user the gateway vouched for.
    User(Identity),
}

impl Caller {
    /// Whose recordings the caller may see: `None` for everyone's.
    pub fn owner_filter(&self) -> Option<&str> {
        match self {
            Self::User(identity) if !identity.is_admin() => Some(&identity.subject),
            _ => None,
        }
    }

    /// Whether the caller may see a recording of `user_id`.
    pub fn may_see(&self, user_id: Option<&str>) -> bool {
        self.owner_filter()
            .is_none_or(|owner| user_id == Some(owner))
    }

    /// The `userId` a new recording of this caller gets: their subject when there is one (what
    /// the client declared is ignored then), else what the client declared.
    pub fn recording_user(&self, declared: Option<String>) -> Option<String> {
        match self {
            Self::User(identity) => Some(identity.subject.clone()),
            Self::Anyone => declared,
        }
    }

    /// Where the caller's recording events go: `None` for every stream.
    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::User(identity) => Some(&identity.subject),
            Self::Anyone => None,
        }
    }
}

/// Paths anyone may reach: probes and the API's description.
fn is_public(path: &str) -> bool {
    matches!(path, "/health" | "/metrics" | "/api/openapi.json")
}

/// The middleware that requires a vouched identity (installed only with the secret).
pub async fn require(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !is_public(req.path()) {
        let check = req
            .app_data::<web::Data<VouchCheck>>()
            .expect("installed with its check");
        let header = req.headers().get(HEADER).and_then(|v| v.to_str().ok());
        let identity = check.check(header).map_err(ApiError::from)?;
        req.extensions_mut().insert(Caller::User(identity));
    }
    next.call(req).await
}

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Ok(req
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller::Anyone)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(subject: &str, roles: &[&str]) -> Caller {
        Caller::User(Identity {
            subject: subject.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        })
    }

    #[test]
    fn a_user_sees_their_own_an_admin_and_an_open_service_everyone_s() {
        let alice = user("alice", &[]);
        assert_eq!(alice.owner_filter(), Some("alice"));
        assert!(alice.may_see(Some("alice")));
        assert!(!alice.may_see(Some("bob")));
        assert!(!alice.may_see(None));
        for all in [user("root", &["admin"]), Caller::Anyone] {
            assert_eq!(all.owner_filter(), None);
            assert!(all.may_see(Some("bob")) && all.may_see(None));
        }
    }

    #[test]
    fn a_user_records_as_themselves_whatever_they_declare() {
        assert_eq!(
            user("alice", &[]).recording_user(Some("bob".into())),
            Some("alice".into())
        );
        assert_eq!(
            Caller::Anyone.recording_user(Some("bob".into())),
            Some("bob".into())
        );
        assert_eq!(Caller::Anyone.recording_user(None), None);
    }
}
