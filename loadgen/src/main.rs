//! `loadgen`: N concurrent recording sessions against a recording WebSocket (through the
//! gateway, straight to an audio instance, or through any proxy). Each streams chunks at a set
//! size and interval (by default what MediaRecorder sends: about 5 KB every 250 ms), as binary
//! frames or as the original's JSON data-URL frames; every ack is checked, and at the end every
//! stored recording is checked to hold exactly the bytes sent. Prints the figures and writes
//! them as JSON.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
mod args;
mod machine;
mod progress;
mod report;
mod session;
mod verify;

use args::Args;
use machine::{CpuTicks, MachineCpu};
use progress::Progress;
use report::Report;
use session::{run_session, Phase, SessionResult};

fn main() {
    let args = Args::parse();
    if args.interval_ms == 0 && args.in_flight.is_none() {
        clap::Error::raw(
            clap::error::ErrorKind::ArgumentConflict,
            "--interval-ms 0 needs --in-flight: without a window the sessions would only flood\n",
        )
        .exit();
    }
    // A session holds a socket: the soft open-files limit (often 1,024) would cap the sessions
    // well below what the hard one allows.
    if let Ok(limit) = rlimit::increase_nofile_limit(u64::MAX) {
        if limit < args.sessions as u64 + 64 {
            eprintln!(
                "warning: {} sessions need about as many open files; the limit is {limit}",
                args.sessions
            );
        }
    }
    let args = Arc::new(args);
    let report_file = args.report.clone();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let max_total = Duration::from_secs(
        args.max_total_s
            .unwrap_or(args.ramp_up_s + args.duration_s + 120),
    );
    let system = actix_rt::System::new();
    let report = system.block_on(async move {
        let arbiters: Vec<actix_rt::Arbiter> =
            (0..threads).map(|_| actix_rt::Arbiter::new()).collect();
        let started = Instant::now();
        let start_at = started + Duration::from_millis(200);
        let progress = Arc::new(Progress::default());
        let mut receivers = Vec::new();
        for index in 0..args.sessions {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let phase = Phase::default();
            let (args, progress, session_phase) = (args.clone(), progress.clone(), phase.clone());
            // The session's future is not Send (awc); it is created on the arbiter's thread.
            arbiters[index % threads].spawn_fn(move || {
                actix_rt::spawn(async move {
                    let _ =
                        tx.send(run_session(index, args, start_at, progress, session_phase).await);
                });
            });
            receivers.push((rx, phase));
        }
        let reporter = (args.progress_s > 0).then(|| {
            let (every, sessions) = (Duration::from_secs(args.progress_s), args.sessions);
            actix_rt::spawn(async move {
                let mut ticks = actix_rt::time::interval_at((started + every).into(), every);
                loop {
                    ticks.tick().await;
                    eprintln!("{}", progress.line(started.elapsed(), sessions));
                }
            })
        });
        actix_rt::time::sleep_until(start_at.into()).await;
        let cpu_before = CpuTicks::read();
        // Every session's result as it ends; one still running at the bound counts as an error
        // that says where it was, and the others' figures stand.
        let bound = tokio::time::Instant::from_std(started + max_total);
        let mut results: Vec<SessionResult> = Vec::with_capacity(receivers.len());
        let mut unfinished = 0;
        for (rx, phase) in receivers {
            results.push(match tokio::time::timeout_at(bound, rx).await {
                Ok(result) => result.unwrap_or_default(),
                Err(_) => {
                    unfinished += 1;
                    SessionResult::unfinished(&phase)
                }
            });
        }
        if unfinished > 0 {
            eprintln!(
                "loadgen: {unfinished} sessions still running at the run's bound of {max_total:?}"
            );
        }
        let wall = started.elapsed();
        let machine_cpu = cpu_before
            .zip(CpuTicks::read())
            .and_then(|(before, after)| MachineCpu::between(before, after));
        if let Some(reporter) = reporter {
            reporter.abort();
        }
        for arbiter in arbiters {
            arbiter.stop();
        }

        let (verified, corrupted) = if args.no_verify {
            (0, 0)
        } else {
            verify::check_all(&args, &results).await
        };
        Report::new(
            &args,
            &results,
            start_at,
            (verified, corrupted),
            wall,
            machine_cpu,
        )
    });
    report.print();
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    if let Some(path) = &report_file {
        if let Err(err) = std::fs::write(path, &json) {
            eprintln!("loadgen: cannot write {}: {err}", path.display());
        }
    }
    let failed = report.chunks_lost > 0
        || report.files_corrupted > 0
        || report.sessions_completed < report.sessions_requested;
    std::process::exit(i32::from(failed));
}
