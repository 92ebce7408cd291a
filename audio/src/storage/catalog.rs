use std::io;

use serde::Serialize;

use super::{Layout, RecordingMeta, RecordingState};
use crate::domain::FileName;

/// The names of finished recordings, newest first: the original's `/api/files`.
pub fn list_file_names(layout: &Layout) -> io::Result<Vec<String>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(layout.recordings_dir())? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let metadata = entry.metadata()?;
        if !metadata.is_file() || FileName::parse(&name).is_err() {
            continue;
        }
        files.push((metadata.modified()?, name));
    }
    files.sort_by(|a, b| b.cmp(a));
    Ok(files.into_iter().map(|(_, name)| name).collect())
}

/// A page request: 1-based page number, page size, and an optional case-insensitive filter on
/// file name, metaId and userId.
#[derive(Debug, Clone)]
pub struct RecordingQuery {
    pub page: usize,
    pub limit: usize,
    pub search: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: usize,
    pub limit: usize,
    pub total: usize,
    pub next_page: Option<usize>,
}

/// Every recording's metadata, newest first, filtered and cut to one page. Sizes of recordings
/// in progress are read from their `.part` files, so they grow as chunks arrive.
pub fn list_recordings(layout: &Layout, query: &RecordingQuery) -> io::Result<Page<RecordingMeta>> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(layout.meta_dir())? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        match RecordingMeta::load(layout, id) {
            Ok(meta) => all.push(meta),
            // Deleted between the listing and the read.
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => log::warn!(
                "skipping unreadable metadata {}: {err}",
                name.to_string_lossy()
            ),
        }
    }
    if let Some(needle) = query.search.as_deref().map(str::to_lowercase) {
        all.retain(|meta| {
            [
                Some(&meta.file_name),
                meta.meta_id.as_ref(),
                meta.user_id.as_ref(),
            ]
            .into_iter()
            .flatten()
            .any(|field| field.to_lowercase().contains(&needle))
        });
    }
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let total = all.len();
    let start = (query.page - 1).saturating_mul(query.limit);
    let mut items: Vec<RecordingMeta> = all.into_iter().skip(start).take(query.limit).collect();
    for meta in items
        .iter_mut()
        .filter(|m| m.status == RecordingState::Recording)
    {
        if let Ok(part) = std::fs::metadata(layout.part_file(meta.id)) {
            meta.size = part.len();
        }
    }
    let next_page = (start + query.limit < total).then_some(query.page + 1);
    Ok(Page {
        items,
        page: query.page,
        limit: query.limit,
        total,
        next_page,
    })
}
