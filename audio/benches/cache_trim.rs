//! Page-cache benchmark: what appending at a recording rate costs the machine when the page
//! cache keeps everything written, and when the part written long enough ago is dropped from it
//! (`POSIX_FADV_DONTNEED`, as `audio::cache_trim` does for recordings in progress).
//!
//! One file, 64 KiB appends paced at `rate` MB/s up to `gib` GiB; in the `trim` run, every
//! 256 MiB the part more than `lag` MiB behind the end is dropped. Printed per GiB: this
//! process's CPU (the appends and the trimming); per run: that, and the whole machine's busy
//! time from `/proc/stat` (the kernel's writeback included). The `trim` run goes first; the
//! order matters little (both orders were measured when `cache_trim` was written).
//!
//!     CACHE_TRIM_DIR=/var/tmp cargo bench -p audio --bench cache_trim -- 10 100 2048
//!
//! The folder must be on the disk to be measured (not tmpfs, whose pages cannot be dropped).
//! The bench writes one file there, `cache-trim-bench.bin`, and removes it after each run.

use std::fs::{self, File};
use std::io::Write;
use std::num::NonZeroU64;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

mod support;

const WRITE: usize = 64 * 1024;
const TRIM_EVERY: u64 = 256 << 20;

fn main() {
    let dir = std::env::var_os("CACHE_TRIM_DIR")
        .expect("set CACHE_TRIM_DIR to a folder on the disk to measure");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let number = |i: usize, default: u64| {
        args.get(i)
            .map(|a| a.parse().expect("arguments: GiB, MB/s, lag in MiB"))
            .unwrap_or(default)
    };
    let (gib, rate, lag) = (number(0, 10), number(1, 100), number(2, 2048));
    let path = Path::new(&dir).join("cache-trim-bench.bin");
    for trim in [true, false] {
        let name = if trim { "trim" } else { "keep" };
        println!("{name}: {gib} GiB at {rate} MB/s, trimming {}", {
            if trim {
                format!("what is over {lag} MiB behind")
            } else {
                "nothing".to_owned()
            }
        });
        let busy_before = machine_busy_ticks();
        let cpu_before = process_cpu();
        let started = Instant::now();
        append(
            &path,
            gib << 30,
            rate * 1_000_000,
            trim.then_some(lag << 20),
        );
        let wall = started.elapsed().as_secs_f64();
        let cpu = process_cpu() - cpu_before;
        let busy = (machine_busy_ticks() - busy_before) as f64 / ticks_per_second();
        println!(
            "{name}: {wall:.1} s; this process {cpu:.2} s of CPU; machine busy {busy:.2} s \
             ({:.1}% of a core)",
            100.0 * busy / wall
        );
        fs::remove_file(&path).expect("remove the bench file");
        thread::sleep(Duration::from_secs(20));
    }
}

fn append(path: &Path, total: u64, bytes_per_second: u64, lag: Option<u64>) {
    let mut file = File::create(path).expect("create the bench file");
    let buffer = vec![7u8; WRITE];
    let started = Instant::now();
    let (mut written, mut cpu_mark) = (0u64, process_cpu());
    while written < total {
        file.write_all(&buffer).expect("append");
        written += WRITE as u64;
        let due = Duration::from_secs_f64(written as f64 / bytes_per_second as f64);
        if let Some(pause) = due.checked_sub(started.elapsed()) {
            thread::sleep(pause);
        }
        if let Some(lag) = lag.filter(|&lag| written % TRIM_EVERY == 0 && written > lag) {
            let end = NonZeroU64::new(written - lag);
            rustix::fs::fadvise(&file, 0, end, rustix::fs::Advice::DontNeed).expect("fadvise");
        }
        if written % (1 << 30) == 0 {
            let cpu = process_cpu();
            println!("  GiB {:>3}: {:.3} s of CPU", written >> 30, cpu - cpu_mark);
            cpu_mark = cpu;
        }
    }
}

/// This process's user and system time, in seconds.
fn process_cpu() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The machine's busy time so far (user, nice, system, irq, softirq), in ticks.
fn machine_busy_ticks() -> u64 {
    let cpu = support::machine_ticks();
    [0, 1, 2, 5, 6].iter().map(|&i| cpu[i]).sum()
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}
