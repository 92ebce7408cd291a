//! The recording list comes from the recording index, which every instance sharing it writes:
//! what another instance adds, changes or deletes shows in the next list, and a data folder
//! written before the index (one `meta/<id>.json` per recording) is imported on first start.

use audio::storage::{RecordingMeta, RecordingState, Storage};
use chrono::{TimeZone, Utc};
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_in, TestApp};

/// A finished recording's record as an instance writes it.
fn meta(minute: u32, meta_id: &str) -> RecordingMeta {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0).unwrap();
    RecordingMeta {
        id: Default::default(),
        session_id: format!("session-{minute}"),
        file_name: format!("{meta_id}_20260101000000.webm"),
        meta_id: Some(meta_id.into()),
        user_id: Some(format!("user-{}", minute % 2)),
        mime_type: "audio/webm".into(),
        status: RecordingState::Ready,
        size: 1,
        chunks: 1,
        created_at: at,
        updated_at: at,
        completed_at: Some(at),
        resume_token_sha256: String::new(),
        ended_as: Some(RecordingState::Completed),
        processing: Default::default(),
    }
}

/// `(total, metaIds of the page)` as the API lists them.
async fn listed(app: &TestApp, query: &str) -> (u64, Vec<String>) {
    let (status, page) = app.get_json(&format!("/api/recordings?{query}")).await;
    assert_eq!(status, 200, "{page}");
    let meta_ids = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["metaId"].as_str().unwrap().to_owned())
        .collect();
    (page["total"].as_u64().unwrap(), meta_ids)
}

/// The storage another instance sharing the data folder (and so its index) would open.
async fn other_instance(app: &TestApp) -> Storage {
    let dir = app.data_dir.path().to_owned();
    let (url, recordings) = (
        app.storage.database_url.clone(),
        app.storage.recordings_url.clone(),
    );
    actix_web::rt::task::spawn_blocking(move || {
        Storage::open(dir, url.as_deref(), recordings.as_deref()).unwrap()
    })
    .await
    .unwrap()
}

#[actix_rt::test]
async fn the_list_follows_what_other_instances_add_change_and_delete() {
    let app = spawn_app().await;
    let other = other_instance(&app).await;
    let metas: Vec<RecordingMeta> = (0..3).map(|m| meta(m, &format!("rec-{m}"))).collect();
    let (index, written) = (other.clone(), metas.clone());
    actix_web::rt::task::spawn_blocking(move || {
        written
            .iter()
            .for_each(|m| index.index().insert(m).unwrap())
    })
    .await
    .unwrap();
    assert_eq!(
        listed(&app, "").await,
        (3, vec!["rec-2".into(), "rec-1".into(), "rec-0".into()])
    );
    // Search: a case-insensitive prefix of metaId, userId or file name; wildcards are plain text.
    assert_eq!(listed(&app, "q=REC-1").await, (1, vec!["rec-1".into()]));
    assert_eq!(
        listed(&app, "q=rec-1_2026").await,
        (1, vec!["rec-1".into()])
    );
    assert_eq!(
        listed(&app, "q=ec-1").await.0,
        0,
        "a prefix, not a substring"
    );
    assert_eq!(listed(&app, "q=user-0").await.0, 2);
    assert_eq!(listed(&app, "q=rec%25").await.0, 0);
    assert_eq!(listed(&app, "q=rec_").await.0, 0);
    // Pages.
    let (_, page) = app.get_json("/api/recordings?limit=2&page=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["nextPage"], Value::Null);

    // Changed elsewhere: the next read shows it. A change conditional on a status that moved on
    // is refused.
    let mut failed = metas[1].clone();
    failed.status = RecordingState::Failed;
    let (index, changed) = (other.clone(), failed.clone());
    let (applied, refused) = actix_web::rt::task::spawn_blocking(move || {
        let applied = index
            .index()
            .update_if(&changed, &[RecordingState::Ready], None)
            .unwrap();
        let refused = index
            .index()
            .update_if(&changed, &[RecordingState::Ready], None)
            .unwrap();
        (applied, refused)
    })
    .await
    .unwrap();
    assert!(applied && !refused);
    let (_, one) = app
        .get_json(&format!("/api/recordings/{}", metas[1].id))
        .await;
    assert_eq!(one["status"], "failed");

    // Deleted elsewhere: gone from the list and from the original's file list.
    let (index, id) = (other.clone(), metas[0].id);
    actix_web::rt::task::spawn_blocking(move || index.index().delete(id).unwrap())
        .await
        .unwrap();
    assert_eq!(
        listed(&app, "").await,
        (2, vec!["rec-2".into(), "rec-1".into()])
    );
    let (_, files) = app.get_json("/api/files").await;
    assert_eq!(
        files,
        serde_json::json!(["rec-2_20260101000000.webm", "rec-1_20260101000000.webm"])
    );
}

#[actix_rt::test]
async fn a_data_folder_from_before_the_index_is_imported_once() {
    // As the previous version left it: one JSON file per recording in meta/.
    let data = tempfile::tempdir().unwrap();
    let folder = data.path().join("meta");
    std::fs::create_dir_all(&folder).unwrap();
    let metas: Vec<RecordingMeta> = (0..5).map(|m| meta(m, &format!("old-{m}"))).collect();
    for m in &metas {
        std::fs::write(
            folder.join(format!("{}.json", m.id)),
            serde_json::to_vec_pretty(m).unwrap(),
        )
        .unwrap();
    }
    std::fs::write(folder.join("broken.json"), b"{not json").unwrap();
    // And an event it had not delivered yet, in its outbox folder.
    let outbox = data.path().join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    let event = kafka_core::OutboxEntry::new(&kafka_core::RecordDeletedEvent {
        event_id: uuid::Uuid::new_v4(),
        recording_id: uuid::Uuid::new_v4(),
        session_id: "old".into(),
        user_id: None,
        file_name: "gone_20260101000000.webm".into(),
        deleted_at: Utc::now(),
        schema_version: kafka_core::SCHEMA_VERSION,
    })
    .unwrap();
    std::fs::write(
        outbox.join(format!("{}.json", event.id)),
        serde_json::to_vec(&event).unwrap(),
    )
    .unwrap();
    let app = spawn_app_in(data, |_| {}).await;
    assert_eq!(listed(&app, "").await.0, 5);
    let (_, one) = app
        .get_json(&format!("/api/recordings/{}", metas[3].id))
        .await;
    assert_eq!(one["metaId"], "old-3");
    assert_eq!(one["userId"], "user-1");
    // The files are kept, moved aside, the unreadable one among them.
    let kept = app.data_dir.path().join("meta.imported");
    assert_eq!(std::fs::read_dir(&kept).unwrap().count(), 6);
    assert!(!app.data_dir.path().join("meta").exists());
    // A second instance on the same folder finds nothing more to import.
    let other = other_instance(&app).await;
    let count = actix_web::rt::task::spawn_blocking(move || {
        other
            .index()
            .page(&audio::storage::RecordingQuery {
                page: 1,
                limit: 50,
                search: None,
                owner: None,
            })
            .unwrap()
            .total
    })
    .await
    .unwrap();
    assert_eq!(count, 5);
    // The undelivered event moved into the index's outbox and went out from there.
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 0);
    for _ in 0..100 {
        let metrics = awc::Client::new()
            .get(app.http("/metrics"))
            .send()
            .await
            .unwrap()
            .body()
            .await
            .unwrap();
        if String::from_utf8_lossy(&metrics).contains("audio_outbox_pending 0\n") {
            return;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the imported event was never delivered");
}
