//! `symlink` handles: a link itself (never its target), checked on every use to still be the
//! link that was opened.

use std::os::fd::AsFd;

use wasmtime::component::Resource;

use super::args::owner_ids;
use super::cedar::FsResource;
use super::cedar::action::{Chown, Read, Stat};
use super::error::FsResult;
use super::resources::SymlinkRes;
use super::sys::{chown_at, dup_dir, identity_at, metadata_at, read_symlink, replaced};
use super::view::FsView;
use crate::bindings::wit_fs as wit;

impl SymlinkRes {
    /// Fails unless the name still holds the link that was opened.
    pub(super) fn ensure_unchanged(&self) -> FsResult<()> {
        if identity_at(self.dir.as_fd(), &self.name, &self.path)? != self.identity {
            return Err(replaced(&self.path));
        }
        Ok(())
    }

    /// A second hold on the same link (its directory descriptor duplicated).
    pub(super) fn try_clone(&self) -> FsResult<Self> {
        Ok(Self {
            dir: dup_dir(&self.dir, &self.path)?,
            name: self.name.clone(),
            path: self.path.clone(),
            identity: self.identity,
        })
    }
}

impl FsView<'_> {
    /// The symlink behind `link` (its directory, name and path), checked to be the same link
    /// that was opened.
    fn symlink_checked(
        &self,
        link: &Resource<SymlinkRes>,
    ) -> FsResult<(cap_std::fs::Dir, String, String)> {
        let res = self.table.get(link)?;
        res.ensure_unchanged()?;
        let res = res.try_clone()?;
        Ok((res.dir, res.name, res.path))
    }
}

impl wit::HostSymlink for FsView<'_> {
    fn path(&mut self, link: Resource<SymlinkRes>) -> wasmtime::Result<String> {
        self.host_call()?;
        Ok(self.table.get(&link)?.path.clone())
    }

    /// # Authorization
    ///
    /// `stat` on `File(link)`; the target is read only when `read` on it is permitted.
    fn metadata(&mut self, link: Resource<SymlinkRes>) -> FsResult<wit::Metadata> {
        self.host_call()?;
        let (dir, name, path) = self.symlink_checked(&link)?;
        self.authorize(Stat, FsResource::File(path.clone()))?;
        let resource = FsResource::File(path.clone());
        let target = if self.permits(Read, &resource) {
            self.authorize(Read, resource)?;
            read_symlink(dir.as_fd(), &name, &path)?
        } else {
            None
        };
        metadata_at(dir.as_fd(), &name, &path, target)
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
        self.host_call()?;
        let (uid, gid) = owner_ids(user.as_deref(), group.as_deref())?;
        let (dir, name, path) = self.symlink_checked(&link)?;
        let granted = self.authorize(Chown, FsResource::File(path.clone()))?;
        chown_at(&granted, dir.as_fd(), &name, uid, gid, &path)
    }

    fn drop(&mut self, link: Resource<SymlinkRes>) -> wasmtime::Result<()> {
        self.drop_handle(link)?;
        Ok(())
    }
}
