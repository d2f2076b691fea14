//! The system calls of the file-system capability, each behind a small helper on held
//! descriptors and single names (never a path resolved again).
//!
//! Helpers that change the system take the [`Granted`] proof of the action that allows the
//! change, so a change without its decision does not compile; where more than one action can
//! allow a change (a move removes its source, as a delete does), a marker trait below lists
//! them. Helpers that only observe (metadata, listings, link text) run after the operation's
//! own decision and take no proof.

use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileExt;

use cap_std::fs::Dir;
use rustix::fs::{AtFlags, FallocateFlags, FileType, Gid, Mode, OFlags, RenameFlags, Stat, Uid};
use rustix::io::Errno;

use super::cedar::action::{
    Chmod, Chown, Create, Delete, Move, Open, Read, RedactedRead, SetXAttr, Write as WriteAction,
};
use super::error::FsError;
use crate::authz::{Action, Granted};
use crate::bindings::wit_fs as wit;
use crate::limits::Meter;

/// Flags of every directory the capability opens: never through a symlink.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Bytes copied per read/write step of a copy.
const COPY_CHUNK: usize = 1 << 20;

/// Actions whose grant allows opening an existing entry (a descriptor grants nothing by
/// itself: each use of it is authorized again).
pub(crate) trait Opening: Action {}
impl Opening for Open {}
impl Opening for Create {}
impl Opening for Read {}
impl Opening for WriteAction {}
impl Opening for Move {}

/// Actions whose grant allows removing an entry: `delete`, and `move` for its source.
pub(crate) trait Removal: Action {}
impl Removal for Delete {}
impl Removal for Move {}

/// Actions whose grant allows reading a file's bytes.
pub(crate) trait Reading: Action {}
impl Reading for Read {}
impl Reading for RedactedRead {}

/// Actions whose grant allows replacing a file with new contents: `write`, and `move` when it
/// copies across file systems.
pub(crate) trait Replacing: Action {}
impl Replacing for WriteAction {}
impl Replacing for Move {}

pub(crate) fn dir_from_fd(fd: OwnedFd) -> Dir {
    Dir::from_std_file(std::fs::File::from(fd))
}

/// A second descriptor of `dir`, for a handle that outlives the borrow.
pub(crate) fn dup_dir(dir: &Dir, path: &str) -> Result<Dir, FsError> {
    dir.try_clone().map_err(|e| FsError::io(e, path))
}

// --- Observation (after the operation's decision) ---

/// `lstat` of the entry `name` in `dir`.
pub(crate) fn lstat_at(dir: BorrowedFd<'_>, name: &str, path: &str) -> Result<Stat, FsError> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| FsError::io(e, path))
}

/// `fstat` of a descriptor.
pub(crate) fn fstat(fd: BorrowedFd<'_>, path: &str) -> Result<Stat, FsError> {
    rustix::fs::fstat(fd).map_err(|e| FsError::io(e, path))
}

/// The type of a `stat` result.
pub(crate) fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

/// Whether `name` in `dir` exists (without following a symlink).
pub(crate) fn exists_at(dir: BorrowedFd<'_>, name: &str) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
}

/// `(st_dev, st_ino)` of the entry `name` in `dir`, without following a symlink.
pub(crate) fn identity_at(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &str,
) -> Result<(u64, u64), FsError> {
    let st = lstat_at(dir, name, path)?;
    Ok((st.st_dev, st.st_ino))
}

/// Fails unless `name` in `dir` is still the object behind `fd` (it was not replaced since
/// the handle was opened).
pub(crate) fn ensure_same(
    dir: BorrowedFd<'_>,
    name: &str,
    fd: BorrowedFd<'_>,
    path: &str,
) -> Result<(), FsError> {
    let st = fstat(fd, path)?;
    if identity_at(dir, name, path)? == (st.st_dev, st.st_ino) {
        Ok(())
    } else {
        Err(replaced(path))
    }
}

/// The error for an entry that was replaced since its handle was opened.
pub(crate) fn replaced(path: &str) -> FsError {
    FsError::guest(wit::Error::Io(format!(
        "`{path}` was replaced since it was opened; refusing to act on the new entry"
    )))
}

/// Reads the symlink `name` in `dir`; `Ok(None)` when it is not a symlink or does not exist.
pub(crate) fn read_symlink(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &str,
) -> Result<Option<String>, FsError> {
    match rustix::fs::readlinkat(dir, name, Vec::new()) {
        Ok(target) => target.into_string().map(Some).map_err(|_| {
            FsError::invalid_path(format!(
                "invalid path: the target of symlink `{path}` is not valid UTF-8"
            ))
        }),
        Err(Errno::INVAL | Errno::NOENT) => Ok(None),
        Err(e) => Err(FsError::io(e, path)),
    }
}

/// Opens the directory `name` in `dir`, never through a symlink.
pub(crate) fn open_dir_at(dir: BorrowedFd<'_>, name: &str, path: &str) -> Result<OwnedFd, FsError> {
    try_open_dir_at(dir, name).map_err(|e| FsError::io(e, path))
}

/// [`open_dir_at`] with the raw error, for callers that treat some errors (a symlink, a
/// missing entry) as answers rather than failures.
pub(crate) fn try_open_dir_at(dir: BorrowedFd<'_>, name: &str) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty())
}

/// `lstat` of the entry `name` in `dir`; `None` when there is no such entry.
pub(crate) fn lstat_if_exists(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &str,
) -> Result<Option<Stat>, FsError> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(FsError::io(e, path)),
    }
}

pub(crate) fn entry_type(mode: u32) -> wit::EntryType {
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => wit::EntryType::File,
        FileType::Directory => wit::EntryType::Dir,
        FileType::Symlink => wit::EntryType::Symlink,
        FileType::Fifo => wit::EntryType::Fifo,
        FileType::Socket => wit::EntryType::Socket,
        FileType::CharacterDevice => wit::EntryType::CharDevice,
        FileType::BlockDevice => wit::EntryType::BlockDevice,
        _ => wit::EntryType::Unknown,
    }
}

fn user_name(uid: u32) -> String {
    uzers::get_user_by_uid(uid)
        .map(|u| u.name().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn group_name(gid: u32) -> String {
    uzers::get_group_by_gid(gid)
        .map(|g| g.name().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Metadata from a `stat` result; `btime` from `statx` where the file system has it.
fn metadata_from(st: &Stat, btime: Option<i64>, symlink_target: Option<String>) -> wit::Metadata {
    wit::Metadata {
        entry_type: entry_type(st.st_mode),
        size: u64::try_from(st.st_size).unwrap_or(0),
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        user: user_name(st.st_uid),
        group: group_name(st.st_gid),
        nlink: st.st_nlink,
        blocks: u64::try_from(st.st_blocks).unwrap_or(0),
        mtime_seconds: st.st_mtime,
        mtime_nanos: u32::try_from(st.st_mtime_nsec).unwrap_or(0),
        inode: st.st_ino,
        device: st.st_dev,
        ctime_seconds: st.st_ctime,
        btime_seconds: btime,
        symlink_target,
    }
}

/// The birth time of `name` in `dir` (or of `dir` itself for an empty name), when known.
fn birth_time(dir: BorrowedFd<'_>, name: &str) -> Option<i64> {
    use rustix::fs::{StatxFlags, statx};
    let flags = if name.is_empty() {
        AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    let stx = statx(dir, name, flags, StatxFlags::BTIME).ok()?;
    (stx.stx_mask & StatxFlags::BTIME.bits() != 0).then_some(stx.stx_btime.tv_sec)
}

/// Metadata of an open descriptor.
pub(crate) fn metadata_of(fd: BorrowedFd<'_>, path: &str) -> Result<wit::Metadata, FsError> {
    let st = fstat(fd, path)?;
    Ok(metadata_from(&st, birth_time(fd, ""), None))
}

/// Metadata of the entry `name` in `dir`, not following a symlink (`lstat`).
pub(crate) fn metadata_at(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &str,
    symlink_target: Option<String>,
) -> Result<wit::Metadata, FsError> {
    let st = lstat_at(dir, name, path)?;
    Ok(metadata_from(&st, birth_time(dir, name), symlink_target))
}

/// Lists `dir` (without `.` and `..`): name, inode and type of each entry (`statat` when the
/// file system does not report the type), at most `max` entries.
pub(crate) fn read_entries(
    dir: BorrowedFd<'_>,
    path: &str,
    max: usize,
) -> Result<Vec<wit::DirEntry>, FsError> {
    let mut reader = rustix::fs::Dir::read_from(dir).map_err(|e| FsError::io(e, path))?;
    let mut out = Vec::new();
    while let Some(entry) = reader.read() {
        let entry = entry.map_err(|e| FsError::io(e, path))?;
        let raw = entry.file_name();
        let bytes = raw.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        if out.len() >= max {
            return Err(FsError::invalid_argument(format!(
                "listing `{path}` refused: it has more than {max} entries"
            )));
        }
        let name = String::from_utf8_lossy(bytes).into_owned();
        let entry_type = match entry.file_type() {
            FileType::Unknown => rustix::fs::statat(dir, raw, AtFlags::SYMLINK_NOFOLLOW)
                .map(|st| self::entry_type(st.st_mode))
                .unwrap_or(wit::EntryType::Unknown),
            t => self::entry_type(t.as_raw_mode()),
        };
        out.push(wit::DirEntry {
            name,
            inode: entry.ino(),
            entry_type,
        });
    }
    Ok(out)
}

/// The value of extended attribute `name` as text (`None` when it is not set).
pub(crate) fn get_xattr(
    fd: BorrowedFd<'_>,
    name: &str,
    path: &str,
) -> Result<Option<String>, FsError> {
    let mut buf = vec![0u8; 4096];
    match rustix::fs::fgetxattr(fd, name, &mut buf[..]) {
        Ok(n) => {
            buf.truncate(n);
            while buf.last() == Some(&0) {
                buf.pop();
            }
            Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
        }
        Err(Errno::NODATA) => Ok(None),
        Err(e) => Err(FsError::io(e, path)),
    }
}

// --- Opening and reading ---

/// Opens the existing entry `name` in `dir` with `flags` (`O_NOFOLLOW` and `O_CLOEXEC` are
/// always added; `O_CREAT` never is: see [`create_file_at`]).
pub(crate) fn open_at<A: Opening>(
    _granted: &Granted<A>,
    dir: BorrowedFd<'_>,
    name: &str,
    flags: OFlags,
) -> rustix::io::Result<OwnedFd> {
    let flags = (flags - OFlags::CREATE) | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(dir, name, flags, Mode::empty())
}

/// The permission bits a file created or changed by a script may carry: never the
/// set-user-id, set-group-id or sticky bits, whatever the script, the source of a copy or an
/// archive asks (a set-id copy made by a host running as root would be a set-id-root file).
pub(crate) const PERMISSION_BITS: u32 = 0o777;

/// `mode` without the set-id and sticky bits (see [`PERMISSION_BITS`]).
fn new_file_mode(mode: u32) -> Mode {
    Mode::from_raw_mode(mode & PERMISSION_BITS)
}

/// Opens `name` in `dir` with `flags`, creating it with `mode` (set-id bits dropped) when it
/// does not exist.
pub(crate) fn create_file_at(
    _granted: &Granted<Create>,
    dir: BorrowedFd<'_>,
    name: &str,
    flags: OFlags,
    mode: u32,
) -> rustix::io::Result<OwnedFd> {
    let flags = flags | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(dir, name, flags, new_file_mode(mode))
}

/// Reads up to `want` bytes at `offset`, filling the buffer unless the file ends.
pub(crate) fn read_chunk<A: Reading>(
    _granted: &Granted<A>,
    file: &std::fs::File,
    offset: u64,
    want: usize,
    path: &str,
) -> Result<Vec<u8>, FsError> {
    // What the file holds past `offset`, and one byte more to see its end in the same read;
    // 0 for files whose size says nothing (`/proc`, pipes). The buffer starts at that size,
    // not at `want` (usually 1 MiB): zeroing and faulting in a megabyte for a six-byte file
    // was a tenth of a warm run.
    let hint = file
        .metadata()
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map_or(0, |m| m.len().saturating_sub(offset).saturating_add(1));
    let start = usize::try_from(hint).unwrap_or(usize::MAX);
    fill(want, start, path, |buf, at| file.read_at(buf, offset + at))
}

/// Smallest buffer [`fill`] starts with.
const MIN_READ_BUFFER: usize = 8 << 10;

/// Fills up to `want` bytes with `read(buf, bytes read so far)`, starting with a buffer of
/// `start` bytes (at least [`MIN_READ_BUFFER`], at most `want`) and doubling it while reads
/// fill it. Files stay non-blocking: a file whose read would wait (`/proc/kmsg`) gives what it
/// has, or an error saying nothing is there yet; the host never waits on it.
fn fill(
    want: usize,
    start: usize,
    path: &str,
    mut read: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
) -> Result<Vec<u8>, FsError> {
    let mut buf = vec![0u8; start.max(MIN_READ_BUFFER).min(want)];
    let mut filled = 0;
    while filled < want {
        if filled == buf.len() {
            buf.resize(buf.len().saturating_mul(2).min(want), 0);
        }
        match read(&mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => break,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(FsError::guest(wit::Error::Io(format!(
                    "reading `{path}` would block: no data is available now"
                ))));
            }
            Err(e) => return Err(FsError::io(e, path)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

// --- Changes ---

/// Creates the directory `name` in `dir`; an existing directory is fine when `existing_ok`.
pub(crate) fn mkdir_at(
    _granted: &Granted<Create>,
    dir: BorrowedFd<'_>,
    name: &str,
    existing_ok: bool,
    path: &str,
) -> Result<(), FsError> {
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o777)) {
        Ok(()) => Ok(()),
        Err(Errno::EXIST) if existing_ok => Ok(()),
        Err(e) => Err(FsError::io(e, path)),
    }
}

/// `symlinkat(target, dir, name)`.
pub(crate) fn symlink_at(
    _granted: &Granted<Create>,
    target: &str,
    dir: BorrowedFd<'_>,
    name: &str,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::symlinkat(target, dir, name).map_err(|e| FsError::io(e, path))
}

/// Removes the entry `name` of `dir` (a directory when `is_dir`).
pub(crate) fn unlink_at<A: Removal>(
    _granted: &Granted<A>,
    dir: BorrowedFd<'_>,
    name: &str,
    is_dir: bool,
    path: &str,
) -> Result<(), FsError> {
    let flags = if is_dir {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    rustix::fs::unlinkat(dir, name, flags).map_err(|e| FsError::io(e, path))
}

/// Replaces `name` in `dir` atomically with `contents`: a temporary file in the same directory
/// (with the old file's mode, set-id bits dropped), fsync, rename. Returns the new file, open:
/// the name is never opened again after the rename (it could be something else by then).
pub(crate) fn replace_file(
    _granted: &Granted<WriteAction>,
    dir: &Dir,
    name: &str,
    mode: u32,
    contents: &[u8],
    path: &str,
) -> Result<std::fs::File, FsError> {
    let io = |e: io::Error| FsError::io(e, path);
    let mut temp = cap_tempfile::TempFile::new(dir).map_err(io)?;
    temp.as_file_mut().write_all(contents).map_err(io)?;
    rustix::fs::fchmod(temp.as_file().as_fd(), new_file_mode(mode))
        .map_err(|e| FsError::io(e, path))?;
    // The file it replaces keeps its data labels.
    super::labels::keep_labels(dir.as_fd(), name, temp.as_file().as_fd(), path)
        .map_err(|e| FsError::guest(wit::Error::Io(e)))?;
    temp.as_file().sync_all().map_err(io)?;
    let file = temp.as_file().try_clone().map_err(io)?.into_std();
    temp.replace(name).map_err(io)?;
    Ok(file)
}

/// Appends `contents` to `file` with `O_APPEND` (set for the write, then restored).
pub(crate) fn append_file(
    _granted: &Granted<WriteAction>,
    file: &std::fs::File,
    contents: &[u8],
    path: &str,
) -> Result<(), FsError> {
    let fd = file.as_fd();
    let fl = rustix::fs::fcntl_getfl(fd).map_err(|e| FsError::io(e, path))?;
    rustix::fs::fcntl_setfl(fd, fl | OFlags::APPEND).map_err(|e| FsError::io(e, path))?;
    let written = (&*file).write_all(contents);
    let restored = rustix::fs::fcntl_setfl(fd, fl);
    written.map_err(|e| FsError::io(e, path))?;
    restored.map_err(|e| FsError::io(e, path))
}

/// Overwrites `file` from offset 0 with `contents` and truncates it to that length.
pub(crate) fn overwrite(
    _granted: &Granted<WriteAction>,
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
    _granted: &Granted<WriteAction>,
    file: &std::fs::File,
    size: u64,
    path: &str,
) -> Result<(), FsError> {
    file.set_len(size).map_err(|e| FsError::io(e, path))
}

/// `fallocate(fd, 0, 0, len)`.
pub(crate) fn allocate(
    _granted: &Granted<WriteAction>,
    file: &std::fs::File,
    len: u64,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::fallocate(file, FallocateFlags::empty(), 0, len).map_err(|e| FsError::io(e, path))
}

/// `fchmod` on an open descriptor.
pub(crate) fn chmod_fd(
    _granted: &Granted<Chmod>,
    fd: BorrowedFd<'_>,
    mode: Mode,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::fchmod(fd, mode).map_err(|e| FsError::io(e, path))
}

/// Sets the modification time of an open descriptor to `seconds` since the epoch, leaving the
/// access time (`futimens` with `UTIME_OMIT`).
pub(crate) fn set_mtime_fd<A: Action>(
    _granted: &Granted<A>,
    fd: BorrowedFd<'_>,
    seconds: i64,
    path: &str,
) -> Result<(), FsError> {
    let times = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        },
    };
    rustix::fs::futimens(fd, &times).map_err(|e| FsError::io(e, path))
}

/// `fchown` on an open descriptor (`None` leaves that id unchanged).
pub(crate) fn chown_fd(
    _granted: &Granted<Chown>,
    fd: BorrowedFd<'_>,
    owner: Option<Uid>,
    group: Option<Gid>,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::fchown(fd, owner, group).map_err(|e| FsError::io(e, path))
}

/// `lchown` of the entry `name` in `dir`: a symlink itself is changed, never its target.
pub(crate) fn chown_at(
    _granted: &Granted<Chown>,
    dir: BorrowedFd<'_>,
    name: &str,
    owner: Option<Uid>,
    group: Option<Gid>,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::chownat(dir, name, owner, group, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| FsError::io(e, path))
}

/// `fsetxattr(fd, name, value)`.
pub(crate) fn set_xattr(
    _granted: &Granted<SetXAttr>,
    fd: BorrowedFd<'_>,
    name: &str,
    value: &[u8],
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::fsetxattr(fd, name, value, rustix::fs::XattrFlags::empty())
        .map_err(|e| FsError::io(e, path))
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
    _granted: &Granted<Move>,
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

/// How [`copy_replace`] sets the new file's mode and times.
pub(crate) struct CopyMeta {
    /// The new file's mode (set-id bits are dropped).
    pub mode: u32,
    /// Access and modification times to keep (`cp -p`), or `None` for "now".
    pub times: Option<rustix::fs::Timestamps>,
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
        meter.check_time()?;
        meter.charge_read(n)?;
        meter.charge_write(n)?;
        dest.write_all(&buf[..n])
            .map_err(|e| FsError::io(e, dest_path))?;
        offset += n as u64;
    }
}

/// The two ends of a copy: the source file, and the directory and name it replaces.
pub(crate) struct CopyEnds<'a> {
    pub src: &'a std::fs::File,
    pub src_path: &'a str,
    pub dir: &'a Dir,
    pub name: &'a str,
    pub dest_path: &'a str,
}

/// Replaces the destination atomically with a copy of the source: temporary file in the
/// destination directory, copy, mode (and times), fsync, rename. Returns the new file, open
/// (see [`replace_file`]).
pub(crate) fn copy_replace<A: Replacing>(
    _granted: &Granted<A>,
    ends: &CopyEnds<'_>,
    meta: &CopyMeta,
    meter: &mut Meter,
) -> Result<std::fs::File, FsError> {
    let dest_path = ends.dest_path;
    let io = |e: io::Error| FsError::io(e, dest_path);
    let mut temp = cap_tempfile::TempFile::new(ends.dir).map_err(io)?;
    copy_stream(
        ends.src,
        temp.as_file_mut(),
        meter,
        ends.src_path,
        dest_path,
    )?;
    rustix::fs::fchmod(temp.as_file().as_fd(), new_file_mode(meta.mode))
        .map_err(|e| FsError::io(e, dest_path))?;
    // Labels go with the data: a copy of labelled data is labelled alike.
    super::labels::copy_labels(ends.src.as_fd(), temp.as_file().as_fd(), dest_path)
        .map_err(|e| FsError::guest(wit::Error::Io(e)))?;
    if let Some(times) = &meta.times {
        rustix::fs::futimens(temp.as_file().as_fd(), times)
            .map_err(|e| FsError::io(e, dest_path))?;
    }
    temp.as_file().sync_all().map_err(io)?;
    let file = temp.as_file().try_clone().map_err(io)?.into_std();
    temp.replace(ends.name).map_err(io)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffer grows while reads fill it, up to `want`, whatever size it starts at (a
    /// file's size is only a hint: `/proc` files say 0, and files grow).
    #[test]
    fn fill_grows_its_buffer_up_to_want() {
        let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let source = |buf: &mut [u8], at: u64| {
            let at = at as usize;
            let n = buf.len().min(3_000).min(data.len().saturating_sub(at));
            buf[..n].copy_from_slice(&data[at..at + n]);
            Ok(n)
        };
        for start in [0, 1, 8 << 10, 20_001, 1 << 20] {
            assert_eq!(
                fill(1 << 20, start, "f", source).ok().as_deref(),
                Some(&data[..])
            );
            assert_eq!(
                fill(10_000, start, "f", source).ok().as_deref(),
                Some(&data[..10_000])
            );
        }
    }

    /// A read that would wait returns at once: with what came before it, or with an error
    /// (as `/proc/kmsg` with nothing new, opened non-blocking as every file is).
    #[test]
    fn a_read_that_would_block_returns_at_once() {
        let would_block = || Err(io::Error::from(io::ErrorKind::WouldBlock));
        let mut calls = 0;
        let got = fill(8, 0, "/proc/kmsg", |buf, _| {
            calls += 1;
            if calls == 1 {
                buf[..3].copy_from_slice(b"abc");
                Ok(3)
            } else {
                would_block()
            }
        });
        assert_eq!(got.ok().as_deref(), Some(&b"abc"[..]));
        let err = fill(8, 0, "/proc/kmsg", |_, _| would_block()).err();
        assert!(
            matches!(&err, Some(FsError::Guest(e)) if matches!(&**e, wit::Error::Io(m) if m.contains("would block"))),
            "{err:?}"
        );
    }
}
