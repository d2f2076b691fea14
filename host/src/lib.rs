//! wrex: Rex-compatible Rhai scripts in a WebAssembly sandbox, with every host operation
//! authorized by a Cedar policy.
//!
//! ```no_run
//! use wrex::{Job, Policy, Runtime, ScriptArgs};
//!
//! let runtime = Runtime::new()?; // once per process; share it across threads
//! let policy = Policy::parse(r#"
//!     permit(principal, action in [file_system::Action::"open", file_system::Action::"read"],
//!            resource in file_system::Dir::"/var/log");
//! "#)?;
//! let mut args = ScriptArgs::new();
//! args.insert("path", "/var/log/syslog")?;
//! let outcome = runtime.run(Job::new("cat(path).len()", policy).args(args));
//! println!("{}", serde_json::to_string(&outcome)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod args;
pub mod authz;
mod bindings;
mod cache;
mod fs;
pub mod log;
pub mod outcome;
mod runtime;
mod time;

pub use args::{ArgValue, ArgsError, Scalar, ScriptArgs};
pub use authz::{Decision, DecisionObserver, Policy, PolicyError};
pub use cache::guest_component_bytes;
pub use log::LogLevel;
pub use outcome::{ErrorType, RunOutcome, Status};
pub use runtime::{Job, Limits, Runtime, RuntimeError, current_user};
