use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// A recording's identity: a UUID chosen by the server. Parsing a client's id as a UUID is what
/// keeps ids from ever naming a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingId(Uuid);

#[derive(Debug, thiserror::Error)]
#[error("not a recording id (a UUID is expected)")]
pub struct RecordingIdError;

impl RecordingId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// First eight hex digits, used to make a file name unique.
    pub fn short(&self) -> String {
        self.0.simple().to_string()[..8].to_owned()
    }
}

impl From<Uuid> for RecordingId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl Default for RecordingId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for RecordingId {
    type Err = RecordingIdError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(raw).map(Self).map_err(|_| RecordingIdError)
    }
}

impl fmt::Display for RecordingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl serde::Serialize for RecordingId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for RecordingId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Uuid::deserialize(deserializer).map(Self)
    }
}
