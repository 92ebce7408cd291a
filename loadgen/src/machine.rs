//! The whole machine's CPU while the sessions run, from Linux's `/proc/stat`. With the servers
//! on the same machine (as in `scripts/bench`) it says how busy the load kept them, and it
//! leaves out the end-of-run check, which downloads every recording.

use serde::Serialize;

/// The machine's CPU counters since boot, in ticks, grouped as `top` groups them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuTicks {
    user: u64,
    system: u64,
    idle: u64,
    steal: u64,
}

impl CpuTicks {
    /// `None` where there is no `/proc/stat` (not Linux).
    pub fn read() -> Option<Self> {
        Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    fn parse(stat: &str) -> Option<Self> {
        let line = stat.lines().find(|line| line.starts_with("cpu "))?;
        let n: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|field| field.parse().unwrap_or(0))
            .collect();
        let at = |i: usize| n.get(i).copied().unwrap_or(0);
        // user nice system idle iowait irq softirq steal
        Some(Self {
            user: at(0) + at(1),
            system: at(2) + at(5) + at(6),
            idle: at(3) + at(4),
            steal: at(7),
        })
    }
}

/// Shares of the machine's CPU over a stretch of time, in percent.
#[derive(Debug, Serialize)]
pub struct MachineCpu {
    pub user: f64,
    pub system: f64,
    pub idle: f64,
    pub steal: f64,
}

impl MachineCpu {
    /// What the machine did between two readings; `None` if no tick passed.
    pub fn between(before: CpuTicks, after: CpuTicks) -> Option<Self> {
        let user = after.user.saturating_sub(before.user);
        let system = after.system.saturating_sub(before.system);
        let idle = after.idle.saturating_sub(before.idle);
        let steal = after.steal.saturating_sub(before.steal);
        let total = user + system + idle + steal;
        let percent = |part: u64| (1000 * part / total.max(1)) as f64 / 10.0;
        (total > 0).then(|| Self {
            user: percent(user),
            system: percent(system),
            idle: percent(idle),
            steal: percent(steal),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_grouped_and_shares_taken_over_the_stretch() {
        let before = CpuTicks::parse("cpu  100 0 50 800 10 0 0 0 0 0\ncpu0 1 2 3\n").unwrap();
        let after = CpuTicks::parse("cpu  130 10 70 840 20 5 5 10 0 0\ncpu0 1 2 3\n").unwrap();
        let cpu = MachineCpu::between(before, after).unwrap();
        // 40 user (with nice), 30 system (with irq and softirq), 50 idle (with iowait), 10 steal.
        assert_eq!(
            (cpu.user, cpu.system, cpu.idle, cpu.steal),
            (30.7, 23.0, 38.4, 7.6)
        );
        assert!(MachineCpu::between(after, after).is_none());
        assert!(CpuTicks::parse("intr 1 2 3\n").is_none());
    }
}
