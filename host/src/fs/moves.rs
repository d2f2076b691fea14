//! The one move of a file or a directory: `move` (with Rex's `destination` context) and
//! `create` at the destination are authorized first, `delete` on the destination when an
//! existing entry is replaced; the rename never replaces silently (`RENAME_NOREPLACE`). A
//! file on another file system is copied, synced and then unlinked; a directory is refused.
//!
//! Moving a directory renames everything below it, so `move` (with the entry's own
//! destination) and `create` at its new path are authorized for every entry below it too,
//! before anything moves, as a recursive delete authorizes every entry: a `forbid` on
//! `ws/x/private` cannot be escaped by renaming `ws/x`.

use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::FileType;
use wasmtime::component::Resource;

use super::cedar::action::{Create, Delete, Move};
use super::cedar::{Destination, FsResource};
use super::error::{FsError, FsResult, not_a_file};
use super::path::{join, split_parent};
use super::resources::DirRes;
use super::sys::{
    CopyEnds, CopyMeta, Renamed, copy_replace, dup_dir, ensure_same, exists_at, file_type, fstat,
    lstat_at, rename, unlink_at,
};
use super::tree;
use super::view::FsView;
use crate::bindings::wit_fs as wit;

/// What is moved: the entry `name` in `dir`, which must still be the object behind `fd`.
pub(crate) struct Source<'a> {
    pub dir: &'a cap_std::fs::Dir,
    pub name: &'a str,
    pub fd: BorrowedFd<'a>,
}

/// Where a move put its entry.
pub(crate) struct Moved {
    /// The destination directory.
    pub dir: cap_std::fs::Dir,
    /// The entry's new path.
    pub path: String,
    /// A file moved to another file system: the copy, open (the source's descriptor is the
    /// removed original).
    pub copy: Option<std::fs::File>,
}

impl FsView<'_> {
    /// Moves `resource` (the entry `src`) to `name` in `dest`; see the module docs.
    pub(super) fn move_entry(
        &mut self,
        resource: FsResource,
        src: Source<'_>,
        dest: &Resource<DirRes>,
        name: &str,
    ) -> FsResult<Moved> {
        let src_path = resource.path().to_string();
        let is_dir = matches!(resource, FsResource::Dir(_));
        let parent_path = self.table.get(dest)?.path.clone();
        let dest_path = join(&parent_path, name);
        let destination = Destination {
            path: dest_path.clone(),
            name: name.to_string(),
            parent_path,
        };
        let created = resource.at(dest_path.clone());
        let granted = self
            .authz
            .authorize_with(Move, &resource, destination.context())?;
        self.authorize(Create, created.clone())?;
        if is_dir {
            self.authorize_below(src.fd, &src_path, &dest_path)?;
        }
        let to_dir = dup_dir(&self.table.get(dest)?.dir, &dest_path)?;
        ensure_same(src.dir.as_fd(), src.name, src.fd, &src_path)?;
        let mut replace = false;
        let mut copy = None;
        loop {
            let outcome = rename(
                &granted,
                src.dir.as_fd(),
                src.name,
                to_dir.as_fd(),
                name,
                replace,
                &src_path,
            )?;
            match outcome {
                Renamed::Done => break,
                Renamed::Exists if !replace => {
                    let existing = file_type(&lstat_at(to_dir.as_fd(), name, &dest_path)?);
                    if is_dir && existing != FileType::Directory {
                        return Err(FsError::guest(wit::Error::AlreadyExists(format!(
                            "cannot move directory `{src_path}` over `{dest_path}`: it exists and is not a directory"
                        ))));
                    }
                    if !is_dir && existing == FileType::Directory {
                        return Err(not_a_file(&dest_path));
                    }
                    self.authorize(Delete, created.clone())?;
                    replace = true;
                }
                Renamed::Exists => {
                    return Err(FsError::guest(wit::Error::AlreadyExists(format!(
                        "`{dest_path}` appeared while `{src_path}` was being moved"
                    ))));
                }
                Renamed::CrossDevice if is_dir => {
                    return Err(FsError::guest(wit::Error::Unsupported(format!(
                        "cannot move directory `{src_path}` to `{dest_path}`: it is on another file system"
                    ))));
                }
                Renamed::CrossDevice => {
                    // Another file system: copy next to the destination, sync, rename into
                    // place, then remove the source (still the same file: checked again).
                    if !replace && exists_at(to_dir.as_fd(), name) {
                        self.authorize(Delete, created)?;
                    }
                    let file = std::fs::File::from(
                        src.fd
                            .try_clone_to_owned()
                            .map_err(|e| FsError::io(e, &src_path))?,
                    );
                    let meta = CopyMeta {
                        mode: fstat(src.fd, &src_path)?.st_mode,
                        times: None,
                    };
                    let ends = CopyEnds {
                        src: &file,
                        src_path: &src_path,
                        dir: &to_dir,
                        name,
                        dest_path: &dest_path,
                    };
                    copy = Some(copy_replace(&granted, &ends, &meta, self.meter)?);
                    ensure_same(src.dir.as_fd(), src.name, src.fd, &src_path)?;
                    unlink_at(&granted, src.dir.as_fd(), src.name, false, &src_path)?;
                    break;
                }
            }
        }
        Ok(Moved {
            dir: to_dir,
            path: dest_path,
            copy,
        })
    }

    /// Authorizes the move of every entry below the directory `fd` (at `src_path`) to its
    /// place below `dest_path`: `move` with its own destination, and `create` there.
    fn authorize_below(&self, fd: BorrowedFd<'_>, src_path: &str, dest_path: &str) -> FsResult<()> {
        let authz = self.authz;
        tree::plan(
            self.meter.clock(),
            fd,
            src_path,
            "move",
            &mut |is_dir, path| {
                let below = path.strip_prefix(src_path).unwrap_or(path);
                let new_path = format!("{}{below}", dest_path.trim_end_matches('/'));
                let (parent_path, name) = split_parent(&new_path);
                let destination = Destination {
                    name: name.to_string(),
                    parent_path: parent_path.to_string(),
                    path: new_path.clone(),
                };
                let entry = FsResource::entry(is_dir, path.to_string());
                authz.authorize_with(Move, &entry, destination.context())?;
                authz.authorize(Create, &entry.at(new_path))?;
                Ok(())
            },
        )
        .map(drop)
    }
}
