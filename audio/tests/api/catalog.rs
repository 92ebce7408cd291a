//! The recording list is kept between requests, but the data folder stays the truth: whatever
//! another instance sharing it writes, rewrites or deletes shows up in the next list, whether
//! the files are seconds or hours old.

use std::fs::File;
use std::time::{Duration, SystemTime};

use audio::storage::{Catalog, Layout, RecordingMeta, RecordingQuery, RecordingState};
use chrono::{TimeZone, Utc};
use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

/// A finished recording's metadata as an instance writes it.
fn meta(minute: u32, meta_id: &str) -> RecordingMeta {
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0).unwrap();
    RecordingMeta {
        id: Default::default(),
        session_id: format!("session-{minute}"),
        file_name: format!("{meta_id}_20260101000000.webm"),
        meta_id: Some(meta_id.into()),
        user_id: None,
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

/// Sets the mtime of the metadata folder and of every file in it an hour back, as if nothing
/// had changed for a long time.
fn age_everything(layout: &Layout) {
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for entry in std::fs::read_dir(layout.meta_dir()).unwrap() {
        File::options()
            .write(true)
            .open(entry.unwrap().path())
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
    }
    File::open(layout.meta_dir())
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
}

/// The list as the API serves it, or straight from a catalog that checks every file.
enum Lister<'a> {
    Api(&'a TestApp),
    CheckingEveryFile(Catalog),
}

async fn listed(lister: &Lister<'_>, query: &str) -> (u64, Vec<String>) {
    let page = match lister {
        Lister::Api(app) => {
            let (status, page) = app.get_json(&format!("/api/recordings?{query}")).await;
            assert_eq!(status, 200, "{page}");
            page
        }
        Lister::CheckingEveryFile(catalog) => {
            let search = query.strip_prefix("q=").map(str::to_owned);
            let page = catalog
                .list(&RecordingQuery {
                    page: 1,
                    limit: 50,
                    search,
                })
                .unwrap();
            serde_json::to_value(page).unwrap()
        }
    };
    let meta_ids = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["metaId"].as_str().unwrap().to_owned())
        .collect();
    (page["total"].as_u64().unwrap(), meta_ids)
}

#[actix_rt::test]
async fn the_list_follows_what_other_instances_write_rewrite_and_delete() {
    let app = spawn_app().await;
    // The layout another instance sharing the folder would use.
    let layout = Layout::create(app.data_dir.path()).unwrap();
    follows_the_folder(&layout, &Lister::Api(&app)).await;
    // A page shows each record as it is now, whatever the list kept.
    let (_, page) = app.get_json("/api/recordings?q=second-rewrite").await;
    assert_eq!(page["items"][0]["status"], Value::from("failed"));
}

#[actix_rt::test]
async fn without_inotify_the_list_follows_the_folder_too() {
    let data = tempfile::tempdir().unwrap();
    let layout = Layout::create(data.path()).unwrap();
    let lister = Lister::CheckingEveryFile(Catalog::without_watch(layout.clone()));
    follows_the_folder(&layout, &lister).await;
}

async fn follows_the_folder(layout: &Layout, app: &Lister<'_>) {
    let mut metas: Vec<RecordingMeta> = (0..3).map(|i| meta(i, &format!("old-{i}"))).collect();
    metas.iter().for_each(|m| m.save(layout).unwrap());
    age_everything(layout);

    // Twice: the second answer comes from what the first one read.
    for _ in 0..2 {
        assert_eq!(
            listed(app, "").await,
            (3, vec!["old-2".into(), "old-1".into(), "old-0".into()])
        );
    }

    // Rewritten (a new file renamed over the old one): its new fields are found.
    metas[0].meta_id = Some("renamed".into());
    metas[0].save(layout).unwrap();
    assert_eq!(listed(app, "q=renamed").await, (1, vec!["renamed".into()]));

    // Rewritten twice in quick succession, listed in between: the second version wins (the
    // file system may hand the second save the inode the first one freed).
    metas[1].meta_id = Some("first-rewrite".into());
    metas[1].save(layout).unwrap();
    assert_eq!(listed(app, "q=first-rewrite").await.0, 1);
    metas[1].meta_id = Some("second-rewrite".into());
    metas[1].save(layout).unwrap();
    assert_eq!(
        listed(app, "q=rewrite").await,
        (1, vec!["second-rewrite".into()])
    );
    assert_eq!(listed(app, "q=first-rewrite").await.0, 0);

    // Everything settled again, then one deleted and one restored from a backup with its old
    // mtime: both are seen.
    age_everything(layout);
    assert_eq!(listed(app, "").await.0, 3);
    std::fs::remove_file(layout.meta_file(metas[2].id)).unwrap();
    let restored = meta(30, "restored");
    restored.save(layout).unwrap();
    File::options()
        .write(true)
        .open(layout.meta_file(restored.id))
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    assert_eq!(
        listed(app, "").await,
        (
            3,
            vec!["restored".into(), "second-rewrite".into(), "renamed".into()]
        )
    );

    let mut changed = metas[1].clone();
    changed.status = RecordingState::Failed;
    changed.save(layout).unwrap();
}
