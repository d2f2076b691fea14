//! `file` handles: open, read, write, append, metadata, delete, in-place changes, copy, move,
//! redacted read and extended attributes.

use std::os::fd::AsFd;

use rustix::fs::{FileType, OFlags};
use rustix::io::Errno;
use wasmtime::component::Resource;

use super::args::{
    checked_mode, merge_context, owner_ids, validate_context_parts, validate_xattr_name,
};
use super::cedar::action::{
    Chmod, Chown, Create, Delete, Open, Read, RedactedRead, SetXAttr, Stat, Write,
};
use super::cedar::{FsResource, xattr_context};
use super::error::{FsError, FsResult, not_a_file};
use super::moves::Source;
use super::path::{join, validate_name};
use super::redact::{MAX_REDACTED_BYTES, redact};
use super::resources::{DirRes, FileRes, SymlinkRes};
use super::sys::{
    self, CopyEnds, CopyMeta, allocate, append_file, chmod_fd, chown_fd, copy_replace,
    create_file_at, dir_from_fd, dup_dir, ensure_same, fstat, get_xattr, identity_at, metadata_of,
    open_at, overwrite, read_chunk, read_symlink, replace_file, set_len, set_mtime_fd, set_xattr,
    unlink_at,
};
use super::view::FsView;
use super::walk::MAX_LINKS;
use super::walk::{self, Walk, too_many_links};
use crate::bindings::wit_fs as wit;

/// Most bytes served by one `read` call, whatever the guest asks for: a guest-supplied length
/// must not make the host allocate without bound.
pub const MAX_READ_CHUNK: u32 = 4 << 20;

/// The access flags of a handle opened for `read` and/or `write`.
fn access(readable: bool, writable: bool) -> OFlags {
    match (readable, writable) {
        (true, true) => OFlags::RDWR,
        (false, true) => OFlags::WRONLY,
        _ => OFlags::RDONLY,
    }
}

fn symlink_not_followed(path: &str) -> FsError {
    FsError::guest(wit::Error::SymlinkNotFollowed(format!(
        "file is a symbolic link but follow_symlinks is not enabled: `{path}`"
    )))
}

impl FsView<'_> {
    /// `dir.open-file`: see its `# Authorization`.
    pub(super) fn open_file_in(
        &self,
        dir: &Resource<DirRes>,
        name: String,
        options: &wit::OpenFileOptions,
    ) -> FsResult<FileRes> {
        validate_name(&name)?;
        // As Rex: `create` opens for writing too (a create-only handle can be written).
        let writable = options.write || options.create;
        if !options.read && !writable {
            return Err(FsError::invalid_argument(
                "open-file: at least one of `read`, `write` or `create` must be requested".into(),
            ));
        }
        let mode = match options.permissions {
            None => 0o644,
            Some(m) if m <= 0o7777 => m & 0o777,
            Some(m) => {
                return Err(FsError::invalid_argument(format!(
                    "open-file: permissions {m:#o} are not a file mode"
                )));
            }
        };
        let dir_path = self.table.get(dir)?.path.clone();
        let path = join(&dir_path, &name);
        let mut opened = self.authorize(Open, FsResource::File(path.clone()))?;
        let mut created = if options.create {
            Some(self.authorize(Create, FsResource::File(path.clone()))?)
        } else {
            None
        };

        // Resolve symlinks in the final component, if asked, before anything is opened.
        let mut parent = dup_dir(&self.table.get(dir)?.dir, &dir_path)?;
        let mut parent_path = dir_path;
        let mut leaf = name;
        let mut links = 0;
        let mut link = None;
        // The path `opened` was last authorized for.
        let mut opened_path = path.clone();
        while let Some(target) = read_symlink(parent.as_fd(), &leaf, &join(&parent_path, &leaf))? {
            if !options.follow_symlinks {
                return Err(symlink_not_followed(&path));
            }
            if link.is_none() {
                link = Some(SymlinkRes {
                    dir: dup_dir(&parent, &path)?,
                    name: leaf.clone(),
                    path: path.clone(),
                    identity: identity_at(parent.as_fd(), &leaf, &path)?,
                });
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(too_many_links(&path));
            }
            // Where the link points, resolved lexically, is authorized before anything on
            // the way there is opened: a target outside the policy yields only its denial.
            let base = if target.starts_with('/') {
                "/"
            } else {
                &parent_path
            };
            let full = walk::heading(base, target.split('/'));
            opened = self.authorize(Open, FsResource::File(full.clone()))?;
            opened_path.clone_from(&full);
            let (target_dir, target_name) = match full.rsplit_once('/') {
                Some((_, "" | "." | "..")) | None => return Err(not_a_file(&full)),
                Some(("", n)) => ("/".to_string(), n.to_string()),
                Some((d, n)) => (d.to_string(), n.to_string()),
            };
            let how = Walk {
                follow: true,
                ..Walk::default()
            };
            let walked = self.walk(&opened, &target_dir, how, None)?;
            parent = dir_from_fd(walked.fd);
            parent_path = walked.path;
            leaf = target_name;
        }
        let resolved = join(&parent_path, &leaf);
        if resolved != opened_path {
            opened = self.authorize(Open, FsResource::File(resolved.clone()))?;
        }
        if resolved != path && options.create {
            created = Some(self.authorize(Create, FsResource::File(resolved.clone()))?);
        }

        // The type is observed without opening: opening a FIFO would release a peer blocked
        // on it, even though it is refused right after.
        if let Some(st) = sys::lstat_if_exists(parent.as_fd(), &leaf, &resolved)?
            && sys::file_type(&st) != FileType::RegularFile
        {
            return Err(not_a_file(&resolved));
        }
        let flags = access(options.read, writable) | OFlags::NONBLOCK | OFlags::NOCTTY;
        let fd = match &created {
            Some(create) => create_file_at(create, parent.as_fd(), &leaf, flags, mode),
            None => open_at(&opened, parent.as_fd(), &leaf, flags),
        };
        let fd = match fd {
            Ok(fd) => fd,
            // The final component became a symlink after it was resolved.
            Err(Errno::LOOP) => return Err(symlink_not_followed(&resolved)),
            Err(Errno::ISDIR) => return Err(not_a_file(&resolved)),
            Err(Errno::NOENT) => {
                return Err(FsError::not_found(format!(
                    "{}: file `{resolved}`",
                    std::io::Error::from(rustix::io::Errno::NOENT)
                )));
            }
            Err(e) => return Err(FsError::io(e, &resolved)),
        };
        // Opened with O_NONBLOCK, which stays: neither opening a FIFO swapped in since the
        // check above nor reading a file that waits for data (`/proc/kmsg`) can block the
        // host. Anything but a regular file is refused.
        let st = fstat(fd.as_fd(), &resolved)?;
        if sys::file_type(&st) != FileType::RegularFile {
            return Err(not_a_file(&resolved));
        }
        Ok(FileRes {
            file: std::fs::File::from(fd),
            dir: parent,
            name: leaf,
            path: resolved,
            readable: options.read,
            writable,
            link,
        })
    }

    /// The path of a `file` handle.
    fn file_path(&self, file: &Resource<FileRes>) -> FsResult<String> {
        Ok(self.table.get(file)?.path.clone())
    }
}

impl wit::HostFile for FsView<'_> {
    fn path(&mut self, file: Resource<FileRes>) -> wasmtime::Result<String> {
        self.host_call()?;
        Ok(self.table.get(&file)?.path.clone())
    }

    /// # Authorization
    ///
    /// `read` on the `File`.
    fn read(&mut self, file: Resource<FileRes>, offset: u64, len: u32) -> FsResult<Vec<u8>> {
        self.host_call()?;
        let path = self.handle_path(&file, false)?;
        let granted = self.authorize(Read, FsResource::File(path.clone()))?;
        let want = len.min(MAX_READ_CHUNK) as usize;
        let buf = read_chunk(&granted, &self.table.get(&file)?.file, offset, want, &path)?;
        self.meter.charge_read(buf.len())?;
        self.authz
            .charge_read(Read, &FsResource::File(path), buf.len() as u64)?;
        Ok(buf)
    }

    /// # Authorization
    ///
    /// `write` on the `File`.
    fn write(&mut self, file: Resource<FileRes>, contents: Vec<u8>) -> FsResult<Resource<FileRes>> {
        self.host_call()?;
        let path = self.handle_path(&file, true)?;
        let granted = self.authorize(Write, FsResource::File(path.clone()))?;
        self.meter.charge_write(contents.len())?;
        let res = self.table.get(&file)?;
        let mode = fstat(res.file.as_fd(), &path)?.st_mode;
        let written = replace_file(&granted, &res.dir, &res.name, mode, &contents, &path)?;
        let same = written.try_clone().map_err(|e| FsError::io(e, &path))?;
        let new = FileRes {
            file: written,
            dir: dup_dir(&res.dir, &path)?,
            name: res.name.clone(),
            path,
            readable: res.readable,
            writable: res.writable,
            link: res.link.as_ref().map(SymlinkRes::try_clone).transpose()?,
        };
        // The handle written through now stands for the new file too (as Rex: a handle
        // `compress_gzip` wrote to reads what was written).
        self.table.get_mut(&file)?.file = same;
        self.push_handle(new)
    }

    /// # Authorization
    ///
    /// `write` on the `File`.
    fn append(&mut self, file: Resource<FileRes>, contents: Vec<u8>) -> FsResult<()> {
        self.host_call()?;
        let path = self.handle_path(&file, true)?;
        let granted = self.authorize(Write, FsResource::File(path.clone()))?;
        self.single_link(&file, &path, "append to")?;
        self.meter.charge_write(contents.len())?;
        append_file(&granted, &self.table.get(&file)?.file, &contents, &path)
    }

    /// # Authorization
    ///
    /// `stat` on the `File`.
    fn metadata(&mut self, file: Resource<FileRes>) -> FsResult<wit::Metadata> {
        self.host_call()?;
        let path = self.file_path(&file)?;
        self.authorize(Stat, FsResource::File(path.clone()))?;
        metadata_of(self.table.get(&file)?.file.as_fd(), &path)
    }

    fn entry(&mut self, file: Resource<FileRes>) -> FsResult<wit::DirEntry> {
        self.host_call()?;
        let res = self.table.get(&file)?;
        let st = fstat(res.file.as_fd(), &res.path)?;
        Ok(wit::DirEntry {
            name: res.name.clone(),
            inode: st.st_ino,
            entry_type: sys::entry_type(st.st_mode),
        })
    }

    /// # Authorization
    ///
    /// `delete` on the `File`; for a handle opened through a symlink, `delete` on the
    /// symlink, which is what is deleted (its target is kept, as Rex).
    fn delete(&mut self, file: Resource<FileRes>) -> FsResult<()> {
        self.host_call()?;
        if let Some(link) = &self.table.get(&file)?.link {
            let granted = self.authorize(Delete, FsResource::File(link.path.clone()))?;
            link.ensure_unchanged()?;
            return unlink_at(&granted, link.dir.as_fd(), &link.name, false, &link.path);
        }
        let path = self.file_path(&file)?;
        let granted = self.authorize(Delete, FsResource::File(path.clone()))?;
        let res = self.table.get(&file)?;
        ensure_same(res.dir.as_fd(), &res.name, res.file.as_fd(), &path)?;
        unlink_at(&granted, res.dir.as_fd(), &res.name, false, &path)
    }

    /// # Authorization
    ///
    /// `write` on the `File`.
    fn write_in_place(&mut self, file: Resource<FileRes>, contents: Vec<u8>) -> FsResult<()> {
        self.host_call()?;
        let path = self.handle_path(&file, true)?;
        let granted = self.authorize(Write, FsResource::File(path.clone()))?;
        self.single_link(&file, &path, "overwrite")?;
        self.meter.charge_write(contents.len())?;
        overwrite(&granted, &self.table.get(&file)?.file, &contents, &path)
    }

    /// # Authorization
    ///
    /// `write` on the `File`.
    fn set_len(&mut self, file: Resource<FileRes>, size: u64) -> FsResult<()> {
        self.host_call()?;
        let path = self.handle_path(&file, true)?;
        if i64::try_from(size).is_err() {
            return Err(FsError::invalid_argument(format!(
                "truncate: size {size} is too large"
            )));
        }
        let granted = self.authorize(Write, FsResource::File(path.clone()))?;
        self.single_link(&file, &path, "truncate")?;
        // Growth is bytes the file system holds for the script (a sparse file still counts:
        // it is its size a reader sees and a copy writes).
        let current = fstat(self.table.get(&file)?.file.as_fd(), &path)?.st_size;
        let growth = size.saturating_sub(u64::try_from(current).unwrap_or(0));
        self.meter
            .charge_write(usize::try_from(growth).unwrap_or(usize::MAX))?;
        set_len(&granted, &self.table.get(&file)?.file, size, &path)
    }

    /// # Authorization
    ///
    /// `write` on the `File`. The reserved bytes count against the run's bytes-written limit.
    fn allocate(&mut self, file: Resource<FileRes>, len: u64) -> FsResult<()> {
        self.host_call()?;
        let path = self.handle_path(&file, true)?;
        if len == 0 || i64::try_from(len).is_err() {
            return Err(FsError::invalid_argument(format!(
                "fallocate: length {len} must be between 1 and 2^63 - 1"
            )));
        }
        let granted = self.authorize(Write, FsResource::File(path.clone()))?;
        self.single_link(&file, &path, "allocate")?;
        self.meter
            .charge_write(usize::try_from(len).unwrap_or(usize::MAX))?;
        allocate(&granted, &self.table.get(&file)?.file, len, &path)
    }

    /// # Authorization
    ///
    /// `chmod` on the `File`.
    fn set_permissions(&mut self, file: Resource<FileRes>, mode: u32) -> FsResult<()> {
        self.host_call()?;
        let mode = checked_mode(mode)?;
        let path = self.file_path(&file)?;
        let granted = self.authorize(Chmod, FsResource::File(path.clone()))?;
        self.single_link(&file, &path, "chmod")?;
        chmod_fd(&granted, self.table.get(&file)?.file.as_fd(), mode, &path)
    }

    /// # Authorization
    ///
    /// `chown` on the `File`.
    fn set_ownership(
        &mut self,
        file: Resource<FileRes>,
        user: Option<String>,
        group: Option<String>,
    ) -> FsResult<()> {
        self.host_call()?;
        let (uid, gid) = owner_ids(user.as_deref(), group.as_deref())?;
        let path = self.file_path(&file)?;
        let granted = self.authorize(Chown, FsResource::File(path.clone()))?;
        self.single_link(&file, &path, "chown")?;
        chown_fd(
            &granted,
            self.table.get(&file)?.file.as_fd(),
            uid,
            gid,
            &path,
        )
    }

    /// # Authorization
    ///
    /// `write` on the `File`.
    fn set_modified(&mut self, file: Resource<FileRes>, seconds: i64) -> FsResult<()> {
        self.host_call()?;
        let path = self.file_path(&file)?;
        let granted = self.authorize(Write, FsResource::File(path.clone()))?;
        self.single_link(&file, &path, "set the modification time of")?;
        set_mtime_fd(
            &granted,
            self.table.get(&file)?.file.as_fd(),
            seconds,
            &path,
        )
    }

    /// # Authorization
    ///
    /// `read` on this `File`, `write` on `dest`.
    fn copy_to(
        &mut self,
        file: Resource<FileRes>,
        dest: Resource<FileRes>,
        force: bool,
        preserve: bool,
    ) -> FsResult<Resource<FileRes>> {
        self.host_call()?;
        let src_path = self.handle_path(&file, false)?;
        let dest_path = self.handle_path(&dest, true)?;
        self.authorize(Read, FsResource::File(src_path.clone()))?;
        let granted = self.authorize(Write, FsResource::File(dest_path.clone()))?;
        let src = self
            .table
            .get(&file)?
            .file
            .try_clone()
            .map_err(|e| FsError::io(e, &src_path))?;
        let (dest_dir, dest_name, readable, writable) = {
            let d = self.table.get(&dest)?;
            (
                dup_dir(&d.dir, &dest_path)?,
                d.name.clone(),
                d.readable,
                d.writable,
            )
        };
        let dest_st = fstat(self.table.get(&dest)?.file.as_fd(), &dest_path)?;
        if !force && dest_st.st_size > 0 {
            return Err(FsError::guest(wit::Error::DestinationNotEmpty(format!(
                "Destination file not empty: File: {dest_path}, Size: {} bytes",
                dest_st.st_size
            ))));
        }
        let src_st = fstat(src.as_fd(), &src_path)?;
        let times = |sec, nsec| rustix::fs::Timespec {
            tv_sec: sec,
            tv_nsec: nsec as _,
        };
        let meta = CopyMeta {
            mode: if preserve {
                src_st.st_mode
            } else {
                dest_st.st_mode
            } & 0o7777,
            times: preserve.then_some(rustix::fs::Timestamps {
                last_access: times(src_st.st_atime, src_st.st_atime_nsec),
                last_modification: times(src_st.st_mtime, src_st.st_mtime_nsec),
            }),
        };
        let ends = CopyEnds {
            src: &src,
            src_path: &src_path,
            dir: &dest_dir,
            name: &dest_name,
            dest_path: &dest_path,
        };
        let copied = copy_replace(&granted, &ends, &meta, self.meter)?;
        let new = FileRes {
            file: copied,
            dir: dest_dir,
            name: dest_name,
            path: dest_path,
            readable,
            writable,
            link: None,
        };
        self.push_handle(new)
    }

    /// # Authorization
    ///
    /// `move` on the `File` (context `destination`), `create` on `File(dest/name)`, and
    /// `delete` on it when an existing entry is replaced.
    fn move_to(
        &mut self,
        file: Resource<FileRes>,
        dest: Resource<DirRes>,
        name: String,
    ) -> FsResult<Resource<FileRes>> {
        self.host_call()?;
        validate_name(&name)?;
        let src_path = self.file_path(&file)?;
        let (from_dir, from_name, readable, writable, src) = {
            let f = self.table.get(&file)?;
            (
                dup_dir(&f.dir, &src_path)?,
                f.name.clone(),
                f.readable,
                f.writable,
                f.file.try_clone().map_err(|e| FsError::io(e, &src_path))?,
            )
        };
        let from = Source {
            dir: &from_dir,
            name: &from_name,
            fd: src.as_fd(),
        };
        let moved = self.move_entry(FsResource::File(src_path), from, &dest, &name)?;
        // The same file, renamed (or its copy on another file system): never the name
        // opened again.
        let new = FileRes {
            file: moved.copy.unwrap_or(src),
            dir: moved.dir,
            name,
            path: moved.path,
            readable,
            writable,
            link: None,
        };
        self.push_handle(new)
    }

    /// # Authorization
    ///
    /// `redacted_read` on the `File`; `open` on the dictionary's directory and `open` and
    /// `read` on the dictionary file.
    fn read_redacted(&mut self, file: Resource<FileRes>) -> FsResult<String> {
        self.host_call()?;
        let path = self.handle_path(&file, false)?;
        let granted = self.authorize(RedactedRead, FsResource::File(path.clone()))?;
        let patterns = self.redaction_patterns()?;
        let size = fstat(self.table.get(&file)?.file.as_fd(), &path)?.st_size;
        if size > MAX_REDACTED_BYTES as i64 {
            return Err(FsError::invalid_argument(format!(
                "redacted read of `{path}` refused: the file is larger than {MAX_REDACTED_BYTES} bytes"
            )));
        }
        let file = &self.table.get(&file)?.file;
        let bytes = read_chunk(&granted, file, 0, MAX_REDACTED_BYTES, &path)?;
        self.meter.charge_read(bytes.len())?;
        self.authz.charge_read(
            RedactedRead,
            &FsResource::File(path.clone()),
            bytes.len() as u64,
        )?;
        let text = String::from_utf8(bytes).map_err(|_| {
            FsError::guest(wit::Error::Io(format!(
                "stream did not contain valid UTF-8: file `{path}`"
            )))
        })?;
        redact(&text, &patterns, self.meter.clock())
    }

    /// # Authorization
    ///
    /// `set_x_attr` on the `File`, with context `xattr {name}`.
    fn set_extended_attr(
        &mut self,
        file: Resource<FileRes>,
        name: String,
        user: Option<String>,
        role: Option<String>,
        kind: Option<String>,
        level: Option<String>,
    ) -> FsResult<()> {
        self.host_call()?;
        validate_xattr_name(&name)?;
        if name.starts_with(super::labels::XATTR_PREFIX) {
            return Err(FsError::invalid_argument(format!(
                "`{name}` is a data label: extended attributes {}* are set by the host's owner, never by a script",
                super::labels::XATTR_PREFIX
            )));
        }
        let parts = [user, role, kind, level];
        validate_context_parts(&parts)?;
        let path = self.file_path(&file)?;
        let resource = FsResource::File(path.clone());
        let granted = self
            .authz
            .authorize_with(SetXAttr, &resource, xattr_context(&name))?;
        self.single_link(&file, &path, "set an extended attribute on")?;
        let fd = self.table.get(&file)?.file.as_fd();
        let current = get_xattr(fd, &name, &path)?;
        let value = merge_context(current.as_deref(), &parts, &path)?;
        set_xattr(&granted, fd, &name, value.as_bytes(), &path)
    }

    fn drop(&mut self, file: Resource<FileRes>) -> wasmtime::Result<()> {
        self.drop_handle(file)?;
        Ok(())
    }
}
