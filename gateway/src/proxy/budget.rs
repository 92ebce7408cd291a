//! How many WebSockets the gateway relays at once. Each holds two descriptors (the client's
//! socket and the instance's), and past the open-files limit the listener stops accepting for a
//! while, every request with it. So an upgrade past the budget is refused with 503
//! `too-many-sessions` before an instance is asked.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Descriptors one relayed WebSocket holds.
pub const PER_RELAY: u64 = 2;

/// Relays open now, shared by the workers, and how many may be.
#[derive(Debug)]
pub struct RelayBudget {
    open: AtomicUsize,
    max: usize,
}

impl RelayBudget {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            open: AtomicUsize::new(0),
            max,
        })
    }

    /// The budget under an open-files limit (`None`: unknown, so unbounded).
    pub fn for_limit(limit: Option<u64>) -> Arc<Self> {
        // The same reserve and rule as the audio service's sessions.
        let max = limit.map_or(usize::MAX, |limit| {
            stack_common::open_files::fits(limit, PER_RELAY)
        });
        Self::new(max)
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A place for one relay, held until the permit is dropped; `None` when all are taken.
    pub fn try_take(self: &Arc<Self>) -> Option<RelayPermit> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .ok()
            .map(|_| RelayPermit(Arc::clone(self)))
    }
}

/// One relay's place in the budget.
#[derive(Debug)]
pub struct RelayPermit(Arc<RelayBudget>);

impl Drop for RelayPermit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_taken_up_to_the_budget_and_given_back_on_drop() {
        assert_eq!(RelayBudget::for_limit(Some(20_000)).max(), 9_872);
        assert_eq!(RelayBudget::for_limit(None).max(), usize::MAX);
        let budget = RelayBudget::new(2);
        let first = budget.try_take().expect("a first place");
        let _second = budget.try_take().expect("a second place");
        assert!(budget.try_take().is_none(), "no third place");
        drop(first);
        assert!(budget.try_take().is_some(), "the first place is free again");
    }
}
