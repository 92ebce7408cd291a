//! The instance's optional Unix socket (`--unix-socket`): the same service as its TCP port,
//! advertised to the registry so that a gateway on the same host relays over it (see
//! `registry_client::local_socket` for why that is cheaper).

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The longest path a Unix socket address holds (`sun_path` is 108 bytes with its NUL).
pub const MAX_PATH_BYTES: usize = 107;

/// A bound Unix socket, removed again by [`LocalSocket::remove`] unless another process has
/// put its own in its place meanwhile.
#[derive(Debug)]
pub struct LocalSocket {
    path: PathBuf,
    /// The socket file's (device, inode) as bound.
    identity: (u64, u64),
}

impl LocalSocket {
    /// Binds `path`. Refuses a relative or too long path and any file there that is not a
    /// socket; replaces a socket left by a process that is gone (nothing accepts on it); refuses
    /// one a live process still serves. Creates the folder if needed.
    pub fn bind(path: &Path) -> io::Result<(Self, UnixListener)> {
        let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
        if !path.is_absolute() {
            return Err(invalid(format!(
                "unix socket {} must be an absolute path (the gateway connects to it from its own folder)",
                path.display()
            )));
        }
        let length = path.as_os_str().len();
        if length > MAX_PATH_BYTES {
            return Err(invalid(format!(
                "unix socket path {} is {length} bytes; a socket path holds at most {MAX_PATH_BYTES}",
                path.display()
            )));
        }
        match std::fs::symlink_metadata(path) {
            Ok(found) if !found.file_type().is_socket() => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            Ok(_) if accepting(path)? => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is served by another process", path.display()),
                ));
            }
            Ok(_) => {
                log::info!("removing the stale socket {}", path.display());
                std::fs::remove_file(path)?;
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let listener = UnixListener::bind(path)?;
        let bound = std::fs::symlink_metadata(path)?;
        Ok((
            Self {
                path: path.to_owned(),
                identity: (bound.dev(), bound.ino()),
            },
            listener,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the socket file once this server has stopped, unless another process has put
    /// something in its place: it must be a socket, with the inode bound here, that nobody
    /// accepts on (a freed inode number is soon given to a new file, so the inode alone is not
    /// enough; at worst another process's dead socket goes, which a start would remove anyway).
    pub fn remove(&self) {
        let ours = std::fs::symlink_metadata(&self.path).is_ok_and(|found| {
            found.file_type().is_socket() && (found.dev(), found.ino()) == self.identity
        });
        if ours && matches!(accepting(&self.path), Ok(false)) {
            if let Err(err) = std::fs::remove_file(&self.path) {
                log::warn!("could not remove {}: {err}", self.path.display());
            }
        }
    }
}

/// Whether a process accepts connections on the socket at `path` (`false`: connection refused,
/// the socket is stale); other errors (permissions, say) leave it unknown.
fn accepting(path: &Path) -> io::Result<bool> {
    match UnixStream::connect(path) {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_relative_long_and_non_socket_paths() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalSocket::bind(Path::new("audio.sock")).unwrap_err();
        assert!(err.to_string().contains("absolute"), "{err}");
        let long = dir.path().join("x".repeat(120));
        let err = LocalSocket::bind(&long).unwrap_err();
        assert!(err.to_string().contains("at most 107"), "{err}");
        let file = dir.path().join("data.txt");
        std::fs::write(&file, "keep me").unwrap();
        let err = LocalSocket::bind(&file).unwrap_err();
        assert!(err.to_string().contains("not a socket"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    }

    #[test]
    fn replaces_a_stale_socket_but_not_a_live_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/audio.sock");
        let (first, listener) = LocalSocket::bind(&path).unwrap();
        let err = LocalSocket::bind(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        // The first owner is gone without cleaning up: its file stays, nobody accepts.
        drop(listener);
        let (second, listener) = LocalSocket::bind(&path).unwrap();
        // The first owner's late clean-up leaves the second one's live socket alone (the new
        // file may well have the old one's inode number).
        first.remove();
        assert!(path.exists());
        // Once the second has stopped serving, its clean-up removes the file.
        drop(listener);
        second.remove();
        assert!(!path.exists());
        // A file someone else put there meanwhile is left alone.
        let (third, listener) = LocalSocket::bind(&path).unwrap();
        drop(listener);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "not ours").unwrap();
        third.remove();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not ours");
    }
}
