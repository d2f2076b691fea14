//! The file-system capability (`wrex:sdk/fs`, Cedar namespace `file_system`). Public: its
//! configuration ([`FsConfig`]), its bounds, and its Cedar vocabulary ([`cedar`]).
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the module list, the public items, `add_to_linker` |
//! | `config.rs` | [`FsConfig`], what a job carries |
//! | `view.rs` | the per-run `FsCtx` and the `FsView` the WIT traits are implemented on, with the helpers every method shares (authorize, walk, handle checks) |
//! | `error.rs` | `FsError`: an error the guest sees, or a trap |
//! | `resources.rs` | what stands behind a `dir`, `file` or `symlink` handle |
//! | `cedar.rs` | the Cedar actions (one type each), the `File`/`Dir` resource, the request contexts |
//! | `dir.rs`, `file.rs`, `symlink.rs` | the WIT resources' methods: validate → authorize → act |
//! | `guard.rs` | the runtime's own state, refused before any policy is asked |
//! | `labels.rs` | the data labels of files and directories (entities file, `user.wrex.*` attributes) |
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
mod config;
mod dir;
pub(crate) mod error;
mod file;
mod guard;
pub(crate) mod labels;
mod moves;
pub(crate) mod path;
mod redact;
pub(crate) mod resources;
mod symlink;
mod sys;
#[cfg(test)]
mod tests;
mod tree;
mod view;
mod walk;

use crate::bindings::wit_fs as wit;

pub use self::config::{DEFAULT_REDACTION_DICTIONARY, FsConfig};
pub use self::file::MAX_READ_CHUNK;
pub(crate) use self::guard::{RuntimeState, is_host_process};
pub(crate) use self::labels::RunLabels;
pub use self::labels::XATTR_PREFIX;
pub use self::tree::MAX_TREE_ENTRIES;
pub(crate) use self::view::{FsCtx, FsView};
pub use self::walk::MAX_LINKS;

crate::bindings::capability_linker!(wit, FsView, "fs");
