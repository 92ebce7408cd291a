use std::fmt;

/// The name of a stored recording, as it appears in `/api/files` and `/api/download/{fileName}`.
/// Only a plain name inside the recordings folder parses: ASCII letters, digits, `-`, `_` and
/// `.`, not starting with a dot, no `..`, at most 200 bytes. No separator, NUL or absolute path
/// can get through, whatever encoding the client used.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileNameError {
    #[error("file name is empty or longer than 200 bytes")]
    Length,
    #[error("file name may hold only ASCII letters, digits, '-', '_' and '.', and may not start with '.' or contain '..'")]
    Unsafe,
}

impl FileName {
    pub fn parse(raw: &str) -> Result<Self, FileNameError> {
        if raw.is_empty() || raw.len() > 200 {
            return Err(FileNameError::Length);
        }
        let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !raw.chars().all(safe) || raw.starts_with('.') || raw.contains("..") {
            return Err(FileNameError::Unsafe);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The extension after the last dot, if any.
    pub fn extension(&self) -> Option<&str> {
        self.0.rsplit_once('.').map(|(_, ext)| ext)
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_stored_names() {
        let name = FileName::parse("lecture_20261123213700.webm").unwrap();
        assert_eq!(name.extension(), Some("webm"));
    }

    #[test]
    fn refuses_everything_that_could_leave_the_folder() {
        for bad in [
            "../Cargo.toml",
            "..",
            "a/../../b",
            "/etc/passwd",
            "a\0.webm",
            ".hidden",
            "a\\b.webm",
            "%2e%2e%2f",
            "a..b",
            "",
        ] {
            assert!(FileName::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
