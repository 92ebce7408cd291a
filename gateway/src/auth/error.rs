//! Why a request was refused at the gateway's door: each a 401 with its own clear message
//! (RFC 6750's `error_description`), except signing keys that cannot be fetched (503: the
//! token may be fine, the gateway cannot tell).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("a token is required: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the Authorization header must be `Bearer <token>`")]
    NotBearer,
    #[error("the access_token query parameter is taken only on WebSocket upgrades; send the token in the Authorization header")]
    QueryNotAllowed,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm {0} is not accepted here")]
    Algorithm(String),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token lacks the {0} claim")]
    MissingClaim(String),
    #[error(
        "the token's subject is empty, longer than 128 characters, or holds control characters"
    )]
    BadSubject,
    #[error("the token names a signing key (kid) the identity provider does not publish")]
    UnknownKey,
    #[error("the token names no signing key (kid), and the identity provider publishes several")]
    NoKeyId,
    #[error("the access token is not valid")]
    WrongSharedToken,
    /// The identity provider's keys could not be fetched: not the client's fault.
    #[error("the identity provider's signing keys cannot be fetched; try again later")]
    KeysUnavailable,
}

impl AuthError {
    /// Whether the client could do better (401), or the gateway could not check (503).
    pub fn is_clients(&self) -> bool {
        !matches!(self, Self::KeysUnavailable)
    }
}

impl From<jsonwebtoken::errors::Error> for AuthError {
    fn from(err: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match err.kind() {
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::WrongIssuer,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                Self::Algorithm("of the token".to_owned())
            }
            _ => Self::Malformed,
        }
    }
}
