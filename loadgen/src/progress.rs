//! The run's figures while it runs, for a line on stderr every few seconds: a long run shows
//! that it is alive and whether it is keeping up before its report comes.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Counters shared by every session (on every thread); relaxed atomics, as they are only read
/// for the progress line.
#[derive(Default)]
pub struct Progress {
    connected: AtomicU64,
    finished: AtomicU64,
    acked: AtomicU64,
    errors: AtomicU64,
    /// The slowest ack since the last line, in microseconds.
    slowest_us: AtomicU32,
}

impl Progress {
    pub fn connected(&self) {
        self.connected.fetch_add(1, Relaxed);
    }

    pub fn acked(&self, latency_us: u32) {
        self.acked.fetch_add(1, Relaxed);
        self.slowest_us.fetch_max(latency_us, Relaxed);
    }

    pub fn finished(&self, errors: u64) {
        self.finished.fetch_add(1, Relaxed);
        self.errors.fetch_add(errors, Relaxed);
    }

    /// The line for `elapsed` into the run; starts the next period's slowest ack afresh.
    pub fn line(&self, elapsed: Duration, sessions: usize) -> String {
        let slowest = f64::from(self.slowest_us.swap(0, Relaxed)) / 1000.0;
        format!(
            "loadgen: {:>4} s: {} of {sessions} sessions connected, {} finished; {} chunks acked, \
             slowest since the last line {slowest:.1} ms; {} errors in finished sessions",
            elapsed.as_secs(),
            self.connected.load(Relaxed),
            self.finished.load(Relaxed),
            self.acked.load(Relaxed),
            self.errors.load(Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_and_takes_the_slowest_ack_of_its_period_only() {
        let progress = Progress::default();
        progress.connected();
        progress.connected();
        progress.acked(1_500);
        progress.acked(42_000);
        progress.acked(900);
        progress.finished(3);
        let line = progress.line(Duration::from_secs(10), 5);
        assert!(
            line.contains("2 of 5 sessions connected, 1 finished"),
            "{line}"
        );
        assert!(line.contains("3 chunks acked"), "{line}");
        assert!(
            line.contains("slowest since the last line 42.0 ms"),
            "{line}"
        );
        assert!(line.contains("3 errors"), "{line}");
        let next = progress.line(Duration::from_secs(20), 5);
        assert!(
            next.contains("slowest since the last line 0.0 ms"),
            "{next}"
        );
    }
}
