//! `impl` of the `wrex:sdk/fs` WIT traits. Every function follows one order:
//! validate the arguments → authorize with Cedar → act on the held descriptors.

use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use wasmtime::component::Resource;

use super::path::{join, normalize_absolute, validate_name};
use super::{
    DirRes, FileRes, FsError, MAX_LINKS, MAX_READ_CHUNK, Planned, Walk, append_file, dir_from_fd,
    ensure_same, metadata_of, mkdir_at, open_at, plan_tree, read_chunk, read_entries, read_symlink,
    remove_planned, replace_file, unlink_at, walk,
};
use crate::authz::{FsAction, FsResource, Granted};
use crate::bindings::wit_fs as wit;
use crate::runtime::HostState;

type FsResult<T> = Result<T, FsError>;

impl HostState {
    fn authorize(&mut self, action: FsAction, resource: FsResource) -> FsResult<Granted> {
        match self.authz.authorize(action, &resource) {
            Ok(granted) => Ok(granted),
            Err(denied) => {
                self.denials += 1;
                Err(denied.into())
            }
        }
    }

    /// Plans a recursive delete of everything below `fd` (at `path`), authorizing `delete` on
    /// every entry before anything is deleted.
    fn plan_recursive_delete(
        &mut self,
        granted: &Granted,
        fd: BorrowedFd<'_>,
        path: &str,
    ) -> FsResult<Vec<Planned>> {
        let mut count = 0;
        plan_tree(granted, fd, path, &mut count, &mut |is_dir, p| {
            let resource = if is_dir {
                FsResource::Dir(p.to_string())
            } else {
                FsResource::File(p.to_string())
            };
            self.authorize(FsAction::Delete, resource).map(drop)
        })
    }

    /// The path of a file handle that must have been opened with `mode` (`read` or `write`).
    fn handle_path(&self, file: &Resource<FileRes>, mode: &str) -> FsResult<String> {
        let res = self.table.get(file)?;
        let allowed = if mode == "read" {
            res.readable
        } else {
            res.writable
        };
        if allowed {
            return Ok(res.path.clone());
        }
        Err(FsError::Guest(wit::Error::BadHandleMode(format!(
            "`{}` was not opened for {mode}ing: set `{mode}(true)` in OpenFileOptions",
            res.path
        ))))
    }

    /// A descriptor of the run's tenant root (`None`: the host's `/`).
    fn tenant_root(&self) -> FsResult<Option<cap_std::fs::Dir>> {
        self.root
            .as_ref()
            .map(|r| r.try_clone().map_err(|e| FsError::io(e, "/")))
            .transpose()
    }

    /// Whether the policy would permit, without recording a decision (used only to pick which
    /// of two checks to record).
    fn permits(&self, action: FsAction, resource: &FsResource) -> bool {
        self.authz.permits(action, resource)
    }
}

impl wit::Host for HostState {
    fn convert_error(&mut self, err: FsError) -> wasmtime::Result<wit::Error> {
        match err {
            FsError::Guest(e) => Ok(e),
            FsError::Trap(t) => Err(t),
        }
    }
}

fn not_a_file(path: &str) -> FsError {
    FsError::Guest(wit::Error::NotAFile(format!(
        "argument is not a file: `{path}` is not a regular file"
    )))
}

impl wit::HostDir for HostState {
    /// # Authorization
    ///
    /// `open` on `Dir(path)`; `create` on `Dir(path)` with `create`, and on every missing
    /// directory the walk creates; `open` on the resolved `Dir` when a symlink was followed.
    fn open(&mut self, path: String, options: wit::OpenDirOptions) -> FsResult<Resource<DirRes>> {
        self.meter.host_call()?;
        let path = normalize_absolute(&path)?;
        let granted = self.authorize(FsAction::Open, FsResource::Dir(path.clone()))?;
        if options.create {
            self.authorize(FsAction::Create, FsResource::Dir(path.clone()))?;
        }
        let how = Walk {
            follow: options.follow_symlinks,
            create: options.create,
            recursive: options.recursive,
        };
        let root = self.tenant_root()?;
        let walked = walk(
            &granted,
            &path,
            how,
            root.as_ref().map(AsFd::as_fd),
            &mut |new_dir| {
                if new_dir == path {
                    Ok(())
                } else {
                    self.authorize(FsAction::Create, FsResource::Dir(new_dir.to_string()))
                        .map(drop)
                }
            },
        )?;
        if walked.path != path {
            self.authorize(FsAction::Open, FsResource::Dir(walked.path.clone()))?;
        }
        Ok(self.table.push(walked.into_dir_res())?)
    }

    fn path(&mut self, dir: Resource<DirRes>) -> wasmtime::Result<String> {
        self.meter.host_call()?;
        Ok(self.table.get(&dir)?.path.clone())
    }

    /// # Authorization
    ///
    /// `open` on `File(dir/name)` (+`create`); when a symlink is followed, `open` (+`create`)
    /// on the resolved `File` before it is opened or created.
    fn open_file(
        &mut self,
        dir: Resource<DirRes>,
        name: String,
        options: wit::OpenFileOptions,
    ) -> FsResult<Resource<FileRes>> {
        self.meter.host_call()?;
        validate_name(&name)?;
        if !options.read && !options.write {
            return Err(FsError::invalid_argument(
                "open-file: at least one of `read` or `write` must be requested".into(),
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
        let dir_path = self.table.get(&dir)?.path.clone();
        let path = join(&dir_path, &name);
        let mut granted = self.authorize(FsAction::Open, FsResource::File(path.clone()))?;
        if options.create {
            granted = self.authorize(FsAction::Create, FsResource::File(path.clone()))?;
        }

        // Resolve symlinks in the final component, if asked, before anything is opened.
        let mut parent = self
            .table
            .get(&dir)?
            .dir
            .try_clone()
            .map_err(|e| FsError::io(e, &dir_path))?;
        let mut parent_path = dir_path;
        let mut leaf = name;
        let mut links = 0;
        while let Some(target) = read_symlink(parent.as_fd(), &leaf, &join(&parent_path, &leaf))? {
            if !options.follow_symlinks {
                return Err(FsError::Guest(wit::Error::SymlinkNotFollowed(format!(
                    "file is a symbolic link but follow_symlinks is not enabled: `{path}`"
                ))));
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(FsError::Guest(wit::Error::TooManyLinks(format!(
                    "more than {MAX_LINKS} symlinks while resolving `{path}`"
                ))));
            }
            let full = if target.starts_with('/') {
                target
            } else {
                join(&parent_path, &target)
            };
            let (target_dir, target_name) = match full.rsplit_once('/') {
                Some((_, "" | "." | "..")) | None => return Err(not_a_file(&full)),
                Some(("", n)) => ("/".to_string(), n.to_string()),
                Some((d, n)) => (d.to_string(), n.to_string()),
            };
            let root = self.tenant_root()?;
            let walked = walk(
                &granted,
                &target_dir,
                Walk {
                    follow: true,
                    ..Walk::default()
                },
                root.as_ref().map(AsFd::as_fd),
                &mut |_| Ok(()),
            )?;
            parent = dir_from_fd(walked.fd);
            parent_path = walked.path;
            leaf = target_name;
        }
        let resolved = join(&parent_path, &leaf);
        if resolved != path {
            granted = self.authorize(FsAction::Open, FsResource::File(resolved.clone()))?;
            if options.create {
                granted = self.authorize(FsAction::Create, FsResource::File(resolved.clone()))?;
            }
        }

        let mut flags = OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
        flags |= match (options.read, options.write) {
            (true, true) => OFlags::RDWR,
            (false, true) => OFlags::WRONLY,
            _ => OFlags::RDONLY,
        };
        if options.create {
            flags |= OFlags::CREATE;
        }
        let fd = match open_at(&granted, parent.as_fd(), leaf.as_str(), flags, mode) {
            Ok(fd) => fd,
            // The final component became a symlink after it was resolved.
            Err(Errno::LOOP) => {
                return Err(FsError::Guest(wit::Error::SymlinkNotFollowed(format!(
                    "file is a symbolic link but follow_symlinks is not enabled: `{resolved}`"
                ))));
            }
            Err(Errno::ISDIR) => return Err(not_a_file(&resolved)),
            Err(Errno::NOENT) => {
                return Err(FsError::not_found(format!(
                    "file `{resolved}` does not exist"
                )));
            }
            Err(e) => return Err(FsError::io(e, &resolved)),
        };
        // Opened with O_NONBLOCK so a FIFO cannot block the host; anything but a regular file
        // is refused, then the flag is cleared.
        let st = rustix::fs::fstat(&fd).map_err(|e| FsError::io(e, &resolved))?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(not_a_file(&resolved));
        }
        let fl = rustix::fs::fcntl_getfl(&fd).map_err(|e| FsError::io(e, &resolved))?;
        rustix::fs::fcntl_setfl(&fd, fl - OFlags::NONBLOCK)
            .map_err(|e| FsError::io(e, &resolved))?;
        let res = FileRes {
            file: std::fs::File::from(fd),
            dir: parent,
            name: leaf,
            path: resolved,
            readable: options.read,
            writable: options.write,
        };
        Ok(self.table.push(res)?)
    }

    /// # Authorization
    ///
    /// `read` on the `Dir`.
    fn list_entries(&mut self, dir: Resource<DirRes>) -> FsResult<Vec<wit::DirEntry>> {
        self.meter.host_call()?;
        let path = self.table.get(&dir)?.path.clone();
        let granted = self.authorize(FsAction::Read, FsResource::Dir(path.clone()))?;
        let res = self.table.get(&dir)?;
        let mut entries = read_entries(&granted, res.dir.as_fd(), &path)?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// # Authorization
    ///
    /// `stat` on the `Dir`.
    fn metadata(&mut self, dir: Resource<DirRes>) -> FsResult<wit::Metadata> {
        self.meter.host_call()?;
        let path = self.table.get(&dir)?.path.clone();
        let granted = self.authorize(FsAction::Stat, FsResource::Dir(path.clone()))?;
        metadata_of(&granted, self.table.get(&dir)?.dir.as_fd(), &path)
    }

    /// # Authorization
    ///
    /// `create` on `Dir(dir/name)`.
    fn create_dir(&mut self, dir: Resource<DirRes>, name: String) -> FsResult<()> {
        self.meter.host_call()?;
        validate_name(&name)?;
        let path = join(&self.table.get(&dir)?.path, &name);
        let granted = self.authorize(FsAction::Create, FsResource::Dir(path.clone()))?;
        mkdir_at(&granted, self.table.get(&dir)?.dir.as_fd(), &name, &path)
    }

    /// # Authorization
    ///
    /// `delete` on the `Dir`; with `recursive`, `delete` on every entry below it (as `File` or
    /// `Dir`), all before anything is deleted.
    fn delete(&mut self, dir: Resource<DirRes>, recursive: bool) -> FsResult<()> {
        self.meter.host_call()?;
        let path = self.table.get(&dir)?.path.clone();
        if self.table.get(&dir)?.parent.is_none() {
            return Err(FsError::invalid_argument("refusing to delete `/`".into()));
        }
        let granted = self.authorize(FsAction::Delete, FsResource::Dir(path.clone()))?;
        let plan = if recursive {
            let fd = self
                .table
                .get(&dir)?
                .dir
                .try_clone()
                .map_err(|e| FsError::io(e, &path))?;
            self.plan_recursive_delete(&granted, fd.as_fd(), &path)?
        } else {
            Vec::new()
        };
        let res = self.table.get(&dir)?;
        let Some((parent, name)) = &res.parent else {
            return Err(FsError::invalid_argument("refusing to delete `/`".into()));
        };
        ensure_same(parent.as_fd(), name, res.dir.as_fd(), &path)?;
        remove_planned(&granted, res.dir.as_fd(), &path, &plan)?;
        unlink_at(&granted, parent.as_fd(), name, AtFlags::REMOVEDIR, &path)
    }

    /// # Authorization
    ///
    /// `delete` on `File(dir/name)` or `Dir(dir/name)` by the entry's type. When the policy
    /// would permit neither, the `File` check is recorded and denied before the entry is
    /// looked at; with `recursive`, as `delete` above.
    fn remove_entry(
        &mut self,
        dir: Resource<DirRes>,
        name: String,
        recursive: bool,
    ) -> FsResult<()> {
        self.meter.host_call()?;
        validate_name(&name)?;
        let path = join(&self.table.get(&dir)?.path, &name);
        let as_file = FsResource::File(path.clone());
        let as_dir = FsResource::Dir(path.clone());
        if !self.permits(FsAction::Delete, &as_file) && !self.permits(FsAction::Delete, &as_dir) {
            return self.authorize(FsAction::Delete, as_file).map(drop);
        }
        let parent = self
            .table
            .get(&dir)?
            .dir
            .try_clone()
            .map_err(|e| FsError::io(e, &path))?;
        let st = rustix::fs::statat(parent.as_fd(), name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| FsError::io(e, &path))?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Directory {
            let granted = self.authorize(FsAction::Delete, as_file)?;
            return unlink_at(&granted, parent.as_fd(), &name, AtFlags::empty(), &path);
        }
        let granted = self.authorize(FsAction::Delete, as_dir)?;
        let fd = rustix::fs::openat(
            parent.as_fd(),
            name.as_str(),
            super::DIR_FLAGS,
            Mode::empty(),
        )
        .map_err(|e| FsError::io(e, &path))?;
        if recursive {
            let plan = self.plan_recursive_delete(&granted, fd.as_fd(), &path)?;
            ensure_same(parent.as_fd(), &name, fd.as_fd(), &path)?;
            remove_planned(&granted, fd.as_fd(), &path, &plan)?;
        }
        unlink_at(&granted, parent.as_fd(), &name, AtFlags::REMOVEDIR, &path)
    }

    fn drop(&mut self, dir: Resource<DirRes>) -> wasmtime::Result<()> {
        self.table.delete(dir)?;
        Ok(())
    }
}

impl wit::HostFile for HostState {
    fn path(&mut self, file: Resource<FileRes>) -> wasmtime::Result<String> {
        self.meter.host_call()?;
        Ok(self.table.get(&file)?.path.clone())
    }

    /// # Authorization
    ///
    /// `read` on the `File`.
    fn read(&mut self, file: Resource<FileRes>, offset: u64, len: u32) -> FsResult<Vec<u8>> {
        self.meter.host_call()?;
        let path = self.handle_path(&file, "read")?;
        let granted = self.authorize(FsAction::Read, FsResource::File(path.clone()))?;
        let want = len.min(MAX_READ_CHUNK) as usize;
        let buf = read_chunk(&granted, &self.table.get(&file)?.file, offset, want, &path)?;
        self.meter.charge_read(buf.len())?;
        Ok(buf)
    }

    /// # Authorization
    ///
    /// `write` on the `File`.
    fn write(&mut self, file: Resource<FileRes>, contents: Vec<u8>) -> FsResult<Resource<FileRes>> {
        self.meter.host_call()?;
        let path = self.handle_path(&file, "write")?;
        let granted = self.authorize(FsAction::Write, FsResource::File(path.clone()))?;
        self.meter.charge_write(contents.len())?;
        let res = self.table.get(&file)?;
        let mode = rustix::fs::fstat(res.file.as_fd())
            .map_err(|e| FsError::io(e, &path))?
            .st_mode
            & 0o7777;
        let io = |e: std::io::Error| FsError::io(e, &path);
        replace_file(&granted, &res.dir, &res.name, mode, &contents, &path)?;
        let mut flags = OFlags::NOFOLLOW | OFlags::CLOEXEC;
        flags |= if res.readable {
            OFlags::RDWR
        } else {
            OFlags::WRONLY
        };
        let fd = open_at(&granted, res.dir.as_fd(), &res.name, flags, 0)
            .map_err(|e| FsError::io(e, &path))?;
        let new = FileRes {
            file: std::fs::File::from(fd),
            dir: res.dir.try_clone().map_err(io)?,
            name: res.name.clone(),
            path,
            readable: res.readable,
            writable: res.writable,
        };
        Ok(self.table.push(new)?)
    }

    /// # Authorization
    ///
    /// `write` on the `File`.
    fn append(&mut self, file: Resource<FileRes>, contents: Vec<u8>) -> FsResult<()> {
        self.meter.host_call()?;
        let path = self.handle_path(&file, "write")?;
        let granted = self.authorize(FsAction::Write, FsResource::File(path.clone()))?;
        self.meter.charge_write(contents.len())?;
        append_file(&granted, &self.table.get(&file)?.file, &contents, &path)
    }

    /// # Authorization
    ///
    /// `stat` on the `File`.
    fn metadata(&mut self, file: Resource<FileRes>) -> FsResult<wit::Metadata> {
        self.meter.host_call()?;
        let path = self.table.get(&file)?.path.clone();
        let granted = self.authorize(FsAction::Stat, FsResource::File(path.clone()))?;
        metadata_of(&granted, self.table.get(&file)?.file.as_fd(), &path)
    }

    fn entry(&mut self, file: Resource<FileRes>) -> FsResult<wit::DirEntry> {
        self.meter.host_call()?;
        let res = self.table.get(&file)?;
        let st = rustix::fs::fstat(res.file.as_fd()).map_err(|e| FsError::io(e, &res.path))?;
        Ok(wit::DirEntry {
            name: res.name.clone(),
            inode: st.st_ino,
            entry_type: super::entry_type(st.st_mode),
        })
    }

    /// # Authorization
    ///
    /// `delete` on the `File`.
    fn delete(&mut self, file: Resource<FileRes>) -> FsResult<()> {
        self.meter.host_call()?;
        let path = self.table.get(&file)?.path.clone();
        let granted = self.authorize(FsAction::Delete, FsResource::File(path.clone()))?;
        let res = self.table.get(&file)?;
        ensure_same(res.dir.as_fd(), &res.name, res.file.as_fd(), &path)?;
        unlink_at(
            &granted,
            res.dir.as_fd(),
            &res.name,
            AtFlags::empty(),
            &path,
        )
    }

    fn drop(&mut self, file: Resource<FileRes>) -> wasmtime::Result<()> {
        self.table.delete(file)?;
        Ok(())
    }
}
