//! The open-files budget. A live session holds three descriptors (its socket, its recording's
//! `.part` and `.idx`), so on many machines the open-files limit, not CPU or memory, is what caps
//! sessions first: at 20,000, about 6,600. Past the limit, opening a recording fails inside a
//! session that was already accepted, and the listener stops accepting for a while (health
//! checks included). Capping the sessions below it turns that into a clean 503
//! `too-many-sessions` at the upgrade.

/// Descriptors one live session holds.
pub const PER_SESSION: u64 = 3;

/// Descriptors kept for everything else: listeners, the runtime's pollers, the registry and
/// Kafka clients, post-processing, downloads in progress (an idle instance has about 25).
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

/// How many sessions fit under `limit` open files, past the reserve, at `per_session`
/// descriptors each.
pub fn sessions_within(limit: u64, per_session: u64) -> usize {
    usize::try_from(limit.saturating_sub(RESERVED) / per_session.max(1)).unwrap_or(usize::MAX)
}

/// `wanted` (`--max-sessions`), or fewer when the open-files limit cannot hold that many at
/// `per_session` descriptors each.
pub fn cap_sessions(wanted: usize, limit: Option<u64>, per_session: u64) -> usize {
    let Some(limit) = limit else {
        return wanted;
    };
    let fit = sessions_within(limit, per_session);
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
