//! `impl` of the `wrex:sdk/fs` WIT traits. Every function follows one order:
//! validate the arguments → authorize with Cedar → act on the held descriptors.

use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use wasmtime::component::Resource;

use super::ops::{
    Change, CopyMeta, Renamed, allocate, change_tree, check_links, checked_mode, chmod_fd,
    chown_at, chown_fd, copy_replace, overwrite, rename, resolve_group, resolve_user, set_len,
    set_xattr, symlink_at,
};
use super::path::{join, normalize_absolute, validate_name};
use super::{
    DIR_FLAGS, DirRes, FileRes, FsError, MAX_LINKS, MAX_READ_CHUNK, Planned, SymlinkRes, Walk,
    append_file, dir_from_fd, ensure_same, identity_at, metadata_at, metadata_of, mkdir_at,
    open_at, plan_tree, read_chunk, read_entries, read_symlink, remove_planned, replace_file,
    unlink_at, walk,
};
use crate::authz::{Denied, Destination, FsAction, FsResource, Granted};
use crate::bindings::wit_fs as wit;
use crate::runtime::HostState;

type FsResult<T> = Result<T, FsError>;

impl HostState {
    fn authorize(&mut self, action: FsAction, resource: FsResource) -> FsResult<Granted> {
        let decision = self.authz.authorize(action, &resource);
        self.counted(decision)
    }

    /// A decision as the guest sees it; a denial is counted, so that an uncaught "access
    /// denied" from the guest can be confirmed against the host's own record.
    fn counted(&mut self, decision: Result<Granted, Denied>) -> FsResult<Granted> {
        decision.map_err(|denied| {
            self.denials += 1;
            denied.into()
        })
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
        plan_tree(granted, fd, path, "delete", &mut count, &mut |is_dir, p| {
            let resource = if is_dir {
                FsResource::Dir(p.to_string())
            } else {
                FsResource::File(p.to_string())
            };
            self.authorize(FsAction::Delete, resource).map(drop)
        })
    }

    /// Refuses to change a file in place when it has other hard links: a hard link is a name
    /// the policy authorized for *this* path, but the inode may also be reachable by a name
    /// outside the policy, which an in-place change would modify too. (`write` is allowed: it
    /// replaces this name with a new file and leaves other links untouched.)
    fn single_link(&self, file: &Resource<FileRes>, path: &str, what: &str) -> FsResult<()> {
        let st = rustix::fs::fstat(self.table.get(file)?.file.as_fd())
            .map_err(|e| FsError::io(e, path))?;
        if st.st_nlink > 1 {
            return Err(FsError::Guest(wit::Error::Unsupported(format!(
                "refusing to {what} `{path}` in place: it has {} hard links, and another may be outside the policy; write() replaces the file instead",
                st.st_nlink
            ))));
        }
        Ok(())
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
            "`{}` was not opened for {}: set `{mode}(true)` in OpenFileOptions",
            res.path,
            if mode == "read" { "reading" } else { "writing" }
        ))))
    }

    /// A descriptor of the run's tenant root (`None`: the host's `/`).
    fn tenant_root(&self) -> FsResult<Option<cap_std::fs::Dir>> {
        self.root
            .as_ref()
            .map(|r| r.try_clone().map_err(|e| FsError::io(e, "/")))
            .transpose()
    }

    /// Authorizes moving `resource` to `dest/name`: `move` on it with Rex's `destination`
    /// context, then `create` on the destination (as the same entity type). Returns the proof,
    /// the destination's path and a descriptor of `dest`.
    fn authorize_move_into(
        &mut self,
        resource: FsResource,
        dest: &Resource<DirRes>,
        name: &str,
    ) -> FsResult<(Granted, String, cap_std::fs::Dir)> {
        let parent_path = self.table.get(dest)?.path.clone();
        let path = join(&parent_path, name);
        let destination = Destination {
            path: path.clone(),
            name: name.to_string(),
            parent_path,
        };
        let created = match resource {
            FsResource::Dir(_) => FsResource::Dir(path.clone()),
            FsResource::File(_) => FsResource::File(path.clone()),
        };
        let decision = self.authz.authorize_move(&resource, &destination);
        let granted = self.counted(decision)?;
        self.authorize(FsAction::Create, created)?;
        let dir = self
            .table
            .get(dest)?
            .dir
            .try_clone()
            .map_err(|e| FsError::io(e, &path))?;
        Ok((granted, path, dir))
    }

    /// `chmod` or `chown` of a directory and, with `recursive`, of everything below it: every
    /// entry is authorized (`action`) before anything changes.
    fn change_dir(
        &mut self,
        dir: Resource<DirRes>,
        action: FsAction,
        change: Change,
        recursive: bool,
    ) -> FsResult<()> {
        let path = self.table.get(&dir)?.path.clone();
        let granted = self.authorize(action, FsResource::Dir(path.clone()))?;
        let fd = self
            .table
            .get(&dir)?
            .dir
            .try_clone()
            .map_err(|e| FsError::io(e, &path))?;
        if recursive {
            let mut count = 0;
            let what = if action == FsAction::Chmod {
                "chmod"
            } else {
                "chown"
            };
            let plan = plan_tree(
                &granted,
                fd.as_fd(),
                &path,
                what,
                &mut count,
                &mut |is_dir, p| {
                    let resource = if is_dir {
                        FsResource::Dir(p.to_string())
                    } else {
                        FsResource::File(p.to_string())
                    };
                    self.authorize(action, resource).map(drop)
                },
            )?;
            check_links(fd.as_fd(), &path, &plan)?;
            change_tree(&granted, fd.as_fd(), &path, &plan, change)?;
        }
        match change {
            Change::Mode(mode) => chmod_fd(&granted, fd.as_fd(), mode, &path),
            Change::Owner(u, g) => chown_fd(&granted, fd.as_fd(), u, g, &path),
        }
    }

    /// The redaction dictionary's patterns, read through the same checks as any file:
    /// `open` on its directory, `open` and `read` on the file.
    fn redaction_patterns(&mut self) -> FsResult<Vec<regex::Regex>> {
        let dict = normalize_absolute(&self.redaction_dictionary.clone())?;
        let (parent, name) = match dict.rsplit_once('/') {
            Some(("", n)) => ("/".to_string(), n.to_string()),
            Some((d, n)) => (d.to_string(), n.to_string()),
            None => {
                return Err(FsError::invalid_path(format!(
                    "bad dictionary path `{dict}`"
                )));
            }
        };
        let granted = self.authorize(FsAction::Open, FsResource::Dir(parent.clone()))?;
        let root = self.tenant_root()?;
        let walked = walk(
            &granted,
            &parent,
            Walk::default(),
            root.as_ref().map(AsFd::as_fd),
            &mut |_| Ok(()),
        )?;
        self.authorize(FsAction::Open, FsResource::File(dict.clone()))?;
        let read = self.authorize(FsAction::Read, FsResource::File(dict.clone()))?;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let fd = open_at(&read, walked.fd.as_fd(), &name, flags, 0)
            .map_err(|e| FsError::io(e, &dict))?;
        let file = std::fs::File::from(fd);
        let bytes = read_chunk(&read, &file, 0, MAX_DICTIONARY_BYTES, &dict)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            FsError::Guest(wit::Error::Io(format!(
                "redaction dictionary `{dict}` is not valid UTF-8"
            )))
        })?;
        parse_dictionary(&text, &dict)
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

    /// # Authorization
    ///
    /// `read` on the `Dir`.
    fn list_details(&mut self, dir: Resource<DirRes>) -> FsResult<Vec<wit::EntryDetails>> {
        self.meter.host_call()?;
        let path = self.table.get(&dir)?.path.clone();
        let granted = self.authorize(FsAction::Read, FsResource::Dir(path.clone()))?;
        let res = self.table.get(&dir)?;
        let mut entries = read_entries(&granted, res.dir.as_fd(), &path)?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let child = join(&path, &entry.name);
            match metadata_at(&granted, res.dir.as_fd(), &entry.name, &child, None) {
                Ok(metadata) => out.push(wit::EntryDetails { entry, metadata }),
                // Removed since it was listed.
                Err(FsError::Guest(wit::Error::NotFound(_))) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// # Authorization
    ///
    /// `read` on `File(dir/name)`.
    fn read_link(&mut self, dir: Resource<DirRes>, name: String) -> FsResult<String> {
        self.meter.host_call()?;
        validate_name(&name)?;
        let path = join(&self.table.get(&dir)?.path, &name);
        let _granted = self.authorize(FsAction::Read, FsResource::File(path.clone()))?;
        let res = self.table.get(&dir)?;
        match read_symlink(res.dir.as_fd(), &name, &path)? {
            Some(target) => Ok(target),
            None => Err(FsError::invalid_argument(format!(
                "`{path}` is not a symbolic link (or does not exist)"
            ))),
        }
    }

    /// # Authorization
    ///
    /// `create` on `File(dir/name)`; with `force` and an existing entry, `delete` on it first.
    fn create_symlink(
        &mut self,
        dir: Resource<DirRes>,
        target: String,
        name: String,
        force: bool,
    ) -> FsResult<()> {
        self.meter.host_call()?;
        validate_name(&name)?;
        validate_link_target(&target)?;
        let path = join(&self.table.get(&dir)?.path, &name);
        let granted = self.authorize(FsAction::Create, FsResource::File(path.clone()))?;
        let parent = self
            .table
            .get(&dir)?
            .dir
            .try_clone()
            .map_err(|e| FsError::io(e, &path))?;
        if force {
            match rustix::fs::statat(parent.as_fd(), name.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => {
                    if rustix::fs::FileType::from_raw_mode(st.st_mode)
                        == rustix::fs::FileType::Directory
                    {
                        return Err(not_a_file(&path));
                    }
                    let delete =
                        self.authorize(FsAction::Delete, FsResource::File(path.clone()))?;
                    unlink_at(&delete, parent.as_fd(), &name, AtFlags::empty(), &path)?;
                }
                Err(Errno::NOENT) => {}
                Err(e) => return Err(FsError::io(e, &path)),
            }
        }
        symlink_at(&granted, &target, parent.as_fd(), &name, &path)
    }

    /// # Authorization
    ///
    /// `open` on `File(dir/name)`.
    fn open_symlink(
        &mut self,
        dir: Resource<DirRes>,
        name: String,
    ) -> FsResult<Resource<SymlinkRes>> {
        self.meter.host_call()?;
        validate_name(&name)?;
        let path = join(&self.table.get(&dir)?.path, &name);
        let _granted = self.authorize(FsAction::Open, FsResource::File(path.clone()))?;
        let res = self.table.get(&dir)?;
        let st = rustix::fs::statat(res.dir.as_fd(), name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| FsError::io(e, &path))?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Symlink {
            return Err(FsError::invalid_argument(format!(
                "`{path}` is not a symbolic link"
            )));
        }
        let link = SymlinkRes {
            dir: res.dir.try_clone().map_err(|e| FsError::io(e, &path))?,
            name,
            path,
            identity: (st.st_dev, st.st_ino),
        };
        Ok(self.table.push(link)?)
    }

    /// # Authorization
    ///
    /// `chmod` on the `Dir`; with `recursive`, `chmod` on every entry below it first.
    fn set_permissions(
        &mut self,
        dir: Resource<DirRes>,
        mode: u32,
        recursive: bool,
    ) -> FsResult<()> {
        self.meter.host_call()?;
        let mode = checked_mode(mode)?;
        self.change_dir(dir, FsAction::Chmod, Change::Mode(mode), recursive)
    }

    /// # Authorization
    ///
    /// `chown` on the `Dir`; with `recursive`, `chown` on every entry below it first.
    fn set_ownership(
        &mut self,
        dir: Resource<DirRes>,
        user: Option<String>,
        group: Option<String>,
        recursive: bool,
    ) -> FsResult<()> {
        self.meter.host_call()?;
        let (uid, gid) = owner_ids(user.as_deref(), group.as_deref())?;
        self.change_dir(dir, FsAction::Chown, Change::Owner(uid, gid), recursive)
    }

    /// # Authorization
    ///
    /// `move` on the `Dir` (context `destination`), `create` on `Dir(dest/name)`, and `delete`
    /// on it when an existing (empty) directory is replaced.
    fn move_to(
        &mut self,
        dir: Resource<DirRes>,
        dest: Resource<DirRes>,
        name: String,
    ) -> FsResult<Resource<DirRes>> {
        self.meter.host_call()?;
        validate_name(&name)?;
        let src_path = self.table.get(&dir)?.path.clone();
        let (granted, dest_path, to_dir) =
            self.authorize_move_into(FsResource::Dir(src_path.clone()), &dest, &name)?;
        let (from_dir, from_name) = match &self.table.get(&dir)?.parent {
            Some((parent, name)) => (
                parent.try_clone().map_err(|e| FsError::io(e, &src_path))?,
                name.clone(),
            ),
            None => return Err(FsError::invalid_argument("refusing to move `/`".into())),
        };
        ensure_same(
            from_dir.as_fd(),
            &from_name,
            self.table.get(&dir)?.dir.as_fd(),
            &src_path,
        )?;
        let mut outcome = rename(
            &granted,
            from_dir.as_fd(),
            &from_name,
            to_dir.as_fd(),
            &name,
            false,
            &src_path,
        )?;
        if let Renamed::Exists = outcome {
            let st = rustix::fs::statat(to_dir.as_fd(), name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| FsError::io(e, &dest_path))?;
            if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Directory {
                return Err(FsError::Guest(wit::Error::AlreadyExists(format!(
                    "cannot move directory `{src_path}` over `{dest_path}`: it exists and is not a directory"
                ))));
            }
            let replace = self.authorize(FsAction::Delete, FsResource::Dir(dest_path.clone()))?;
            outcome = rename(
                &replace,
                from_dir.as_fd(),
                &from_name,
                to_dir.as_fd(),
                &name,
                true,
                &src_path,
            )?;
        }
        match outcome {
            Renamed::Done => {}
            Renamed::Exists => {
                return Err(FsError::Guest(wit::Error::AlreadyExists(format!(
                    "`{dest_path}` appeared while `{src_path}` was being moved"
                ))));
            }
            Renamed::CrossDevice => {
                return Err(FsError::Guest(wit::Error::Unsupported(format!(
                    "cannot move directory `{src_path}` to `{dest_path}`: it is on another file system"
                ))));
            }
        }
        let fd = rustix::fs::openat(to_dir.as_fd(), name.as_str(), DIR_FLAGS, Mode::empty())
            .map_err(|e| FsError::io(e, &dest_path))?;
        let moved = DirRes {
            dir: dir_from_fd(fd),
            path: dest_path,
            parent: Some((to_dir, name)),
        };
        Ok(self.table.push(moved)?)
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
        self.single_link(&file, &path, "append to")?;
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

    /// # Authorization
    ///
    /// `write` on the `File`.
    fn write_in_place(&mut self, file: Resource<FileRes>, contents: Vec<u8>) -> FsResult<()> {
        self.meter.host_call()?;
        let path = self.handle_path(&file, "write")?;
        let granted = self.authorize(FsAction::Write, FsResource::File(path.clone()))?;
        self.single_link(&file, &path, "overwrite")?;
        self.meter.charge_write(contents.len())?;
        overwrite(&granted, &self.table.get(&file)?.file, &contents, &path)
    }

    /// # Authorization
    ///
    /// `write` on the `File`.
    fn set_len(&mut self, file: Resource<FileRes>, size: u64) -> FsResult<()> {
        self.meter.host_call()?;
        let path = self.handle_path(&file, "write")?;
        if i64::try_from(size).is_err() {
            return Err(FsError::invalid_argument(format!(
                "truncate: size {size} is too large"
            )));
        }
        let granted = self.authorize(FsAction::Write, FsResource::File(path.clone()))?;
        self.single_link(&file, &path, "truncate")?;
        set_len(&granted, &self.table.get(&file)?.file, size, &path)
    }

    /// # Authorization
    ///
    /// `write` on the `File`. The reserved bytes count against the run's bytes-written limit.
    fn allocate(&mut self, file: Resource<FileRes>, len: u64) -> FsResult<()> {
        self.meter.host_call()?;
        let path = self.handle_path(&file, "write")?;
        if len == 0 || i64::try_from(len).is_err() {
            return Err(FsError::invalid_argument(format!(
                "fallocate: length {len} must be between 1 and 2^63 - 1"
            )));
        }
        let granted = self.authorize(FsAction::Write, FsResource::File(path.clone()))?;
        self.single_link(&file, &path, "allocate")?;
        self.meter
            .charge_write(usize::try_from(len).unwrap_or(usize::MAX))?;
        allocate(&granted, &self.table.get(&file)?.file, len, &path)
    }

    /// # Authorization
    ///
    /// `chmod` on the `File`.
    fn set_permissions(&mut self, file: Resource<FileRes>, mode: u32) -> FsResult<()> {
        self.meter.host_call()?;
        let mode = checked_mode(mode)?;
        let path = self.table.get(&file)?.path.clone();
        let granted = self.authorize(FsAction::Chmod, FsResource::File(path.clone()))?;
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
        self.meter.host_call()?;
        let (uid, gid) = owner_ids(user.as_deref(), group.as_deref())?;
        let path = self.table.get(&file)?.path.clone();
        let granted = self.authorize(FsAction::Chown, FsResource::File(path.clone()))?;
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
    /// `read` on this `File`, `write` on `dest`.
    fn copy_to(
        &mut self,
        file: Resource<FileRes>,
        dest: Resource<FileRes>,
        force: bool,
        preserve: bool,
    ) -> FsResult<Resource<FileRes>> {
        self.meter.host_call()?;
        let src_path = self.handle_path(&file, "read")?;
        let dest_path = self.handle_path(&dest, "write")?;
        let _read = self.authorize(FsAction::Read, FsResource::File(src_path.clone()))?;
        let granted = self.authorize(FsAction::Write, FsResource::File(dest_path.clone()))?;
        let src = self
            .table
            .get(&file)?
            .file
            .try_clone()
            .map_err(|e| FsError::io(e, &src_path))?;
        let (dest_dir, dest_name, readable, writable) = {
            let d = self.table.get(&dest)?;
            (
                d.dir.try_clone().map_err(|e| FsError::io(e, &dest_path))?,
                d.name.clone(),
                d.readable,
                d.writable,
            )
        };
        let dest_st = rustix::fs::fstat(self.table.get(&dest)?.file.as_fd())
            .map_err(|e| FsError::io(e, &dest_path))?;
        if !force && dest_st.st_size > 0 {
            return Err(FsError::Guest(wit::Error::DestinationNotEmpty(format!(
                "Destination file not empty: File: {dest_path}, Size: {} bytes",
                dest_st.st_size
            ))));
        }
        let src_st = rustix::fs::fstat(src.as_fd()).map_err(|e| FsError::io(e, &src_path))?;
        let meta = CopyMeta {
            mode: if preserve {
                src_st.st_mode
            } else {
                dest_st.st_mode
            } & 0o7777,
            times: preserve.then_some(rustix::fs::Timestamps {
                last_access: rustix::fs::Timespec {
                    tv_sec: src_st.st_atime,
                    tv_nsec: src_st.st_atime_nsec as _,
                },
                last_modification: rustix::fs::Timespec {
                    tv_sec: src_st.st_mtime,
                    tv_nsec: src_st.st_mtime_nsec as _,
                },
            }),
        };
        copy_replace(
            &granted,
            &src,
            &dest_dir,
            &dest_name,
            &meta,
            &mut self.meter,
            &src_path,
            &dest_path,
        )?;
        let new = reopen(&granted, dest_dir, dest_name, dest_path, readable, writable)?;
        Ok(self.table.push(new)?)
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
        self.meter.host_call()?;
        validate_name(&name)?;
        let src_path = self.table.get(&file)?.path.clone();
        let (granted, dest_path, to_dir) =
            self.authorize_move_into(FsResource::File(src_path.clone()), &dest, &name)?;
        let (from_dir, from_name, readable, writable, src) = {
            let f = self.table.get(&file)?;
            (
                f.dir.try_clone().map_err(|e| FsError::io(e, &src_path))?,
                f.name.clone(),
                f.readable,
                f.writable,
                f.file.try_clone().map_err(|e| FsError::io(e, &src_path))?,
            )
        };
        ensure_same(from_dir.as_fd(), &from_name, src.as_fd(), &src_path)?;
        let mut replace = false;
        loop {
            match rename(
                &granted,
                from_dir.as_fd(),
                &from_name,
                to_dir.as_fd(),
                &name,
                replace,
                &src_path,
            )? {
                Renamed::Done => break,
                Renamed::Exists if !replace => {
                    let st = rustix::fs::statat(
                        to_dir.as_fd(),
                        name.as_str(),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .map_err(|e| FsError::io(e, &dest_path))?;
                    if rustix::fs::FileType::from_raw_mode(st.st_mode)
                        == rustix::fs::FileType::Directory
                    {
                        return Err(not_a_file(&dest_path));
                    }
                    self.authorize(FsAction::Delete, FsResource::File(dest_path.clone()))?;
                    replace = true;
                }
                Renamed::Exists => {
                    return Err(FsError::Guest(wit::Error::AlreadyExists(format!(
                        "`{dest_path}` exists"
                    ))));
                }
                Renamed::CrossDevice => {
                    // Another file system: copy next to the destination, sync, rename into
                    // place, then remove the source (still the same file: checked above).
                    let st =
                        rustix::fs::fstat(src.as_fd()).map_err(|e| FsError::io(e, &src_path))?;
                    if !replace
                        && rustix::fs::statat(
                            to_dir.as_fd(),
                            name.as_str(),
                            AtFlags::SYMLINK_NOFOLLOW,
                        )
                        .is_ok()
                    {
                        self.authorize(FsAction::Delete, FsResource::File(dest_path.clone()))?;
                    }
                    let meta = CopyMeta {
                        mode: st.st_mode & 0o7777,
                        times: None,
                    };
                    copy_replace(
                        &granted,
                        &src,
                        &to_dir,
                        &name,
                        &meta,
                        &mut self.meter,
                        &src_path,
                        &dest_path,
                    )?;
                    ensure_same(from_dir.as_fd(), &from_name, src.as_fd(), &src_path)?;
                    unlink_at(
                        &granted,
                        from_dir.as_fd(),
                        &from_name,
                        AtFlags::empty(),
                        &src_path,
                    )?;
                    break;
                }
            }
        }
        let new = reopen(&granted, to_dir, name, dest_path, readable, writable)?;
        Ok(self.table.push(new)?)
    }

    /// # Authorization
    ///
    /// `redacted_read` on the `File`; `open` on the dictionary's directory and `open` and
    /// `read` on the dictionary file.
    fn read_redacted(&mut self, file: Resource<FileRes>) -> FsResult<String> {
        self.meter.host_call()?;
        let path = self.handle_path(&file, "read")?;
        let granted = self.authorize(FsAction::RedactedRead, FsResource::File(path.clone()))?;
        let patterns = self.redaction_patterns()?;
        let size = rustix::fs::fstat(self.table.get(&file)?.file.as_fd())
            .map_err(|e| FsError::io(e, &path))?
            .st_size;
        if size > MAX_REDACTED_BYTES as i64 {
            return Err(FsError::invalid_argument(format!(
                "redacted read of `{path}` refused: the file is larger than {MAX_REDACTED_BYTES} bytes"
            )));
        }
        let bytes = read_chunk(
            &granted,
            &self.table.get(&file)?.file,
            0,
            MAX_REDACTED_BYTES,
            &path,
        )?;
        self.meter.charge_read(bytes.len())?;
        let text = String::from_utf8(bytes).map_err(|_| {
            FsError::Guest(wit::Error::Io(format!("file `{path}` is not valid UTF-8")))
        })?;
        Ok(redact(&text, &patterns))
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
        self.meter.host_call()?;
        validate_xattr_name(&name)?;
        let parts = [user, role, kind, level];
        for part in parts.iter().flatten() {
            if part.is_empty() || part.contains([':', '\0']) || part.chars().any(char::is_control) {
                return Err(FsError::invalid_argument(format!(
                    "set-extended-attr: context part `{}` must be non-empty, without `:` or control characters",
                    part.escape_debug()
                )));
            }
        }
        let path = self.table.get(&file)?.path.clone();
        let decision = self
            .authz
            .authorize_xattr(&FsResource::File(path.clone()), &name);
        let granted = self.counted(decision)?;
        self.single_link(&file, &path, "set an extended attribute on")?;
        let fd = self.table.get(&file)?.file.as_fd();
        let current = get_xattr(fd, &name, &path)?;
        let value = merge_context(current.as_deref(), &parts, &path)?;
        set_xattr(&granted, fd, &name, value.as_bytes(), &path)
    }

    fn drop(&mut self, file: Resource<FileRes>) -> wasmtime::Result<()> {
        self.table.delete(file)?;
        Ok(())
    }
}

impl HostState {
    /// The symlink behind `link`, checked to be the same link that was opened.
    fn symlink_checked(
        &self,
        link: &Resource<SymlinkRes>,
    ) -> FsResult<(cap_std::fs::Dir, String, String)> {
        let res = self.table.get(link)?;
        if identity_at(res.dir.as_fd(), &res.name, &res.path)? != res.identity {
            return Err(FsError::Guest(wit::Error::Io(format!(
                "`{}` was replaced since it was opened; refusing to act on the new entry",
                res.path
            ))));
        }
        Ok((
            res.dir.try_clone().map_err(|e| FsError::io(e, &res.path))?,
            res.name.clone(),
            res.path.clone(),
        ))
    }
}

impl wit::HostSymlink for HostState {
    fn path(&mut self, link: Resource<SymlinkRes>) -> wasmtime::Result<String> {
        self.meter.host_call()?;
        Ok(self.table.get(&link)?.path.clone())
    }

    /// # Authorization
    ///
    /// `stat` on `File(link)`; the target is read only when `read` on it is permitted.
    fn metadata(&mut self, link: Resource<SymlinkRes>) -> FsResult<wit::Metadata> {
        self.meter.host_call()?;
        let (dir, name, path) = self.symlink_checked(&link)?;
        let granted = self.authorize(FsAction::Stat, FsResource::File(path.clone()))?;
        let resource = FsResource::File(path.clone());
        let target = if self.permits(FsAction::Read, &resource) {
            self.authorize(FsAction::Read, resource)?;
            read_symlink(dir.as_fd(), &name, &path)?
        } else {
            None
        };
        metadata_at(&granted, dir.as_fd(), &name, &path, target)
    }

    /// # Authorization
    ///
    /// `chown` on `File(link)`.
    fn set_ownership(
        &mut self,
        link: Resource<SymlinkRes>,
        user: Option<String>,
        group: Option<String>,
    ) -> FsResult<()> {
        self.meter.host_call()?;
        let (uid, gid) = owner_ids(user.as_deref(), group.as_deref())?;
        let (dir, name, path) = self.symlink_checked(&link)?;
        let granted = self.authorize(FsAction::Chown, FsResource::File(path.clone()))?;
        chown_at(&granted, dir.as_fd(), &name, uid, gid, &path)
    }

    fn drop(&mut self, link: Resource<SymlinkRes>) -> wasmtime::Result<()> {
        self.table.delete(link)?;
        Ok(())
    }
}

/// Largest file a redacted read serves (the host holds it whole while redacting).
const MAX_REDACTED_BYTES: usize = 64 << 20;
/// Largest redaction dictionary read.
const MAX_DICTIONARY_BYTES: usize = 1 << 20;
/// What replaces a line that no redaction pattern keeps.
const REDACTED: &str = "[REDACTED]";

/// A symlink's target text: not empty, no NUL, at most `PATH_MAX` bytes. Its meaning is never
/// trusted: every use of the link authorizes the path it resolves to.
fn validate_link_target(target: &str) -> FsResult<()> {
    if target.is_empty() || target.contains('\0') || target.len() > super::path::MAX_PATH {
        return Err(FsError::invalid_path(format!(
            "invalid symlink target `{}`: it must be 1 to {} bytes without NUL",
            target.escape_debug(),
            super::path::MAX_PATH
        )));
    }
    Ok(())
}

/// Owner and group from names or numeric ids; at least one must be given.
fn owner_ids(
    user: Option<&str>,
    group: Option<&str>,
) -> FsResult<(Option<rustix::fs::Uid>, Option<rustix::fs::Gid>)> {
    if user.is_none() && group.is_none() {
        return Err(FsError::invalid_argument(
            "set-ownership: give a user, a group, or both".into(),
        ));
    }
    Ok((
        user.map(resolve_user).transpose()?,
        group.map(resolve_group).transpose()?,
    ))
}

/// A new handle to `name` in `dir` (after a replace or move), opened without following.
fn reopen(
    granted: &Granted,
    dir: cap_std::fs::Dir,
    name: String,
    path: String,
    readable: bool,
    writable: bool,
) -> FsResult<FileRes> {
    let mut flags = OFlags::NOFOLLOW | OFlags::CLOEXEC;
    flags |= match (readable, writable) {
        (true, true) => OFlags::RDWR,
        (false, true) => OFlags::WRONLY,
        _ => OFlags::RDONLY,
    };
    let fd = open_at(granted, dir.as_fd(), &name, flags, 0).map_err(|e| FsError::io(e, &path))?;
    Ok(FileRes {
        file: std::fs::File::from(fd),
        dir,
        name,
        path,
        readable,
        writable,
    })
}

/// Keeps each line that some pattern matches; replaces every other line by `[REDACTED]`.
pub(super) fn redact(text: &str, patterns: &[regex::Regex]) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.is_empty() || patterns.iter().any(|p| p.is_match(line)) {
            out.push_str(line);
        } else {
            out.push_str(REDACTED);
        }
    }
    out
}

/// Parses a redaction dictionary: one regular expression per line; blank lines and lines
/// starting with `#` are ignored.
pub(super) fn parse_dictionary(text: &str, path: &str) -> FsResult<Vec<regex::Regex>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let re = regex::RegexBuilder::new(line)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                FsError::Guest(wit::Error::Io(format!(
                    "redaction dictionary `{path}` line {}: invalid pattern: {e}",
                    i + 1
                )))
            })?;
        out.push(re);
    }
    Ok(out)
}

/// An extended attribute name: `namespace.name`, at most 255 bytes, no NUL.
fn validate_xattr_name(name: &str) -> FsResult<()> {
    if name.is_empty() || name.len() > 255 || name.contains('\0') || !name.contains('.') {
        return Err(FsError::invalid_argument(format!(
            "invalid extended attribute name `{}`: expected `namespace.name` (e.g. `security.selinux`), at most 255 bytes",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// The attribute's current value as text (`None` when it is not set).
fn get_xattr(fd: std::os::fd::BorrowedFd<'_>, name: &str, path: &str) -> FsResult<Option<String>> {
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

/// `user:role:type[:level]` with the given parts replacing the current ones.
pub(super) fn merge_context(
    current: Option<&str>,
    parts: &[Option<String>; 4],
    path: &str,
) -> FsResult<String> {
    let mut fields: Vec<String> = match current {
        Some(c) => c.splitn(4, ':').map(str::to_string).collect(),
        None => Vec::new(),
    };
    if fields.len() < 3 {
        if current.is_some() {
            return Err(FsError::Guest(wit::Error::Io(format!(
                "the current context of `{path}` is not `user:role:type[:level]`"
            ))));
        }
        fields = vec![String::new(); 3];
    }
    for (i, part) in parts.iter().enumerate() {
        if let Some(p) = part {
            if i == 3 && fields.len() == 3 {
                fields.push(String::new());
            }
            fields[i] = p.clone();
        }
    }
    if fields[..3].iter().any(String::is_empty) {
        return Err(FsError::invalid_argument(format!(
            "`{path}` has no context yet: give selinux_user, selinux_role and selinux_type"
        )));
    }
    Ok(fields.join(":"))
}
