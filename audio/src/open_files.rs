//! The audio service's share of the open-files budget (the rule is `stack_common::open_files`).
//! A live session holds three descriptors (its socket, its recording's `.part` and `.idx`): at a
//! limit of 20,000, about 6,600 sessions. Past them, the upgrade is refused with 503
//! `too-many-sessions`.

/// Descriptors one live session holds.
pub const PER_SESSION: u64 = 3;

use stack_common::open_files::fits;
pub use stack_common::open_files::{raise_limit, RESERVED};

/// `wanted` (`--max-sessions`), or fewer when the open-files limit cannot hold that many at
/// `per_session` descriptors each.
pub fn cap_sessions(wanted: usize, limit: Option<u64>, per_session: u64) -> usize {
    let Some(limit) = limit else {
        return wanted;
    };
    let fit = fits(limit, per_session);
    if fit >= wanted {
        log::info!("open files limit {limit}: room for {fit} sessions, {wanted} allowed");
        return wanted;
    }
    log::warn!(
        "{wanted} sessions need about {} open files, and the limit is {limit}: accepting at most \
         {fit} at once (raise the limit with `ulimit -n`, or LimitNOFILE= under systemd)",
        wanted as u64 * per_session + RESERVED
    );
    fit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_the_reserve_and_the_descriptors_of_each_session() {
        assert_eq!(cap_sessions(10_000, Some(20_000), PER_SESSION), 6_581);
        assert_eq!(cap_sessions(10_000, Some(1_048_576), PER_SESSION), 10_000);
        assert_eq!(cap_sessions(10_000, Some(1_024), PER_SESSION), 256);
        assert_eq!(cap_sessions(10_000, Some(100), PER_SESSION), 0);
        assert_eq!(cap_sessions(10_000, None, PER_SESSION), 10_000);
        // Two instances and the gateway in one process: five a session, halved.
        assert_eq!(cap_sessions(10_000, Some(20_000), 10), 1_974);
    }
}
