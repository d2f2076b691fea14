//! Operations that change metadata, move or copy: each takes the [`Granted`] proof of the
//! decision that allows it (see `mod.rs`), and works on held descriptors and single names,
//! never on paths resolved again.

use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;

use cap_std::fs::Dir;
use rustix::fs::{AtFlags, FallocateFlags, Gid, Mode, OFlags, RenameFlags, Timestamps, Uid};
use rustix::io::Errno;

use super::{DIR_FLAGS, FsError, Planned, path};
use crate::authz::Granted;
use crate::bindings::wit_fs as wit;
use crate::limits::Meter;

/// Bytes copied per read/write step of a copy.
const COPY_CHUNK: usize = 1 << 20;

/// A user name or numeric id, resolved to a uid.
pub(crate) fn resolve_user(user: &str) -> Result<Uid, FsError> {
    if let Ok(id) = user.parse::<u32>() {
        return Ok(Uid::from_raw(id));
    }
    uzers::get_user_by_name(user)
        .map(|u| Uid::from_raw(u.uid()))
        .ok_or_else(|| FsError::invalid_argument(format!("no such user: `{user}`")))
}

/// A group name or numeric id, resolved to a gid.
pub(crate) fn resolve_group(group: &str) -> Result<Gid, FsError> {
    if let Ok(id) = group.parse::<u32>() {
        return Ok(Gid::from_raw(id));
    }
    uzers::get_group_by_name(group)
        .map(|g| Gid::from_raw(g.gid()))
        .ok_or_else(|| FsError::invalid_argument(format!("no such group: `{group}`")))
}

/// A permission mode from the guest: at most `0o7777`.
pub(crate) fn checked_mode(mode: u32) -> Result<Mode, FsError> {
    if mode > 0o7777 {
        return Err(FsError::Guest(wit::Error::InvalidArgument(format!(
            "permissions {mode:#o} are not a file mode (at most 0o7777)"
        ))));
    }
    Ok(Mode::from_raw_mode(mode))
}

/// `fchmod` on an open descriptor.
pub(crate) fn chmod_fd(
    _granted: &Granted,
    fd: BorrowedFd<'_>,
    mode: Mode,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::fchmod(fd, mode).map_err(|e| FsError::io(e, path))
}

/// `fchown` on an open descriptor (`None` leaves that id unchanged).
pub(crate) fn chown_fd(
    _granted: &Granted,
    fd: BorrowedFd<'_>,
    owner: Option<Uid>,
    group: Option<Gid>,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::fchown(fd, owner, group).map_err(|e| FsError::io(e, path))
}

/// `lchown` of the entry `name` in `dir`: a symlink itself is changed, never its target.
pub(crate) fn chown_at(
    _granted: &Granted,
    dir: BorrowedFd<'_>,
    name: &str,
    owner: Option<Uid>,
    group: Option<Gid>,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::chownat(dir, name, owner, group, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| FsError::io(e, path))
}

/// What a recursive metadata change does to one entry.
#[derive(Clone, Copy)]
pub(crate) enum Change {
    Mode(Mode),
    Owner(Option<Uid>, Option<Gid>),
}

/// Refuses a recursive change when a planned regular file has other hard links (see
/// `single_link` in `host.rs`); checked for the whole tree before anything changes.
pub(crate) fn check_links(
    dir: BorrowedFd<'_>,
    dir_path: &str,
    plan: &[Planned],
) -> Result<(), FsError> {
    for item in plan {
        let child = path::join(dir_path, &item.name);
        if item.is_dir {
            let fd = rustix::fs::openat(dir, item.name.as_str(), DIR_FLAGS, Mode::empty())
                .map_err(|e| FsError::io(e, &child))?;
            check_links(fd.as_fd(), &child, &item.children)?;
            continue;
        }
        let st = rustix::fs::statat(dir, item.name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| FsError::io(e, &child))?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
            && st.st_nlink > 1
        {
            return Err(FsError::Guest(wit::Error::Unsupported(format!(
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
pub(crate) fn change_tree(
    granted: &Granted,
    dir: BorrowedFd<'_>,
    dir_path: &str,
    plan: &[Planned],
    change: Change,
) -> Result<(), FsError> {
    for item in plan {
        let child = path::join(dir_path, &item.name);
        if item.is_dir {
            let fd = match rustix::fs::openat(dir, item.name.as_str(), DIR_FLAGS, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::LOOP | Errno::NOTDIR) => continue,
                Err(e) => return Err(FsError::io(e, &child)),
            };
            change_tree(granted, fd.as_fd(), &child, &item.children, change)?;
            match change {
                Change::Mode(mode) => chmod_fd(granted, fd.as_fd(), mode, &child)?,
                Change::Owner(u, g) => chown_fd(granted, fd.as_fd(), u, g, &child)?,
            }
            continue;
        }
        match change {
            Change::Owner(u, g) => chown_at(granted, dir, &item.name, u, g, &child)?,
            Change::Mode(mode) => {
                let st = rustix::fs::statat(dir, item.name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| FsError::io(e, &child))?;
                if rustix::fs::FileType::from_raw_mode(st.st_mode)
                    != rustix::fs::FileType::RegularFile
                {
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
                chmod_fd(granted, fd.as_fd(), mode, &child)?;
            }
        }
    }
    Ok(())
}

/// Overwrites `file` from offset 0 with `contents` and truncates it to that length.
pub(crate) fn overwrite(
    _granted: &Granted,
    file: &std::fs::File,
    contents: &[u8],
    path: &str,
) -> Result<(), FsError> {
    file.write_all_at(contents, 0)
        .map_err(|e| FsError::io(e, path))?;
    file.set_len(contents.len() as u64)
        .map_err(|e| FsError::io(e, path))?;
    file.sync_data().map_err(|e| FsError::io(e, path))
}

/// `ftruncate`.
pub(crate) fn set_len(
    _granted: &Granted,
    file: &std::fs::File,
    size: u64,
    path: &str,
) -> Result<(), FsError> {
    file.set_len(size).map_err(|e| FsError::io(e, path))
}

/// `fallocate(fd, 0, 0, len)`.
pub(crate) fn allocate(
    _granted: &Granted,
    file: &std::fs::File,
    len: u64,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::fallocate(file, FallocateFlags::empty(), 0, len).map_err(|e| FsError::io(e, path))
}

/// Copies all of `src` into `dest` in bounded chunks, charging the run's byte meters.
fn copy_stream(
    src: &std::fs::File,
    dest: &mut impl Write,
    meter: &mut Meter,
    src_path: &str,
    dest_path: &str,
) -> Result<(), FsError> {
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut offset = 0u64;
    loop {
        let n = match src.read_at(&mut buf, offset) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FsError::io(e, src_path)),
        };
        meter.charge_read(n)?;
        meter.charge_write(n)?;
        dest.write_all(&buf[..n])
            .map_err(|e| FsError::io(e, dest_path))?;
        offset += n as u64;
    }
}

/// How [`copy_replace`] sets the new file's mode and times.
pub(crate) struct CopyMeta {
    pub mode: u32,
    /// Access and modification times to keep (`cp -p`), or `None` for "now".
    pub times: Option<Timestamps>,
}

/// Replaces `name` in `dir` atomically with a copy of `src`: temporary file in `dir`, copy,
/// mode (and times), fsync, rename.
#[allow(clippy::too_many_arguments)]
pub(crate) fn copy_replace(
    _granted: &Granted,
    src: &std::fs::File,
    dir: &Dir,
    name: &str,
    meta: &CopyMeta,
    meter: &mut Meter,
    src_path: &str,
    dest_path: &str,
) -> Result<(), FsError> {
    let io = |e: io::Error| FsError::io(e, dest_path);
    let mut temp = cap_tempfile::TempFile::new(dir).map_err(io)?;
    copy_stream(src, temp.as_file_mut(), meter, src_path, dest_path)?;
    rustix::fs::fchmod(temp.as_file().as_fd(), Mode::from_raw_mode(meta.mode))
        .map_err(|e| FsError::io(e, dest_path))?;
    if let Some(times) = &meta.times {
        rustix::fs::futimens(temp.as_file().as_fd(), times)
            .map_err(|e| FsError::io(e, dest_path))?;
    }
    temp.as_file().sync_all().map_err(io)?;
    temp.replace(name).map_err(io)
}

/// What [`rename`] found at the destination.
pub(crate) enum Renamed {
    Done,
    /// An entry of that name exists; nothing was moved.
    Exists,
    /// Source and destination are on different file systems; nothing was moved.
    CrossDevice,
}

/// `renameat2(…, RENAME_NOREPLACE)`, or a plain `renameat` that may replace the destination
/// when `replace` is set (the caller has authorized deleting it).
pub(crate) fn rename(
    _granted: &Granted,
    from_dir: BorrowedFd<'_>,
    from: &str,
    to_dir: BorrowedFd<'_>,
    to: &str,
    replace: bool,
    path: &str,
) -> Result<Renamed, FsError> {
    let flags = if replace {
        RenameFlags::empty()
    } else {
        RenameFlags::NOREPLACE
    };
    match rustix::fs::renameat_with(from_dir, from, to_dir, to, flags) {
        Ok(()) => Ok(Renamed::Done),
        Err(Errno::EXIST) => Ok(Renamed::Exists),
        Err(Errno::XDEV) => Ok(Renamed::CrossDevice),
        Err(e) => Err(FsError::io(e, path)),
    }
}

/// `symlinkat(target, dir, name)`.
pub(crate) fn symlink_at(
    _granted: &Granted,
    target: &str,
    dir: BorrowedFd<'_>,
    name: &str,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::symlinkat(target, dir, name).map_err(|e| FsError::io(e, path))
}

/// `fsetxattr(fd, name, value)`.
pub(crate) fn set_xattr(
    _granted: &Granted,
    fd: BorrowedFd<'_>,
    name: &str,
    value: &[u8],
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::fsetxattr(fd, name, value, rustix::fs::XattrFlags::empty())
        .map_err(|e| FsError::io(e, path))
}
