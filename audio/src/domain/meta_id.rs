use std::fmt;

/// The client's name for a recording; it becomes the start of a file name, so only a safe set of
/// characters is allowed: ASCII letters, digits, `-` and `_`, 1 to 64 of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetaIdError {
    #[error("metaId is longer than {} characters", MetaId::MAX_LEN)]
    TooLong,
    #[error("metaId may hold only ASCII letters, digits, '-' and '_'")]
    BadCharacter,
}

impl MetaId {
    pub const MAX_LEN: usize = 64;

    /// An absent or empty `metaId` means "none" (the original page sends an empty string).
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, MetaIdError> {
        match raw {
            None | Some("") => Ok(None),
            Some(value) => Self::parse(value).map(Some),
        }
    }

    pub fn parse(raw: &str) -> Result<Self, MetaIdError> {
        if raw.len() > Self::MAX_LEN {
            return Err(MetaIdError::TooLong);
        }
        let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if raw.is_empty() || !raw.chars().all(safe) {
            return Err(MetaIdError::BadCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MetaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_safe_names() {
        assert_eq!(
            MetaId::parse("lecture-01_a").unwrap().as_str(),
            "lecture-01_a"
        );
        assert_eq!(MetaId::parse_optional(Some("")).unwrap(), None);
        assert_eq!(MetaId::parse_optional(None).unwrap(), None);
    }

    #[test]
    fn refuses_path_characters_and_nul() {
        for bad in ["../x", "a/b", "..", ".", "a\0b", "a b", "é", "a\\b", "/etc"] {
            assert_eq!(
                MetaId::parse(bad),
                Err(MetaIdError::BadCharacter),
                "{bad:?}"
            );
        }
        assert_eq!(MetaId::parse(&"a".repeat(65)), Err(MetaIdError::TooLong));
    }
}
