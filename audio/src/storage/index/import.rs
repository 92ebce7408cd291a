//! Upgrading a data folder written before the index: its `meta/<id>.json` files are imported
//! once, on the first start, and the folder is then renamed `meta.imported/` (kept, not
//! deleted: nothing users recorded is lost on upgrade, and the files can be read again).

use std::io;

use super::RecordingIndex;
use crate::storage::Layout;

/// Imports every `meta/*.json` the index does not hold yet; answers how many were added.
/// Several instances starting at once on one folder each import what is missing, and the
/// records are the same either way.
pub fn import_meta_folder(layout: &Layout, index: &dyn RecordingIndex) -> io::Result<usize> {
    let folder = layout.root().join("meta");
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let (mut added, mut unreadable) = (0, 0);
    // A thousand records a transaction: one commit (one fsync) each, not one per record.
    let mut batch = Vec::with_capacity(1000);
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read(&path)
            .map_err(|err| err.to_string())
            .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|err| err.to_string()))
        {
            Ok(meta) => batch.push(meta),
            Err(err) => {
                // Left where it is (in meta.imported/) for a person to look at.
                log::warn!("not imported: {}: {err}", path.display());
                unreadable += 1;
            }
        }
        if batch.len() == 1000 {
            added += index.insert_if_absent(&batch)?;
            batch.clear();
            log::info!(
                "importing {}: {added} recording(s) so far",
                folder.display()
            );
        }
    }
    added += index.insert_if_absent(&batch)?;
    let mut imported = layout.root().join("meta.imported");
    if imported.exists() {
        imported = layout.root().join(format!(
            "meta.imported-{}",
            chrono::Utc::now().format("%Y%m%d%H%M%S")
        ));
    }
    match std::fs::rename(&folder, &imported) {
        Ok(()) => {}
        // Another instance sharing the folder moved it first.
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    log::info!(
        "imported {added} recording(s) from {} into the index ({unreadable} unreadable); the files are kept in {}",
        folder.display(),
        imported.display()
    );
    Ok(added)
}

/// Moves the events an older version left in `outbox/` (one JSON file each, not yet delivered)
/// into the index's outbox, once: each is inserted (unless there already) and then its file
/// removed, so a crash in between only means the event is delivered twice.
pub fn import_outbox_folder(layout: &Layout, outbox: &kafka_core::Outbox) -> io::Result<usize> {
    use kafka_core::OutboxStore;
    let folder = layout.root().join("outbox");
    if !folder.is_dir() {
        return Ok(0);
    }
    let files = kafka_core::FileOutbox::open(&folder)?;
    let waiting = files.pending()?;
    for entry in &waiting {
        outbox.append(entry)?;
        files.remove(entry.id)?;
    }
    if !waiting.is_empty() {
        log::info!(
            "moved {} undelivered event(s) from {} into the index's outbox",
            waiting.len(),
            folder.display()
        );
    }
    Ok(waiting.len())
}
