//! Which metadata files changed since we last looked, from the kernel (inotify), so that the
//! recording list reads only those instead of checking every file.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io;
use std::path::Path;

use inotify::{EventMask, Inotify, WatchMask};

/// What happened in the folder since the last `drain`.
#[derive(Debug)]
pub enum Changes {
    /// These names were created, replaced, written or removed (possibly none).
    Names(HashSet<OsString>),
    /// The kernel dropped events (its queue overflowed) or the watch ended: look at everything.
    Lost,
}

pub struct MetaWatch {
    inotify: Inotify,
}

/// File systems shared between machines, by their `statfs` magic numbers: inotify there reports
/// only this machine's own changes, so changes from another machine would go unseen.
const SHARED_FILE_SYSTEMS: [(&str, u64); 9] = [
    ("NFS", 0x6969),
    ("SMB", 0x517b),
    ("CIFS", 0xff53_4d42),
    ("SMB2", 0xfe53_4d42),
    ("FUSE", 0x6573_5546),
    ("9P", 0x0102_1997),
    ("Ceph", 0x00c3_6400),
    ("GFS2", 0x0116_1970),
    ("OCFS2", 0x7461_636f),
];

impl MetaWatch {
    /// Starts watching `dir`. Changes made after this returns are reported by `drain`. Refused
    /// on a file system shared between machines.
    pub fn new(dir: &Path) -> io::Result<Self> {
        let kind = rustix::fs::statfs(dir)?.f_type as u64;
        if let Some((name, _)) = SHARED_FILE_SYSTEMS.iter().find(|(_, magic)| *magic == kind) {
            return Err(io::Error::other(format!(
                "{name} is shared between machines; inotify would see this machine's changes only"
            )));
        }
        let inotify = Inotify::init()?;
        inotify.watches().add(
            dir,
            WatchMask::CREATE
                | WatchMask::CLOSE_WRITE
                | WatchMask::MOVED_TO
                | WatchMask::MOVED_FROM
                | WatchMask::DELETE
                | WatchMask::DELETE_SELF
                | WatchMask::MOVE_SELF
                | WatchMask::ONLYDIR,
        )?;
        Ok(Self { inotify })
    }

    /// Everything queued so far. The kernel queues an event inside the system call that made
    /// the change, so a change whose call has returned (in any process) is in this answer.
    pub fn drain(&mut self) -> Changes {
        let mut names = HashSet::new();
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let events = match self.inotify.read_events(&mut buffer) {
                Ok(events) => events,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    return Changes::Names(names)
                }
                Err(err) => {
                    log::warn!("watching the metadata folder failed: {err}");
                    return Changes::Lost;
                }
            };
            for event in events {
                if event.mask.intersects(
                    EventMask::Q_OVERFLOW
                        | EventMask::IGNORED
                        | EventMask::DELETE_SELF
                        | EventMask::MOVE_SELF,
                ) {
                    return Changes::Lost;
                }
                if let Some(name) = event.name {
                    names.insert(name.to_owned());
                }
            }
        }
    }
}
