//! Recursive operations (delete, chmod, chown): the whole tree is planned and every entry
//! authorized before anything changes; then exactly the planned entries are changed.

use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{FileType, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;

use super::cedar::action::{Chmod, Chown};
use super::error::FsError;
use super::path;
use super::sys::{
    self, Removal, chmod_fd, chown_at, chown_fd, file_type, lstat_at, open_dir_at, read_entries,
    try_open_dir_at, unlink_at,
};
use crate::authz::Granted;
use crate::bindings::wit_fs as wit;
use crate::limits::Clock;

/// Most entries one directory listing returns, and most entries a recursive delete, chmod or
/// chown plans (and authorizes) before refusing.
pub const MAX_TREE_ENTRIES: usize = 100_000;

/// One entry of a directory tree planned for a recursive operation.
pub(crate) struct Planned {
    pub(crate) name: String,
    pub(crate) is_dir: bool,
    pub(crate) children: Vec<Planned>,
}

/// Plans a recursive `what` (e.g. "delete") of everything below `dir`, calling `authorize`
/// for each entry (whether it is a directory, and its absolute path) before anything is
/// changed.
///
/// Like every function here, it checks the run's `clock` at each entry: a deadline or a
/// cancellation stops it between two entries.
pub(crate) fn plan(
    clock: &Clock,
    dir: BorrowedFd<'_>,
    path: &str,
    what: &str,
    authorize: &mut dyn FnMut(bool, &str) -> Result<(), FsError>,
) -> Result<Vec<Planned>, FsError> {
    let mut count = 0;
    plan_in(clock, dir, path, what, &mut count, authorize)
}

fn plan_in(
    clock: &Clock,
    dir: BorrowedFd<'_>,
    path: &str,
    what: &str,
    count: &mut usize,
    authorize: &mut dyn FnMut(bool, &str) -> Result<(), FsError>,
) -> Result<Vec<Planned>, FsError> {
    let mut out = Vec::new();
    for entry in read_entries(dir, path, MAX_TREE_ENTRIES)? {
        clock.check()?;
        *count += 1;
        if *count > MAX_TREE_ENTRIES {
            return Err(FsError::invalid_argument(format!(
                "recursive {what} of `{path}` refused: more than {MAX_TREE_ENTRIES} entries"
            )));
        }
        let child_path = path::join(path, &entry.name);
        // `read_entries` replaced undecodable bytes with U+FFFD; such a name cannot be opened
        // again by its text, so the whole operation is refused rather than done partly.
        if entry.name.contains('\u{fffd}') {
            return Err(FsError::invalid_path(format!(
                "recursive {what} of `{path}` refused: an entry name is not valid UTF-8"
            )));
        }
        let is_dir = entry.entry_type == wit::EntryType::Dir;
        authorize(is_dir, &child_path)?;
        let children = if is_dir {
            let fd = open_dir_at(dir, &entry.name, &child_path)?;
            plan_in(clock, fd.as_fd(), &child_path, what, count, authorize)?
        } else {
            Vec::new()
        };
        out.push(Planned {
            name: entry.name,
            is_dir,
            children,
        });
    }
    Ok(out)
}

/// Deletes exactly the planned entries (never anything that appeared after planning: a
/// directory that gained entries fails to delete).
pub(crate) fn remove<A: Removal>(
    granted: &Granted<A>,
    clock: &Clock,
    dir: BorrowedFd<'_>,
    path: &str,
    plan: &[Planned],
) -> Result<(), FsError> {
    for item in plan {
        clock.check()?;
        let child_path = path::join(path, &item.name);
        if item.is_dir {
            let fd = open_dir_at(dir, &item.name, &child_path)?;
            remove(granted, clock, fd.as_fd(), &child_path, &item.children)?;
        }
        unlink_at(granted, dir, &item.name, item.is_dir, &child_path)?;
    }
    Ok(())
}

/// What a recursive metadata change does to each entry, with the proof that allows it.
#[derive(Clone, Copy)]
pub(crate) enum Change<'g> {
    Mode(Mode, &'g Granted<Chmod>),
    Owner(Option<Uid>, Option<Gid>, &'g Granted<Chown>),
}

impl Change<'_> {
    /// Applies the change to an open descriptor.
    pub(crate) fn apply_fd(self, fd: BorrowedFd<'_>, path: &str) -> Result<(), FsError> {
        match self {
            Change::Mode(mode, g) => chmod_fd(g, fd, mode, path),
            Change::Owner(u, gid, g) => chown_fd(g, fd, u, gid, path),
        }
    }
}

/// Refuses a recursive change when a planned regular file has other hard links (see
/// `FsView::single_link`); checked for the whole tree before anything changes.
pub(crate) fn check_links(
    clock: &Clock,
    dir: BorrowedFd<'_>,
    dir_path: &str,
    plan: &[Planned],
) -> Result<(), FsError> {
    for item in plan {
        clock.check()?;
        let child = path::join(dir_path, &item.name);
        if item.is_dir {
            let fd = open_dir_at(dir, &item.name, &child)?;
            check_links(clock, fd.as_fd(), &child, &item.children)?;
            continue;
        }
        let st = lstat_at(dir, &item.name, &child)?;
        if file_type(&st) == FileType::RegularFile && st.st_nlink > 1 {
            return Err(FsError::guest(wit::Error::Unsupported(format!(
                "refusing to change `{child}`: it has {} hard links, and another may be outside the policy",
                st.st_nlink
            ))));
        }
    }
    Ok(())
}

/// Applies `change` to every planned entry below `dir`, children before their directory.
/// Directories are reached with `O_NOFOLLOW`; a mode is set only on regular files and
/// directories, opened without following (a symlink has no mode of its own on Linux, and an
/// entry swapped for a symlink since planning is skipped, never followed).
pub(crate) fn change(
    clock: &Clock,
    dir: BorrowedFd<'_>,
    dir_path: &str,
    plan: &[Planned],
    change: Change<'_>,
) -> Result<(), FsError> {
    for item in plan {
        clock.check()?;
        let child = path::join(dir_path, &item.name);
        if item.is_dir {
            let fd = match try_open_dir_at(dir, &item.name) {
                Ok(fd) => fd,
                Err(Errno::LOOP | Errno::NOTDIR) => continue,
                Err(e) => return Err(FsError::io(e, &child)),
            };
            self::change(clock, fd.as_fd(), &child, &item.children, change)?;
            change.apply_fd(fd.as_fd(), &child)?;
            continue;
        }
        match change {
            Change::Owner(u, g, granted) => chown_at(granted, dir, &item.name, u, g, &child)?,
            Change::Mode(..) => {
                let st = lstat_at(dir, &item.name, &child)?;
                if sys::file_type(&st) != FileType::RegularFile {
                    continue;
                }
                let flags = OFlags::RDONLY
                    | OFlags::NOFOLLOW
                    | OFlags::NONBLOCK
                    | OFlags::NOCTTY
                    | OFlags::CLOEXEC;
                let fd = match rustix::fs::openat(dir, item.name.as_str(), flags, Mode::empty()) {
                    Ok(fd) => fd,
                    Err(Errno::LOOP) => continue,
                    Err(e) => return Err(FsError::io(e, &child)),
                };
                change.apply_fd(fd.as_fd(), &child)?;
            }
        }
    }
    Ok(())
}
