//! Post-processing must not take CPU from live recordings: its threads run at the scheduler's
//! idle priority unless told otherwise. Checked on real processes through `/proc`.

mod common;

use common::{audio_args, free_port, spawn_with, until_healthy, Proc};

/// Linux's `SCHED_IDLE` policy number, as `/proc/<pid>/task/<tid>/stat` reports it.
const SCHED_IDLE: u32 = 5;

/// The scheduling policy of each of the process's threads.
fn thread_policies(proc: &Proc) -> Vec<u32> {
    let tasks = format!("/proc/{}/task", proc.0.id());
    std::fs::read_dir(tasks)
        .unwrap()
        .map(|task| {
            let stat = std::fs::read_to_string(task.unwrap().path().join("stat")).unwrap();
            // The command name is in parentheses and may hold spaces: count fields after it.
            // `policy` is field 41; the text after ") " starts at field 3.
            let after_name = &stat[stat.rfind(')').unwrap() + 2..];
            after_name.split(' ').nth(41 - 3).unwrap().parse().unwrap()
        })
        .collect()
}

async fn audio_with(env: &[(&str, &str)]) -> (Proc, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut args = audio_args(port, data.path());
    args.extend(["--processing-workers".into(), "2".into()]);
    let audio = spawn_with("audio", &args, env, None);
    until_healthy(port).await;
    (audio, data)
}

#[actix_rt::test]
async fn post_processing_threads_run_at_idle_priority_and_nothing_else_does() {
    let (audio, _data) = audio_with(&[]).await;
    let policies = thread_policies(&audio);
    let idle = policies.iter().filter(|&&p| p == SCHED_IDLE).count();
    assert_eq!(
        idle, 2,
        "one idle thread per post-processing worker: {policies:?}"
    );
    assert!(
        policies.iter().all(|&p| p == SCHED_IDLE || p == 0),
        "every other thread stays at normal priority: {policies:?}"
    );
    assert!(
        policies.len() > 2,
        "the HTTP workers are there too: {policies:?}"
    );
}

#[actix_rt::test]
async fn with_background_processing_off_every_thread_is_normal() {
    let (audio, _data) = audio_with(&[("AUDIO_PROCESSING_BACKGROUND", "false")]).await;
    let policies = thread_policies(&audio);
    assert!(policies.iter().all(|&p| p == 0), "{policies:?}");
}
