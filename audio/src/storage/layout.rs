use std::io;
use std::path::{Path, PathBuf};

use crate::domain::RecordingId;

/// Where recordings in progress live under the data folder. Paths are only ever built from
/// parsed domain types, never from raw client strings. Private to the storage: the rest of the
/// service reaches recordings through the index and the store.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Creates the folders when missing.
    pub fn create(root: impl Into<PathBuf>) -> io::Result<Self> {
        let layout = Self { root: root.into() };
        std::fs::create_dir_all(layout.partial_dir())?;
        Ok(layout)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn partial_dir(&self) -> PathBuf {
        self.root.join("partial")
    }

    pub fn part_file(&self, id: RecordingId) -> PathBuf {
        self.partial_dir().join(format!("{id}.part"))
    }

    /// Written when a recording's end was asked but could not be recorded yet (the index
    /// unreachable): its content is how it ended, so that whoever finishes it later keeps that.
    pub fn end_file(&self, id: RecordingId) -> PathBuf {
        self.partial_dir().join(format!("{id}.end"))
    }

    pub fn index_file(&self, id: RecordingId) -> PathBuf {
        self.partial_dir().join(format!("{id}.idx"))
    }
}
