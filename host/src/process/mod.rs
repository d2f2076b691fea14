//! The process capability (`wrex:sdk/process`, Cedar namespace `process_system`): list
//! processes, signal them, and see which use a file.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the module list, the error type, `add_to_linker` |
//! | `cedar.rs` | the Cedar actions (one type each) and the `Process` resource |
//! | `procs.rs` | reading `/proc`: what a listing shows, what identifies a process over time |
//! | `view.rs` | the per-run `ProcessCtx`, the `ProcessView` the WIT functions are implemented on |
//!
//! The capability's ambient authority is reading `/proc` and signalling; each process is
//! authorized before anything about it reaches the guest, and every signal goes through a
//! pidfd confirmed to be the process that was authorized. The host's own process (and its
//! threads) is never listed and never a target.

pub mod cedar;
pub(crate) mod procs;
mod view;

use crate::bindings::wit_process as wit;
use crate::error::{HostError, guest_error};

pub(crate) use self::view::{ProcessCtx, ProcessView, only_permitted};

/// The error type of the process host functions.
pub(crate) type ProcessError = HostError<wit::Error>;

guest_error!(wit::Error {
    InvalidArgument,
    NotFound,
    Io
});

crate::bindings::capability_linker!(wit, ProcessView, "process");
