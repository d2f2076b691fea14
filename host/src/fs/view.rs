//! The per-run context of the capability and the view its host functions are implemented on.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use cap_std::fs::Dir;
use wasmtime::component::{Resource, ResourceTable};

use super::cedar::FsResource;
use super::cedar::action::{Create, Open};
use super::config::FsConfig;
use super::error::{FsError, FsResult};
use super::resources::FileRes;
use super::{sys, walk};
use crate::authz::{Action, Authorizer, Granted};
use crate::bindings::wit_fs as wit;
use crate::limits::Meter;

/// The per-run state of the capability.
#[derive(Debug)]
pub(crate) struct FsCtx {
    /// The run's `/`, opened once: the host's root or the tenant root.
    root: Dir,
    /// The run's `/` as the host names it, canonical (`None`: the host's `/`).
    host_root: Option<std::path::PathBuf>,
    pub(crate) redaction_dictionary: String,
}

impl FsCtx {
    /// Opens the run's `/`. This is the capability's one use of ambient authority: every file
    /// and directory a script reaches is reached by a walk from this descriptor.
    pub(crate) fn open(config: &FsConfig) -> io::Result<Self> {
        let root = config.root.as_deref().unwrap_or("/".as_ref());
        Ok(Self {
            root: Dir::open_ambient_dir(root, cap_std::ambient_authority())?,
            host_root: match &config.root {
                Some(r) => Some(std::fs::canonicalize(r)?),
                None => None,
            },
            redaction_dictionary: config.redaction_dictionary.clone(),
        })
    }

    pub(crate) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// The run's `/`, for another capability that resolves a path the way this one does.
    pub(crate) fn root_dir(&self) -> &Dir {
        &self.root
    }

    /// The run's `/` as the host names it (`None`: the host's `/`).
    pub(crate) fn host_root(&self) -> Option<&std::path::Path> {
        self.host_root.as_deref()
    }
}

/// What the capability's host functions can reach: its own context, the run's resource
/// table, the authorizer and the meter, and nothing else of the run.
pub(crate) struct FsView<'a> {
    pub(crate) ctx: &'a FsCtx,
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) authz: &'a Authorizer,
    pub(crate) meter: &'a mut Meter,
}

impl wit::Host for FsView<'_> {
    fn convert_error(&mut self, err: FsError) -> wasmtime::Result<wit::Error> {
        self.authz.host_call_failed(&err.message());
        match err {
            FsError::Guest(e) => Ok(*e),
            FsError::Trap(t) => Err(t),
        }
    }
}

impl FsView<'_> {
    /// Counts a host call against the run's limits; the previous call's decisions get their
    /// outcome in the audit log.
    pub(crate) fn host_call(&mut self) -> wasmtime::Result<()> {
        self.authz.host_call_starts();
        self.meter.host_call()
    }

    /// Gives the guest a handle, counted against the run's handle limit.
    pub(crate) fn push_handle<T: Send + 'static>(&mut self, res: T) -> FsResult<Resource<T>> {
        self.meter.open_handle()?;
        Ok(self.table.push(res)?)
    }

    /// Takes back a handle the guest dropped.
    pub(crate) fn drop_handle<T: 'static>(&mut self, res: Resource<T>) -> wasmtime::Result<()> {
        self.table.delete(res)?;
        self.meter.close_handle();
        Ok(())
    }

    /// Asks the one `authorize()` about `action` on `resource`.
    pub(crate) fn authorize<A: Action<Resource = FsResource>>(
        &self,
        action: A,
        resource: FsResource,
    ) -> FsResult<Granted<A>> {
        Ok(self.authz.authorize(action, &resource)?)
    }

    /// Whether the policy would permit, without recording a decision (used only to pick which
    /// of two checks to record).
    pub(crate) fn permits<A: Action<Resource = FsResource>>(
        &self,
        action: A,
        resource: &FsResource,
    ) -> bool {
        self.authz.permits(action, resource)
    }

    /// Walks from the run's `/` to the directory `path` (see [`walk::walk`]); every directory
    /// the walk creates is authorized (`create`) first.
    pub(crate) fn walk(
        &self,
        granted: &Granted<Open>,
        path: &str,
        how: walk::Walk,
        mut last: Option<Granted<Create>>,
    ) -> FsResult<walk::Walked> {
        let authz = self.authz;
        let mut create = |new_dir: &str| match last.take() {
            // The directory the caller authorized already.
            Some(create) if new_dir == path => Ok(create),
            _ => Ok(authz.authorize(Create, &FsResource::Dir(new_dir.to_string()))?),
        };
        let mut hop = |heading: &str| {
            authz
                .authorize(Open, &FsResource::Dir(heading.to_string()))
                .map(drop)
                .map_err(FsError::from)
        };
        walk::walk(granted, self.ctx.root(), path, how, &mut create, &mut hop)
    }

    /// Refuses to change a file in place when it has other hard links: a hard link is a name
    /// the policy authorized for *this* path, but the inode may also be reachable by a name
    /// outside the policy, which an in-place change would modify too. (`write` is allowed: it
    /// replaces this name with a new file and leaves other links untouched.)
    pub(crate) fn single_link(
        &self,
        file: &Resource<FileRes>,
        path: &str,
        what: &str,
    ) -> FsResult<()> {
        let st = sys::fstat(self.table.get(file)?.file.as_fd(), path)?;
        if st.st_nlink > 1 {
            return Err(FsError::guest(wit::Error::Unsupported(format!(
                "refusing to {what} `{path}` in place: it has {} hard links, and another may be outside the policy; write() replaces the file instead",
                st.st_nlink
            ))));
        }
        Ok(())
    }

    /// The path of a file handle that must have been opened for reading (`write` false) or
    /// writing (`write` true).
    pub(crate) fn handle_path(&self, file: &Resource<FileRes>, write: bool) -> FsResult<String> {
        let res = self.table.get(file)?;
        if (write && res.writable) || (!write && res.readable) {
            return Ok(res.path.clone());
        }
        // Rex's sentence first (scripts and Rex's tests look for it), then which file and how.
        let mode = if write { "write" } else { "read" };
        Err(FsError::guest(wit::Error::BadHandleMode(format!(
            "Attempted to {mode} a file without opening it with the {mode} option: `{}` (set `{mode}(true)` in OpenFileOptions)",
            res.path
        ))))
    }
}
