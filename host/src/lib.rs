#![doc = include_str!("../../README.md")]

pub mod args;
pub mod audit;
pub mod authz;
mod bindings;
mod cache;
mod clock;
pub mod disk;
mod error;
pub mod exec;
pub mod explain;
pub mod fs;
pub mod functions;
pub mod labels;
pub mod limits;
pub mod log;
pub mod network;
pub mod outcome;
pub mod process;
mod runtime;
pub mod sysinfo;
pub mod systemd;
mod time;

pub use args::{ArgValue, ArgsError, Scalar, ScriptArgs};
pub use authz::{Decision, DecisionObserver, Enforcement, Explanation, Policy, PolicyError};
pub use cache::guest_component_bytes;
pub use fs::{DEFAULT_REDACTION_DICTIONARY, FsConfig};
pub use labels::{LabelFile, Lineage};
pub use limits::Limits;
pub use log::LogLevel;
pub use outcome::{ErrorType, RunOutcome, Status};
pub use runtime::{
    Job, MAX_PURPOSE_BYTES, Runtime, RuntimeError, RuntimeOptions, check_purpose, current_user,
};
