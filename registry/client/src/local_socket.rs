//! The same-host shortcut. An instance may also listen on a Unix socket and say so in its
//! metadata: `unixSocket` (the path) with `bootId` (the kernel it runs on). A client on the same
//! kernel may connect there instead of to the TCP port. On loopback, every TCP write runs the
//! whole TCP stack twice (the sender's and, inline, the receiver's); a Unix socket write is a
//! copy into the peer's queue. A gateway relaying chunks to an instance beside it saves about a
//! third of the CPU its hop costs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Metadata key: the instance's Unix socket, an absolute path.
pub const UNIX_SOCKET: &str = "unixSocket";
/// Metadata key: the boot id of the kernel the instance runs on.
pub const BOOT_ID: &str = "bootId";

/// This kernel's boot id: new at every boot, the same in every container on one host, so two
/// processes that share it can reach each other's Unix sockets (given a shared path).
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
}

/// The metadata entries of an instance that listens on `path`, on this kernel; none when the
/// kernel's boot id cannot be read (nobody could then tell it is on their host).
pub fn advertise(path: &Path) -> Vec<(String, String)> {
    match boot_id() {
        Some(id) => vec![
            (UNIX_SOCKET.to_owned(), path.display().to_string()),
            (BOOT_ID.to_owned(), id),
        ],
        None => Vec::new(),
    }
}

/// The Unix socket of an instance with `metadata`, when it runs on the kernel whose boot id is
/// `own_boot_id` and the path is absolute (a relative one would mean another folder here).
pub fn same_host_socket(
    metadata: &BTreeMap<String, String>,
    own_boot_id: Option<&str>,
) -> Option<PathBuf> {
    let own = own_boot_id?;
    if metadata.get(BOOT_ID).map(String::as_str) != Some(own) {
        return None;
    }
    let path = PathBuf::from(metadata.get(UNIX_SOCKET)?);
    path.is_absolute().then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_socket_counts_only_on_the_same_kernel_and_as_an_absolute_path() {
        let here = metadata(&[(UNIX_SOCKET, "/run/audio.sock"), (BOOT_ID, "k1")]);
        assert_eq!(
            same_host_socket(&here, Some("k1")),
            Some(PathBuf::from("/run/audio.sock"))
        );
        assert_eq!(same_host_socket(&here, Some("k2")), None);
        assert_eq!(same_host_socket(&here, None), None);
        let relative = metadata(&[(UNIX_SOCKET, "run/audio.sock"), (BOOT_ID, "k1")]);
        assert_eq!(same_host_socket(&relative, Some("k1")), None);
        let no_boot_id = metadata(&[(UNIX_SOCKET, "/run/audio.sock")]);
        assert_eq!(same_host_socket(&no_boot_id, Some("k1")), None);
    }

    #[test]
    fn advertised_entries_are_recognised_on_this_host() {
        let path = Path::new("/tmp/x.sock");
        let entries: BTreeMap<String, String> = advertise(path).into_iter().collect();
        assert_eq!(
            same_host_socket(&entries, boot_id().as_deref()),
            Some(path.to_owned())
        );
    }
}
