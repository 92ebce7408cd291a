//! What memory that no process has touched yet costs this machine, page by page.
//!
//! On a virtual machine whose memory the host hands over lazily (and takes back when the guest
//! frees it), the first write to a page of fresh memory can cost several times what a page the
//! guest had already used costs: the host has to back it first. Every byte a recording adds to
//! the page cache (tmpfs or disk) is such a page, and so is every buffer that grows while the
//! services fall behind, so this figure is part of what the scale steps measure.
//!
//!     cargo bench -p loadgen --bench first_touch -- 8          # touch 8 GiB, one line per 512 MiB
//!     cargo bench -p loadgen --bench first_touch -- watch 90   # 16 MiB a second, kept, for 90 s
//!
//! The first form is for an idle machine. The second runs beside a load, to see whether slow
//! spells coincide with dearer pages; run it at a real-time priority on one core
//! (`chrt -f 50 taskset -c 0 ...`), or its timings include the wait for a CPU.

use std::hint::black_box;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

const PAGE: usize = 4096;
const STEP: usize = 512 << 20;
const WATCH_BLOCK: usize = 4 << 20;
const WATCH_EVERY: Duration = Duration::from_millis(250);

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.first().map(String::as_str) {
        Some("watch") => {
            let seconds: u64 = args.get(1).map_or(60, |a| a.parse().expect("seconds"));
            assert!(seconds > 0, "watch needs at least 1 second");
            watch(seconds);
        }
        first => {
            let gib: usize = first.map_or(8, |a| a.parse().expect("GiB to touch"));
            assert!(gib > 0, "at least 1 GiB to touch");
            sweep(gib);
        }
    }
}

/// Writes one byte into every page of `pages` (memory not touched before); microseconds a page.
fn touch(pages: &mut [MaybeUninit<u8>]) -> f64 {
    let started = Instant::now();
    for page in pages.chunks_mut(PAGE) {
        page[0].write(1);
    }
    let took = started.elapsed();
    // The writes are never read; this keeps them from being optimised away.
    black_box(pages.as_ptr());
    took.as_secs_f64() * 1e6 / pages.len().div_ceil(PAGE) as f64
}

fn sweep(gib: usize) {
    println!("touching {gib} GiB of fresh memory, one write a 4 KiB page");
    // One allocation, touched in steps, so that nothing is given back in between.
    let total = gib << 30;
    let mut buffer: Vec<u8> = Vec::with_capacity(total);
    let pages = buffer.spare_capacity_mut();
    let mut costs = Vec::new();
    for (index, step) in pages.chunks_mut(STEP).enumerate() {
        let us = touch(step);
        println!("  {:>6} MiB: {us:.2} us a page", ((index + 1) * STEP) >> 20);
        costs.push(us);
    }
    let cheapest = costs.iter().copied().fold(f64::INFINITY, f64::min);
    let dearest = costs.iter().copied().fold(0.0, f64::max);
    // Steps within half again of the cheapest count as "cheap"; the rest as the dear kind.
    let cheap = costs.iter().take_while(|&&us| us < cheapest * 1.5).count();
    println!(
        "first touch: {cheapest:.2} to {dearest:.2} us a page; the first {} MiB at under 1.5x the cheapest",
        (cheap * STEP) >> 20
    );
}

fn watch(seconds: u64) {
    println!(
        "every 250 ms: {} MiB of fresh memory touched (and kept); seconds, us a page",
        WATCH_BLOCK >> 20
    );
    let started = Instant::now();
    let mut kept = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        let tick = Instant::now();
        // An allocation this large is its own mapping: none of its pages touched yet.
        let mut block: Vec<u8> = Vec::with_capacity(WATCH_BLOCK);
        let us = touch(block.spare_capacity_mut());
        println!("{:.2} {us:.2}", (tick - started).as_secs_f64());
        // Kept, so that the next block cannot be these pages again.
        kept.push(block);
        std::thread::sleep(WATCH_EVERY.saturating_sub(tick.elapsed()));
    }
}
