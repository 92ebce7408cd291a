use std::fmt;

/// The original gateway's name for a socket (`sessionId` in its `/record/*` calls). It keys an
/// HTTP-driven session and, without a `metaId`, starts the file name, so it is held to the
/// same safe set as a `metaId`: ASCII letters, digits, `-` and `_`, 1 to 64 of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionKeyError {
    #[error("sessionId is required")]
    Missing,
    #[error("sessionId is longer than {} characters", SessionKey::MAX_LEN)]
    TooLong,
    #[error("sessionId may hold only ASCII letters, digits, '-' and '_'")]
    BadCharacter,
}

impl SessionKey {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, SessionKeyError> {
        if raw.is_empty() {
            return Err(SessionKeyError::Missing);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(SessionKeyError::TooLong);
        }
        let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if !raw.chars().all(safe) {
            return Err(SessionKeyError::BadCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_spring_session_ids_and_refuses_paths() {
        assert!(SessionKey::parse("0").is_ok());
        assert!(SessionKey::parse("3f2a9c1e-77b0-4c5e-9f1e-2a6b1c0d9e8f").is_ok());
        assert_eq!(SessionKey::parse(""), Err(SessionKeyError::Missing));
        assert_eq!(
            SessionKey::parse("../etc"),
            Err(SessionKeyError::BadCharacter)
        );
        assert_eq!(
            SessionKey::parse(&"a".repeat(65)),
            Err(SessionKeyError::TooLong)
        );
    }
}
