//! The file-system capability (`wrex:sdk/fs`, Cedar namespace `file_system`). Public: its
//! configuration ([`FsConfig`]), its bounds, and its Cedar vocabulary ([`cedar`]).
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`FsConfig`], the per-run `FsCtx`, the `FsView` the WIT traits are implemented on, errors, `add_to_linker` |
//! | `cedar.rs` | the Cedar actions (one type each), the `File`/`Dir` resource, the request contexts |
//! | `dir.rs`, `file.rs`, `symlink.rs` | the WIT resources' methods: validate → authorize → act |
//! | `resources.rs` | what stands behind a `dir`, `file` or `symlink` handle |
//! | `moves.rs` | the one move of a file or directory (both resources use it) |
//! | `walk.rs` | the race-free walk from the run's `/` |
//! | `tree.rs` | recursive delete/chmod/chown: plan and authorize everything, then act |
//! | `sys.rs` | the system calls, each behind a helper that takes the proof of its action |
//! | `path.rs`, `args.rs`, `redact.rs` | path hygiene, argument checks, the redaction dictionary |
//!
//! The capability's one use of ambient authority is opening the run's `/` (`FsCtx::open`);
//! everything else is reached by a walk from that descriptor.

mod args;
pub mod cedar;
mod dir;
mod file;
mod moves;
pub(crate) mod path;
mod redact;
pub(crate) mod resources;
mod symlink;
mod sys;
#[cfg(test)]
mod tests;
mod tree;
mod walk;

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use cap_std::fs::Dir;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use self::cedar::FsResource;
use self::cedar::action::Create;
use crate::authz::{Action, Authorizer, Denied, Granted};
use crate::bindings::wit_fs as wit;
use crate::limits::Meter;

pub(crate) use self::resources::{DirRes, FileRes, SymlinkRes};
pub use self::tree::MAX_TREE_ENTRIES;
pub use self::walk::MAX_LINKS;

/// Most bytes served by one `read` call, whatever the guest asks for: a guest-supplied length
/// must not make the host allocate without bound.
pub const MAX_READ_CHUNK: u32 = 4 << 20;

/// Rex's redaction dictionary path.
pub const DEFAULT_REDACTION_DICTIONARY: &str = "/etc/opt/rex/rex_redaction.config";

/// The file-system configuration of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsConfig {
    /// A directory that becomes the run's `/`: every script path, and so every Cedar
    /// resource, is resolved inside it (`..` stops at it, absolute symlinks restart at it).
    /// `None`: the host's `/`.
    pub root: Option<PathBuf>,
    /// The redaction dictionary for `redacted_read` (Rex's
    /// `/etc/opt/rex/rex_redaction.config` by default): one regular expression per line; a
    /// line of a redacted file is kept when one matches, and shown as `[REDACTED]` otherwise.
    /// The path is as the run sees it, and reading it is authorized like any file (`open` on
    /// its directory, `open` and `read`).
    pub redaction_dictionary: String,
}

impl Default for FsConfig {
    fn default() -> Self {
        Self {
            root: None,
            redaction_dictionary: DEFAULT_REDACTION_DICTIONARY.to_string(),
        }
    }
}

/// The per-run state of the capability.
#[derive(Debug)]
pub(crate) struct FsCtx {
    /// The run's `/`, opened once: the host's root or the tenant root.
    root: Dir,
    redaction_dictionary: String,
}

impl FsCtx {
    /// Opens the run's `/`. This is the capability's one use of ambient authority: every file
    /// and directory a script reaches is reached by a walk from this descriptor.
    pub(crate) fn open(config: &FsConfig) -> io::Result<Self> {
        let root = config.root.as_deref().unwrap_or("/".as_ref());
        Ok(Self {
            root: Dir::open_ambient_dir(root, cap_std::ambient_authority())?,
            redaction_dictionary: config.redaction_dictionary.clone(),
        })
    }

    fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
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

/// The [`HasData`] marker that gives the bindings an [`FsView`].
struct HasFs;

impl HasData for HasFs {
    type Data<'a> = FsView<'a>;
}

/// Adds `wrex:sdk/fs` to `linker`; `view` picks the capability's view out of the store data.
pub(crate) fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> FsView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasFs>(linker, view)
}

/// The error type of the `fs` host functions: either an error the guest sees (`wit::Error`),
/// or a trap (a broken host invariant or a bad resource handle) that ends the run.
#[derive(Debug)]
pub(crate) enum FsError {
    /// An error the guest sees and a script can catch.
    Guest(wit::Error),
    /// A trap: the run ends.
    Trap(wasmtime::Error),
}

impl FsError {
    pub(crate) fn invalid_path(message: String) -> Self {
        Self::Guest(wit::Error::InvalidPath(message))
    }

    pub(crate) fn invalid_argument(message: String) -> Self {
        Self::Guest(wit::Error::InvalidArgument(message))
    }

    pub(crate) fn not_found(message: String) -> Self {
        Self::Guest(wit::Error::NotFound(message))
    }

    /// An operating-system error while working on `path`.
    pub(crate) fn io(err: impl Into<io::Error>, path: &str) -> Self {
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

type FsResult<T> = Result<T, FsError>;

impl wit::Host for FsView<'_> {
    fn convert_error(&mut self, err: FsError) -> wasmtime::Result<wit::Error> {
        match err {
            FsError::Guest(e) => Ok(e),
            FsError::Trap(t) => Err(t),
        }
    }
}

impl FsView<'_> {
    /// Asks the one `authorize()` about `action` on `resource`.
    fn authorize<A: Action<Resource = FsResource>>(
        &self,
        action: A,
        resource: FsResource,
    ) -> FsResult<Granted<A>> {
        Ok(self.authz.authorize(action, &resource)?)
    }

    /// Whether the policy would permit, without recording a decision (used only to pick which
    /// of two checks to record).
    fn permits<A: Action<Resource = FsResource>>(&self, action: A, resource: &FsResource) -> bool {
        self.authz.permits(action, resource)
    }

    /// Walks from the run's `/` to the directory `path` (see [`walk::walk`]); every directory
    /// the walk creates is authorized (`create`) first.
    fn walk(
        &self,
        granted: &Granted<cedar::action::Open>,
        path: &str,
        how: walk::Walk,
        mut last: Option<Granted<Create>>,
    ) -> FsResult<walk::Walked> {
        let authz = self.authz;
        walk::walk(granted, self.ctx.root(), path, how, &mut |new_dir| {
            match last.take() {
                // The directory the caller authorized already.
                Some(create) if new_dir == path => Ok(create),
                _ => Ok(authz.authorize(Create, &FsResource::Dir(new_dir.to_string()))?),
            }
        })
    }

    /// Refuses to change a file in place when it has other hard links: a hard link is a name
    /// the policy authorized for *this* path, but the inode may also be reachable by a name
    /// outside the policy, which an in-place change would modify too. (`write` is allowed: it
    /// replaces this name with a new file and leaves other links untouched.)
    fn single_link(&self, file: &Resource<FileRes>, path: &str, what: &str) -> FsResult<()> {
        let st = sys::fstat(self.table.get(file)?.file.as_fd(), path)?;
        if st.st_nlink > 1 {
            return Err(FsError::Guest(wit::Error::Unsupported(format!(
                "refusing to {what} `{path}` in place: it has {} hard links, and another may be outside the policy; write() replaces the file instead",
                st.st_nlink
            ))));
        }
        Ok(())
    }

    /// The path of a file handle that must have been opened for reading (`write` false) or
    /// writing (`write` true).
    fn handle_path(&self, file: &Resource<FileRes>, write: bool) -> FsResult<String> {
        let res = self.table.get(file)?;
        if (write && res.writable) || (!write && res.readable) {
            return Ok(res.path.clone());
        }
        let (mode, doing) = if write {
            ("write", "writing")
        } else {
            ("read", "reading")
        };
        Err(FsError::Guest(wit::Error::BadHandleMode(format!(
            "`{}` was not opened for {doing}: set `{mode}(true)` in OpenFileOptions",
            res.path
        ))))
    }
}

fn not_a_file(path: &str) -> FsError {
    FsError::Guest(wit::Error::NotAFile(format!(
        "argument is not a file: `{path}` is not a regular file"
    )))
}
