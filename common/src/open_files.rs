//! The open-files budget. Every live session or relayed socket holds a few descriptors, so on
//! many machines the open-files limit, not CPU or memory, caps them first. Past the limit,
//! opening a file fails inside work already accepted, and a listener stops accepting for a while
//! (health checks included). Capping below it turns that into a clean 503 at the upgrade.

/// Descriptors kept for everything else a process holds: listeners, the runtime's pollers, the
/// registry and Kafka clients, post-processing, plain HTTP requests in flight (an idle audio
/// instance has about 25).
pub const RESERVED: u64 = 256;

/// Raises the soft open-files limit to the hard one (what a process may do without privileges;
/// the soft limit is often 1,024) and answers the soft limit now in force, if it can be read.
pub fn raise_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(err) => {
            log::warn!("could not read or raise the open-files limit: {err}");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// How many things of `per_item` descriptors each fit under `limit` open files, past the
/// reserve.
pub fn fits(limit: u64, per_item: u64) -> usize {
    usize::try_from(limit.saturating_sub(RESERVED) / per_item.max(1)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_fits_leaves_the_reserve() {
        assert_eq!(fits(20_000, 3), 6_581);
        assert_eq!(fits(20_000, 2), 9_872);
        assert_eq!(fits(1_024, 3), 256);
        assert_eq!(fits(100, 3), 0);
        assert_eq!(
            fits(u64::MAX, 0),
            usize::try_from(u64::MAX - 256).unwrap_or(usize::MAX)
        );
    }
}
