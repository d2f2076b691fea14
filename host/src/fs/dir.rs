//! `dir` handles: open, list, create, delete, symlinks, permissions, ownership, move.

use std::os::fd::AsFd;

use rustix::fs::FileType;
use wasmtime::component::Resource;

use super::args::{checked_mode, owner_ids, validate_link_target};
use super::cedar::FsResource;
use super::cedar::action::{Chmod, Chown, Create, Delete, Open, Read, Stat, Write};
use super::error::{FsError, FsResult, not_a_file};
use super::moves::Source;
use super::path::{join, normalize_absolute, validate_name};
use super::resources::{DirRes, FileRes, SymlinkRes};
use super::sys::{
    self, dup_dir, ensure_same, file_type, lstat_at, lstat_if_exists, metadata_at, metadata_of,
    mkdir_at, open_dir_at, read_entries, read_symlink, replace_file, set_mtime_fd, symlink_at,
    unlink_at,
};
use super::tree::{self, Change, MAX_TREE_ENTRIES};
use super::view::FsView;
use super::walk::Walk;
use crate::authz::{Action, Granted};
use crate::bindings::wit_fs as wit;

impl FsView<'_> {
    /// The path of a `dir` handle.
    fn dir_path(&self, dir: &Resource<DirRes>) -> FsResult<String> {
        Ok(self.table.get(dir)?.path.clone())
    }

    /// A second descriptor of a `dir` handle's directory.
    fn dir_fd(&self, dir: &Resource<DirRes>, path: &str) -> FsResult<cap_std::fs::Dir> {
        dup_dir(&self.table.get(dir)?.dir, path)
    }

    /// Plans a recursive `A` (delete, chmod, chown) of everything below `fd` (at `path`),
    /// authorizing `A` on every entry before anything changes.
    fn plan_tree<A: Action<Resource = FsResource> + Copy>(
        &self,
        action: A,
        fd: std::os::fd::BorrowedFd<'_>,
        path: &str,
    ) -> FsResult<Vec<tree::Planned>> {
        tree::plan(self.meter.clock(), fd, path, A::ID, &mut |is_dir, p| {
            self.authorize(action, FsResource::entry(is_dir, p.to_string()))
                .map(drop)
        })
    }

    /// `chmod` or `chown` of a directory and, with `recursive`, of everything below it: every
    /// entry is authorized before anything changes.
    fn change_dir<A: Action<Resource = FsResource> + Copy>(
        &self,
        dir: &Resource<DirRes>,
        action: A,
        change: impl FnOnce(&Granted<A>) -> Change<'_>,
        recursive: bool,
    ) -> FsResult<()> {
        let path = self.dir_path(dir)?;
        let granted = self.authorize(action, FsResource::Dir(path.clone()))?;
        let fd = self.dir_fd(dir, &path)?;
        let change = change(&granted);
        if recursive {
            let plan = self.plan_tree(action, fd.as_fd(), &path)?;
            let clock = self.meter.clock();
            tree::check_links(clock, fd.as_fd(), &path, &plan)?;
            tree::change(clock, fd.as_fd(), &path, &plan, change)?;
        }
        change.apply_fd(fd.as_fd(), &path)
    }
}

impl wit::HostDir for FsView<'_> {
    /// # Authorization
    ///
    /// `open` on `Dir(path)`; `create` on `Dir(path)` with `create`, and on every missing
    /// directory the walk creates; `open` on the resolved `Dir` when a symlink was followed.
    fn open(&mut self, path: String, options: wit::OpenDirOptions) -> FsResult<Resource<DirRes>> {
        self.host_call()?;
        let path = normalize_absolute(&path)?;
        let granted = self.authorize(Open, FsResource::Dir(path.clone()))?;
        let create = if options.create {
            Some(self.authorize(Create, FsResource::Dir(path.clone()))?)
        } else {
            None
        };
        let how = Walk {
            follow: options.follow_symlinks,
            create: options.create,
            recursive: options.recursive,
        };
        let walked = self.walk(&granted, &path, how, create)?;
        // New directory entries are bytes the file system holds for the script.
        self.meter.charge_write(walked.created)?;
        if walked.path != path {
            self.authorize(Open, FsResource::Dir(walked.path.clone()))?;
        }
        self.push_handle(walked.into_dir_res())
    }

    fn path(&mut self, dir: Resource<DirRes>) -> wasmtime::Result<String> {
        self.host_call()?;
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
        self.host_call()?;
        let res = self.open_file_in(&dir, name, &options)?;
        self.push_handle(res)
    }

    /// # Authorization
    ///
    /// `open`, `create` (when absent) and `write` on `File(dir/name)`, all before anything is
    /// created.
    fn write_file(
        &mut self,
        dir: Resource<DirRes>,
        name: String,
        contents: Vec<u8>,
        permissions: Option<u32>,
    ) -> FsResult<Resource<FileRes>> {
        self.host_call()?;
        validate_name(&name)?;
        // `replace_file` keeps only the permission bits (no set-id or sticky bit).
        let mode = permissions.unwrap_or(0o644);
        let path = join(&self.table.get(&dir)?.path, &name);
        let resource = FsResource::File(path.clone());
        self.authorize(Open, resource.clone())?;
        let parent = self.dir_fd(&dir, &path)?;
        match lstat_if_exists(parent.as_fd(), &name, &path)? {
            None => {
                self.authorize(Create, resource.clone())?;
            }
            Some(st) if file_type(&st) == FileType::RegularFile => {}
            Some(st) if file_type(&st) == FileType::Symlink => {
                return Err(FsError::guest(wit::Error::SymlinkNotFollowed(format!(
                    "`{path}` is a symbolic link; write_file never follows one"
                ))));
            }
            Some(_) => return Err(not_a_file(&path)),
        }
        let granted = self.authorize(Write, resource)?;
        self.meter.charge_write(name.len() + contents.len())?;
        let file = replace_file(&granted, &parent, &name, mode, &contents, &path)?;
        let res = FileRes {
            file,
            dir: parent,
            name,
            path,
            readable: false,
            writable: true,
            link: None,
        };
        self.push_handle(res)
    }

    /// # Authorization
    ///
    /// `read` on the `Dir`.
    fn list_entries(&mut self, dir: Resource<DirRes>) -> FsResult<Vec<wit::DirEntry>> {
        self.host_call()?;
        let path = self.dir_path(&dir)?;
        self.authorize(Read, FsResource::Dir(path.clone()))?;
        let mut entries = read_entries(self.table.get(&dir)?.dir.as_fd(), &path, MAX_TREE_ENTRIES)?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// # Authorization
    ///
    /// `stat` on the `Dir`.
    fn metadata(&mut self, dir: Resource<DirRes>) -> FsResult<wit::Metadata> {
        self.host_call()?;
        let path = self.dir_path(&dir)?;
        self.authorize(Stat, FsResource::Dir(path.clone()))?;
        metadata_of(self.table.get(&dir)?.dir.as_fd(), &path)
    }

    /// # Authorization
    ///
    /// `create` on `Dir(dir/name)`.
    fn create_dir(&mut self, dir: Resource<DirRes>, name: String) -> FsResult<()> {
        self.host_call()?;
        validate_name(&name)?;
        let path = join(&self.table.get(&dir)?.path, &name);
        let granted = self.authorize(Create, FsResource::Dir(path.clone()))?;
        mkdir_at(
            &granted,
            self.table.get(&dir)?.dir.as_fd(),
            &name,
            false,
            &path,
        )
    }

    /// # Authorization
    ///
    /// `delete` on the `Dir`; with `recursive`, `delete` on every entry below it (as `File` or
    /// `Dir`), all before anything is deleted.
    fn delete(&mut self, dir: Resource<DirRes>, recursive: bool) -> FsResult<()> {
        self.host_call()?;
        let path = self.dir_path(&dir)?;
        if self.table.get(&dir)?.parent.is_none() {
            return Err(FsError::invalid_argument("refusing to delete `/`".into()));
        }
        let granted = self.authorize(Delete, FsResource::Dir(path.clone()))?;
        let plan = if recursive {
            let fd = self.dir_fd(&dir, &path)?;
            self.plan_tree(Delete, fd.as_fd(), &path)?
        } else {
            Vec::new()
        };
        let res = self.table.get(&dir)?;
        let Some((parent, name)) = &res.parent else {
            return Err(FsError::invalid_argument("refusing to delete `/`".into()));
        };
        ensure_same(parent.as_fd(), name, res.dir.as_fd(), &path)?;
        tree::remove(&granted, self.meter.clock(), res.dir.as_fd(), &path, &plan)?;
        unlink_at(&granted, parent.as_fd(), name, true, &path)
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
        self.host_call()?;
        validate_name(&name)?;
        let path = join(&self.table.get(&dir)?.path, &name);
        let as_file = FsResource::File(path.clone());
        let as_dir = FsResource::Dir(path.clone());
        if !self.permits(Delete, &as_file) && !self.permits(Delete, &as_dir) {
            return self.authorize(Delete, as_file).map(drop);
        }
        let parent = self.dir_fd(&dir, &path)?;
        let st = lstat_at(parent.as_fd(), &name, &path)?;
        if file_type(&st) != FileType::Directory {
            let granted = self.authorize(Delete, as_file)?;
            return unlink_at(&granted, parent.as_fd(), &name, false, &path);
        }
        let granted = self.authorize(Delete, as_dir)?;
        let fd = open_dir_at(parent.as_fd(), &name, &path)?;
        if recursive {
            let plan = self.plan_tree(Delete, fd.as_fd(), &path)?;
            ensure_same(parent.as_fd(), &name, fd.as_fd(), &path)?;
            tree::remove(&granted, self.meter.clock(), fd.as_fd(), &path, &plan)?;
        }
        unlink_at(&granted, parent.as_fd(), &name, true, &path)
    }

    /// # Authorization
    ///
    /// `read` on the `Dir`.
    fn list_details(&mut self, dir: Resource<DirRes>) -> FsResult<Vec<wit::EntryDetails>> {
        self.host_call()?;
        let path = self.dir_path(&dir)?;
        self.authorize(Read, FsResource::Dir(path.clone()))?;
        let res = self.table.get(&dir)?;
        let mut entries = read_entries(res.dir.as_fd(), &path, MAX_TREE_ENTRIES)?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let child = join(&path, &entry.name);
            match metadata_at(res.dir.as_fd(), &entry.name, &child, None) {
                Ok(metadata) => out.push(wit::EntryDetails { entry, metadata }),
                // Removed since it was listed.
                Err(FsError::Guest(e)) if matches!(*e, wit::Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// # Authorization
    ///
    /// `read` on `File(dir/name)`.
    fn read_link(&mut self, dir: Resource<DirRes>, name: String) -> FsResult<String> {
        self.host_call()?;
        validate_name(&name)?;
        let path = join(&self.table.get(&dir)?.path, &name);
        self.authorize(Read, FsResource::File(path.clone()))?;
        match read_symlink(self.table.get(&dir)?.dir.as_fd(), &name, &path)? {
            Some(target) => Ok(target),
            // Rex passes on readlink's EINVAL.
            None => Err(FsError::invalid_argument(format!(
                "{}: `{path}` is not a symbolic link (or does not exist)",
                std::io::Error::from(rustix::io::Errno::INVAL)
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
        self.host_call()?;
        validate_name(&name)?;
        validate_link_target(&target)?;
        let path = join(&self.table.get(&dir)?.path, &name);
        let granted = self.authorize(Create, FsResource::File(path.clone()))?;
        // The link's name and target are bytes the file system holds for the script.
        self.meter.charge_write(name.len() + target.len())?;
        let parent = self.dir_fd(&dir, &path)?;
        if force && let Some(st) = lstat_if_exists(parent.as_fd(), &name, &path)? {
            if file_type(&st) == FileType::Directory {
                return Err(not_a_file(&path));
            }
            let delete = self.authorize(Delete, FsResource::File(path.clone()))?;
            unlink_at(&delete, parent.as_fd(), &name, false, &path)?;
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
        self.host_call()?;
        validate_name(&name)?;
        let path = join(&self.table.get(&dir)?.path, &name);
        self.authorize(Open, FsResource::File(path.clone()))?;
        let res = self.table.get(&dir)?;
        let st = lstat_at(res.dir.as_fd(), &name, &path)?;
        if file_type(&st) != FileType::Symlink {
            return Err(FsError::invalid_argument(format!(
                "`{path}` is not a symbolic link"
            )));
        }
        let link = SymlinkRes {
            dir: sys::dup_dir(&res.dir, &path)?,
            name,
            path,
            identity: (st.st_dev, st.st_ino),
        };
        self.push_handle(link)
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
        self.host_call()?;
        let mode = checked_mode(mode)?;
        self.change_dir(&dir, Chmod, |g| Change::Mode(mode, g), recursive)
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
        self.host_call()?;
        let (uid, gid) = owner_ids(user.as_deref(), group.as_deref())?;
        self.change_dir(&dir, Chown, |g| Change::Owner(uid, gid, g), recursive)
    }

    /// # Authorization
    ///
    /// `create` on the `Dir`.
    fn set_modified(&mut self, dir: Resource<DirRes>, seconds: i64) -> FsResult<()> {
        self.host_call()?;
        let path = self.dir_path(&dir)?;
        let granted = self.authorize(Create, FsResource::Dir(path.clone()))?;
        set_mtime_fd(&granted, self.table.get(&dir)?.dir.as_fd(), seconds, &path)
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
        self.host_call()?;
        validate_name(&name)?;
        let src_path = self.dir_path(&dir)?;
        let (from_dir, from_name) = match &self.table.get(&dir)?.parent {
            Some((parent, name)) => (dup_dir(parent, &src_path)?, name.clone()),
            None => return Err(FsError::invalid_argument("refusing to move `/`".into())),
        };
        let src = self.dir_fd(&dir, &src_path)?;
        let from = Source {
            dir: &from_dir,
            name: &from_name,
            fd: src.as_fd(),
        };
        let moved = self.move_entry(FsResource::Dir(src_path), from, &dest, &name)?;
        let fd = open_dir_at(moved.dir.as_fd(), &name, &moved.path)?;
        let res = DirRes {
            dir: sys::dir_from_fd(fd),
            path: moved.path,
            parent: Some((moved.dir, name)),
        };
        self.push_handle(res)
    }

    fn drop(&mut self, dir: Resource<DirRes>) -> wasmtime::Result<()> {
        self.drop_handle(dir)?;
        Ok(())
    }
}
