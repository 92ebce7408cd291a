//! The original's page calls `mediaRecorder.stop()` and sends `record-end` at once; the
//! recorder's last chunk (the last second of speech) is read asynchronously and arrives after
//! `record-end`. A client that numbers its chunks (`seq`) or sends them as binary frames knows
//! what it sent and gets an immediate finish; for any other, `record-end` finishes the recording
//! a short grace later, and chunks that arrive meanwhile still belong to it.

use std::time::Duration;

/// What a session has seen of its client's chunks since its recording started.
#[derive(Debug, Default, Clone, Copy)]
pub struct ChunkStyle {
    /// A chunk came with a `seq`, or as a binary frame.
    numbered: bool,
}

impl ChunkStyle {
    pub fn saw(&mut self, seq: Option<u64>) {
        self.numbered |= seq.is_some();
    }

    pub fn saw_binary(&mut self) {
        self.numbered = true;
    }

    /// How long `record-end` waits before finishing: nothing for a client that numbers its
    /// chunks, `grace` for any other (including one that has sent no chunk yet: a recording
    /// shorter than the recorder's timeslice has only its late chunk).
    pub fn end_delay(&self, grace: Duration) -> Duration {
        if self.numbered {
            Duration::ZERO
        } else {
            grace
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unnumbered_clients_wait() {
        let grace = Duration::from_millis(1500);
        let mut style = ChunkStyle::default();
        assert_eq!(style.end_delay(grace), grace);
        style.saw(None);
        assert_eq!(style.end_delay(grace), grace);
        style.saw(Some(0));
        assert_eq!(style.end_delay(grace), Duration::ZERO);
        let mut binary = ChunkStyle::default();
        binary.saw_binary();
        assert_eq!(binary.end_delay(grace), Duration::ZERO);
    }
}
