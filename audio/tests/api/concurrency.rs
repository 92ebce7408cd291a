use futures_util::future::join_all;

use crate::helpers::*;

/// Different data per session: session `n` sends chunks whose bytes all encode `n` and the
/// chunk index, with sizes that differ, interleaved with every other session.
fn session_chunks(n: usize) -> Vec<Vec<u8>> {
    (0..12)
        .map(|i| {
            let len = 500 + (n * 37 + i * 101) % 3000;
            (0..len)
                .map(|j| ((n * 131 + i * 7 + j) % 251) as u8)
                .collect()
        })
        .collect()
}

#[actix_rt::test]
async fn fifty_concurrent_sessions_never_mix_bytes() {
    let app = spawn_app().await;
    let sessions = (0..50).map(|n| {
        let app = &app;
        async move {
            let mut ws = app.ws().await;
            let started = ws.start(Some(&format!("concurrent-{n}"))).await;
            let chunks = session_chunks(n);
            // Half of them speak JSON, half binary: both paths run at once.
            if n % 2 == 0 {
                ws.stream_binary(&chunks, 0, 0).await;
            } else {
                ws.stream_json(&chunks, 0, 0).await;
            }
            let completed = ws.end().await;
            (n, started, completed)
        }
    });
    let results = join_all(sessions).await;
    let mut names = std::collections::HashSet::new();
    for (n, started, completed) in results {
        let name = completed["fileName"].as_str().unwrap().to_owned();
        assert!(names.insert(name.clone()), "two sessions got {name}");
        assert_eq!(completed["recordingId"], started["recordingId"]);
        let stored = app.stored(&name).await.unwrap();
        assert_eq!(
            stored,
            session_chunks(n).concat(),
            "session {n} file {name} differs"
        );
    }
    let (_, files) = app.get_json("/api/files").await;
    assert_eq!(files.as_array().unwrap().len(), 50);
    let (_, page) = app.get_json("/api/recordings?limit=200").await;
    assert_eq!(page["total"], 50);
}

#[actix_rt::test]
async fn sessions_with_the_same_meta_id_in_the_same_second_keep_separate_files() {
    let app = spawn_app().await;
    let mut a = app.ws().await;
    let mut b = app.ws().await;
    a.start(Some("same")).await;
    b.start(Some("same")).await;
    a.stream_binary(&[vec![1; 100]], 0, 0).await;
    b.stream_binary(&[vec![2; 200]], 0, 0).await;
    let ca = a.end().await;
    let cb = b.end().await;
    assert_ne!(ca["fileName"], cb["fileName"]);
    let name = |c: &serde_json::Value| c["fileName"].as_str().unwrap().to_owned();
    assert_eq!(app.stored(&name(&ca)).await.unwrap(), vec![1; 100]);
    assert_eq!(app.stored(&name(&cb)).await.unwrap(), vec![2; 200]);
}
