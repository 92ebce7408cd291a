//! What the audio benches share.

/// The machine's CPU counters since boot, in ticks, from `/proc/stat`'s `cpu` line: user, nice,
/// system, idle, iowait, irq, softirq, steal, and what follows.
pub fn machine_ticks() -> Vec<u64> {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    stat.lines()
        .next()
        .expect("the cpu line")
        .split_whitespace()
        .skip(1)
        .map(|field| field.parse().unwrap_or(0))
        .collect()
}
