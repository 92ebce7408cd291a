//! Ports for registries that others must know before they start (peers list each other), shared
//! by the registry's tests and the root's (included with `#[path]`).

use std::sync::atomic::{AtomicU16, Ordering};

/// A free port below the kernel's ephemeral range (32768 and up), so that the port-0 sockets
/// other tests open meanwhile cannot take it between the pick and the bind (a registry with
/// peers binds only after its start-up sync). Spread by the process id, so that test binaries
/// running at once rarely try the same ports.
pub fn below_ephemeral_range() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = std::process::id() % 6000;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + ((seed + u32::from(n) * 7) % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
