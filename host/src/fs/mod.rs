//! The `wrex:sdk/fs` capability: state (the resources behind `dir` and `file` handles), errors,
//! and the symlink-aware, race-free path walker. The WIT trait impls are in `host.rs`.
//!
//! Every directory is reached by walking from `/` one component at a time with
//! `openat(…, O_DIRECTORY | O_NOFOLLOW)` on the previous component's descriptor, so a
//! component swapped for a symlink mid-walk is seen as a symlink, never silently followed.
//! Symlinks are followed only when asked, by reading the link and continuing the walk from
//! the link's directory (or from `/`); `/proc` magic links are therefore resolved by their
//! text, never jumped through. The caller authorizes the resolved path before using the
//! handle, and authorizes every directory the walk creates before creating it.

mod host;
mod ops;
pub mod path;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use cap_std::fs::Dir;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::authz::{Denied, Granted};
use crate::bindings::wit_fs as wit;

/// Most symlinks followed while resolving one path (Linux's `MAXSYMLINKS`).
pub const MAX_LINKS: u32 = 40;
/// Most bytes served by one `read` call, whatever the guest asks for: a guest-supplied length
/// must not make the host allocate without bound.
pub const MAX_READ_CHUNK: u32 = 4 << 20;
/// Most entries one directory listing returns, and most entries a recursive delete, chmod or
/// chown plans (and authorizes) before refusing.
pub const MAX_TREE_ENTRIES: usize = 100_000;

pub(crate) const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// The error type of the `fs` host functions: either an error the guest sees (`wit::Error`),
/// or a trap (a broken host invariant or a bad resource handle) that ends the run.
#[derive(Debug)]
pub enum FsError {
    Guest(wit::Error),
    Trap(wasmtime::Error),
}

impl FsError {
    pub fn invalid_path(message: String) -> Self {
        Self::Guest(wit::Error::InvalidPath(message))
    }

    pub fn invalid_argument(message: String) -> Self {
        Self::Guest(wit::Error::InvalidArgument(message))
    }

    pub fn not_found(message: String) -> Self {
        Self::Guest(wit::Error::NotFound(message))
    }

    /// An operating-system error while working on `path`.
    pub fn io(err: impl Into<io::Error>, path: &str) -> Self {
        let err: io::Error = err.into();
        let message = format!("{err}: `{path}`");
        Self::Guest(match err.kind() {
            io::ErrorKind::NotFound => wit::Error::NotFound(message),
            io::ErrorKind::AlreadyExists => wit::Error::AlreadyExists(message),
            io::ErrorKind::NotADirectory => wit::Error::NotADirectory(message),
            io::ErrorKind::IsADirectory => wit::Error::NotAFile(message),
            io::ErrorKind::DirectoryNotEmpty => wit::Error::DirectoryNotEmpty(message),
            _ => wit::Error::Io(message),
        })
    }
}

impl From<Denied> for FsError {
    fn from(d: Denied) -> Self {
        Self::Guest(wit::Error::AccessDenied(wit::Denial {
            principal: d.principal,
            action: d.action,
            resource_type: d.resource_type,
            resource_id: d.resource_id,
        }))
    }
}

impl From<wasmtime::Error> for FsError {
    fn from(e: wasmtime::Error) -> Self {
        Self::Trap(e)
    }
}

impl From<wasmtime::component::ResourceTableError> for FsError {
    fn from(e: wasmtime::component::ResourceTableError) -> Self {
        Self::Trap(wasmtime::Error::new(e))
    }
}

/// An open directory behind a `dir` handle.
#[derive(Debug)]
pub struct DirRes {
    pub(crate) dir: Dir,
    /// Absolute path after symlink resolution; the Cedar resource id of this directory.
    pub(crate) path: String,
    /// The parent directory and this directory's name in it (`None` for `/`), for deletion.
    pub(crate) parent: Option<(Dir, String)>,
}

/// An open regular file behind a `file` handle.
#[derive(Debug)]
pub struct FileRes {
    pub(crate) file: std::fs::File,
    /// The directory holding the file (after symlink resolution), and the file's name in it.
    pub(crate) dir: Dir,
    pub(crate) name: String,
    /// Absolute path after symlink resolution; the Cedar resource id of this file.
    pub(crate) path: String,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
}

/// A symlink itself, behind a `symlink` handle: its directory, name, and identity when opened
/// (every use checks that the name still holds the same link).
#[derive(Debug)]
pub struct SymlinkRes {
    pub(crate) dir: Dir,
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) identity: (u64, u64),
}

pub(crate) fn dir_from_fd(fd: OwnedFd) -> Dir {
    Dir::from_std_file(std::fs::File::from(fd))
}

/// What one walk step found.
enum Step {
    Dir(OwnedFd),
    Missing,
    Symlink(String),
    NotDir,
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

fn step(dir: BorrowedFd<'_>, name: &str, path: &str) -> Result<Step, FsError> {
    match rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => Ok(Step::Dir(fd)),
        Err(Errno::NOENT) => Ok(Step::Missing),
        Err(Errno::LOOP | Errno::NOTDIR) => match read_symlink(dir, name, path)? {
            Some(target) => Ok(Step::Symlink(target)),
            None => Ok(Step::NotDir),
        },
        Err(e) => Err(FsError::io(e, path)),
    }
}

fn stack_path(stack: &[(String, OwnedFd)]) -> String {
    if stack.len() <= 1 {
        return "/".to_string();
    }
    stack
        .iter()
        .skip(1)
        .fold(String::new(), |mut acc, (name, _)| {
            acc.push('/');
            acc.push_str(name);
            acc
        })
}

/// How to walk to a directory.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Walk {
    pub follow: bool,
    pub create: bool,
    pub recursive: bool,
}

/// A directory reached by [`walk`].
pub(crate) struct Walked {
    pub fd: OwnedFd,
    pub path: String,
    pub parent: Option<(OwnedFd, String)>,
}

/// Walks from `/` to the directory `path` (absolute; may contain `..` and `.` when it comes
/// from a symlink target, which are resolved physically against directories already opened).
///
/// `authorize_create` is called with the absolute path of each directory the walk is about to
/// create, before it is created.
pub(crate) fn walk(
    _granted: &Granted,
    path: &str,
    how: Walk,
    root: Option<BorrowedFd<'_>>,
    authorize_create: &mut dyn FnMut(&str) -> Result<(), FsError>,
) -> Result<Walked, FsError> {
    // `/` is the host's root, or the run's tenant root: the walk can never leave it, since
    // `..` stops there and an absolute symlink restarts there.
    let root = match root {
        Some(base) => rustix::fs::openat(base, ".", DIR_FLAGS, Mode::empty()),
        None => rustix::fs::open("/", DIR_FLAGS, Mode::empty()),
    }
    .map_err(|e| FsError::io(e, "/"))?;
    let mut stack: Vec<(String, OwnedFd)> = vec![(String::new(), root)];
    let mut queue: VecDeque<String> = path.split('/').map(str::to_string).collect();
    let mut links = 0;
    while let Some(component) = queue.pop_front() {
        match component.as_str() {
            "" | "." => continue,
            ".." => {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            _ => {}
        }
        let here = stack_path(&stack);
        let target = path::join(&here, &component);
        let Some((_, current)) = stack.last() else {
            return Err(FsError::Trap(wasmtime::format_err!("walk stack emptied")));
        };
        match step(current.as_fd(), &component, &target)? {
            Step::Dir(fd) => stack.push((component, fd)),
            Step::Missing => {
                let last = queue.iter().all(|c| c.is_empty() || c == ".");
                if !(how.create && (last || how.recursive)) {
                    return Err(FsError::not_found(format!(
                        "directory `{target}` does not exist"
                    )));
                }
                authorize_create(&target)?;
                match rustix::fs::mkdirat(
                    current.as_fd(),
                    component.as_str(),
                    Mode::from_raw_mode(0o777),
                ) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(FsError::io(e, &target)),
                }
                let fd = rustix::fs::openat(
                    current.as_fd(),
                    component.as_str(),
                    DIR_FLAGS,
                    Mode::empty(),
                )
                .map_err(|e| FsError::io(e, &target))?;
                stack.push((component, fd));
            }
            Step::Symlink(link) => {
                if !how.follow {
                    return Err(FsError::Guest(wit::Error::SymlinkNotFollowed(format!(
                        "Not a directory, enable follow_symlinks to open the target directory: `{target}` is a symlink"
                    ))));
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(FsError::Guest(wit::Error::TooManyLinks(format!(
                        "more than {MAX_LINKS} symlinks while resolving `{path}`"
                    ))));
                }
                if link.starts_with('/') {
                    stack.truncate(1);
                }
                for part in link.split('/').rev() {
                    queue.push_front(part.to_string());
                }
            }
            Step::NotDir => {
                return Err(FsError::Guest(wit::Error::NotADirectory(format!(
                    "`{target}` is not a directory"
                ))));
            }
        }
    }
    let path = stack_path(&stack);
    let Some((name, fd)) = stack.pop() else {
        return Err(FsError::Trap(wasmtime::format_err!("walk stack emptied")));
    };
    let parent = stack.pop().map(|(_, parent)| (parent, name));
    Ok(Walked { fd, path, parent })
}

impl Walked {
    pub(crate) fn into_dir_res(self) -> DirRes {
        DirRes {
            dir: dir_from_fd(self.fd),
            path: self.path,
            parent: self.parent.map(|(fd, name)| (dir_from_fd(fd), name)),
        }
    }
}

/// `(st_dev, st_ino)` of the entry `name` in `dir`, without following a symlink.
pub(crate) fn identity_at(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &str,
) -> Result<(u64, u64), FsError> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| FsError::io(e, path))?;
    Ok((st.st_dev, st.st_ino))
}

fn identity(fd: BorrowedFd<'_>, path: &str) -> Result<(u64, u64), FsError> {
    let st = rustix::fs::fstat(fd).map_err(|e| FsError::io(e, path))?;
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
    if identity_at(dir, name, path)? == identity(fd, path)? {
        Ok(())
    } else {
        Err(FsError::Guest(wit::Error::Io(format!(
            "`{path}` was replaced since it was opened; refusing to act on the new entry"
        ))))
    }
}

pub(crate) fn entry_type(mode: u32) -> wit::EntryType {
    match rustix::fs::FileType::from_raw_mode(mode) {
        rustix::fs::FileType::RegularFile => wit::EntryType::File,
        rustix::fs::FileType::Directory => wit::EntryType::Dir,
        rustix::fs::FileType::Symlink => wit::EntryType::Symlink,
        rustix::fs::FileType::Fifo => wit::EntryType::Fifo,
        rustix::fs::FileType::Socket => wit::EntryType::Socket,
        rustix::fs::FileType::CharacterDevice => wit::EntryType::CharDevice,
        rustix::fs::FileType::BlockDevice => wit::EntryType::BlockDevice,
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
pub(crate) fn metadata_from(
    st: &rustix::fs::Stat,
    btime: Option<i64>,
    symlink_target: Option<String>,
) -> wit::Metadata {
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
pub(crate) fn metadata_of(
    _granted: &Granted,
    fd: BorrowedFd<'_>,
    path: &str,
) -> Result<wit::Metadata, FsError> {
    let st = rustix::fs::fstat(fd).map_err(|e| FsError::io(e, path))?;
    Ok(metadata_from(&st, birth_time(fd, ""), None))
}

/// Metadata of the entry `name` in `dir`, not following a symlink (`lstat`).
pub(crate) fn metadata_at(
    _granted: &Granted,
    dir: BorrowedFd<'_>,
    name: &str,
    path: &str,
    symlink_target: Option<String>,
) -> Result<wit::Metadata, FsError> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| FsError::io(e, path))?;
    Ok(metadata_from(&st, birth_time(dir, name), symlink_target))
}

/// One entry of a directory tree planned for a recursive operation (delete, chmod, chown).
pub(crate) struct Planned {
    pub(crate) name: String,
    pub(crate) is_dir: bool,
    pub(crate) children: Vec<Planned>,
}

/// Lists `dir` (without `.` and `..`): name, inode and type of each entry (`statat` when the
/// file system does not report the type).
pub(crate) fn read_entries(
    _granted: &Granted,
    dir: BorrowedFd<'_>,
    path: &str,
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
        if out.len() >= MAX_TREE_ENTRIES {
            return Err(FsError::invalid_argument(format!(
                "listing `{path}` refused: it has more than {MAX_TREE_ENTRIES} entries"
            )));
        }
        let name = String::from_utf8_lossy(bytes).into_owned();
        let entry_type = match entry.file_type() {
            rustix::fs::FileType::Unknown => {
                rustix::fs::statat(dir, raw, AtFlags::SYMLINK_NOFOLLOW)
                    .map(|st| self::entry_type(st.st_mode))
                    .unwrap_or(wit::EntryType::Unknown)
            }
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

/// Plans a recursive `what` (e.g. "delete") of everything below `dir`, calling `authorize`
/// for each entry (as a `File` or `Dir` at its absolute path) before anything is changed.
pub(crate) fn plan_tree(
    granted: &Granted,
    dir: BorrowedFd<'_>,
    path: &str,
    what: &str,
    count: &mut usize,
    authorize: &mut dyn FnMut(bool, &str) -> Result<(), FsError>,
) -> Result<Vec<Planned>, FsError> {
    let mut out = Vec::new();
    for entry in read_entries(granted, dir, path)? {
        *count += 1;
        if *count > MAX_TREE_ENTRIES {
            return Err(FsError::invalid_argument(format!(
                "recursive {what} of `{path}` refused: more than {MAX_TREE_ENTRIES} entries"
            )));
        }
        let child_path = path::join(path, &entry.name);
        // `read_entries` replaced undecodable bytes with U+FFFD; such a name cannot be opened
        // again by its text, so the whole delete is refused rather than done partly.
        if entry.name.contains('\u{fffd}') {
            return Err(FsError::invalid_path(format!(
                "recursive {what} of `{path}` refused: an entry name is not valid UTF-8"
            )));
        }
        let is_dir = entry.entry_type == wit::EntryType::Dir;
        authorize(is_dir, &child_path)?;
        let children = if is_dir {
            let fd = rustix::fs::openat(dir, entry.name.as_str(), DIR_FLAGS, Mode::empty())
                .map_err(|e| FsError::io(e, &child_path))?;
            plan_tree(granted, fd.as_fd(), &child_path, what, count, authorize)?
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
fn remove_planned(
    granted: &Granted,
    dir: BorrowedFd<'_>,
    path: &str,
    plan: &[Planned],
) -> Result<(), FsError> {
    for item in plan {
        let child_path = path::join(path, &item.name);
        if item.is_dir {
            let fd = rustix::fs::openat(dir, item.name.as_str(), DIR_FLAGS, Mode::empty())
                .map_err(|e| FsError::io(e, &child_path))?;
            remove_planned(granted, fd.as_fd(), &child_path, &item.children)?;
            unlink_at(granted, dir, &item.name, AtFlags::REMOVEDIR, &child_path)?;
        } else {
            unlink_at(granted, dir, &item.name, AtFlags::empty(), &child_path)?;
        }
    }
    Ok(())
}

// The operations below act on the system; each takes the `Granted` proof of the decision that
// allows it, so an operation without an authorization does not compile.

/// Removes the entry `name` of `dir` (`AtFlags::REMOVEDIR` for a directory).
pub(crate) fn unlink_at(
    _granted: &Granted,
    dir: BorrowedFd<'_>,
    name: &str,
    flags: AtFlags,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::unlinkat(dir, name, flags).map_err(|e| FsError::io(e, path))
}

/// Creates the directory `name` in `dir`.
pub(crate) fn mkdir_at(
    _granted: &Granted,
    dir: BorrowedFd<'_>,
    name: &str,
    path: &str,
) -> Result<(), FsError> {
    rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o777)).map_err(|e| FsError::io(e, path))
}

/// Opens (or creates) the file `name` in `dir`; callers add `O_NOFOLLOW`.
pub(crate) fn open_at(
    _granted: &Granted,
    dir: BorrowedFd<'_>,
    name: &str,
    flags: OFlags,
    mode: u32,
) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(mode))
}

/// Reads up to `want` bytes at `offset`, filling the buffer unless the file ends.
pub(crate) fn read_chunk(
    _granted: &Granted,
    file: &std::fs::File,
    offset: u64,
    want: usize,
    path: &str,
) -> Result<Vec<u8>, FsError> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; want];
    let mut filled = 0;
    while filled < want {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FsError::io(e, path)),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Replaces `name` in `dir` atomically with `contents`: a temporary file in the same directory
/// (with the old file's mode), fsync, rename.
pub(crate) fn replace_file(
    _granted: &Granted,
    dir: &Dir,
    name: &str,
    mode: u32,
    contents: &[u8],
    path: &str,
) -> Result<(), FsError> {
    use std::io::Write;
    let io = |e: io::Error| FsError::io(e, path);
    let mut temp = cap_tempfile::TempFile::new(dir).map_err(io)?;
    temp.as_file_mut().write_all(contents).map_err(io)?;
    rustix::fs::fchmod(temp.as_file().as_fd(), Mode::from_raw_mode(mode))
        .map_err(|e| FsError::io(e, path))?;
    temp.as_file().sync_all().map_err(io)?;
    temp.replace(name).map_err(io)
}

/// Appends `contents` to `file` with `O_APPEND` (set for the write, then restored).
pub(crate) fn append_file(
    _granted: &Granted,
    file: &std::fs::File,
    contents: &[u8],
    path: &str,
) -> Result<(), FsError> {
    use std::io::Write;
    let fd = file.as_fd();
    let fl = rustix::fs::fcntl_getfl(fd).map_err(|e| FsError::io(e, path))?;
    rustix::fs::fcntl_setfl(fd, fl | OFlags::APPEND).map_err(|e| FsError::io(e, path))?;
    let written = (&*file).write_all(contents);
    let restored = rustix::fs::fcntl_setfl(fd, fl);
    written.map_err(|e| FsError::io(e, path))?;
    restored.map_err(|e| FsError::io(e, path))
}
