use std::io;
use std::path::{Path, PathBuf};

use crate::domain::{FileName, RecordingId};

/// Where each kind of file lives under the data folder. Paths are only ever built from parsed
/// domain types, never from raw client strings.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Creates the folders when missing.
    pub fn create(root: impl Into<PathBuf>) -> io::Result<Self> {
        let layout = Self { root: root.into() };
        for dir in [layout.recordings_dir(), layout.partial_dir()] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(layout)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn recordings_dir(&self) -> PathBuf {
        self.root.join("recordings")
    }

    pub fn partial_dir(&self) -> PathBuf {
        self.root.join("partial")
    }

    pub fn recording_file(&self, name: &FileName) -> PathBuf {
        self.recordings_dir().join(name.as_str())
    }

    pub fn part_file(&self, id: RecordingId) -> PathBuf {
        self.partial_dir().join(format!("{id}.part"))
    }

    pub fn index_file(&self, id: RecordingId) -> PathBuf {
        self.partial_dir().join(format!("{id}.idx"))
    }
}
