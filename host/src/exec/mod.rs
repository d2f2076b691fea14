//! The execute capability (`wrex:sdk/exec`, Cedar action `file_system::Action::"execute"`):
//! runs exactly the program behind a file handle the script opened read-only.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the view, the WIT function: validate → authorize → start → watch |
//! | `cedar.rs` | the action, the `Program` resource with its `Arguments` and `Environment` entities, the context |
//! | `child.rs` | starting the child and watching it (output, timeout, deadline, process group) |

pub mod cedar;
mod child;

use std::os::fd::AsFd;
use std::time::Duration;

use wasmtime::component::{Resource, ResourceTable};

use self::cedar::{Execute, Identity, Program};
use self::child::{Ended, Spawn};
use crate::authz::Authorizer;
use crate::bindings::wit_exec as wit;
use crate::error::{HostError, guest_error};
use crate::fs::FsCtx;
use crate::fs::cedar::FsResource;
use crate::fs::resources::{DirRes, FileRes};
use crate::limits::Meter;

/// The error type of the execute host function.
pub(crate) type ExecError = HostError<wit::Error>;

type Result<T> = std::result::Result<T, ExecError>;

guest_error!(wit::Error {
    InvalidArgument,
    BadHandleMode,
    Timeout,
    Io
});

/// Most arguments, environment variables, and bytes of both together.
pub const MAX_ARGS: usize = 4096;
pub const MAX_ENV: usize = 1024;
pub const MAX_ARG_BYTES: usize = 1 << 20;

/// Most bytes of each of stdout and stderr kept by default, and at most whatever the script
/// asks (the host holds them until the program ends).
pub const DEFAULT_MAX_OUTPUT: u64 = 16 << 20;
pub const MAX_OUTPUT: u64 = 64 << 20;

/// What the capability's host function can reach.
pub(crate) struct ExecView<'a> {
    pub(crate) table: &'a ResourceTable,
    pub(crate) fs: &'a FsCtx,
    pub(crate) authz: &'a Authorizer,
    pub(crate) meter: &'a mut Meter,
    /// Numbers this run's execute requests (the id of their `Arguments`/`Environment`).
    pub(crate) requests: &'a mut u64,
}

fn invalid(message: String) -> ExecError {
    ExecError::guest(wit::Error::InvalidArgument(message))
}

/// Rejects what `execve` cannot carry or Rex refuses: empty keys and values, NUL anywhere,
/// `=` in a variable name, and lists past their bounds.
fn validate(options: &wit::ExecuteOptions) -> Result<()> {
    if options.args.len() > MAX_ARGS {
        return Err(invalid(format!(
            "ExecuteOptions: {} arguments; at most {MAX_ARGS}",
            options.args.len()
        )));
    }
    if options.env.len() > MAX_ENV {
        return Err(invalid(format!(
            "ExecuteOptions: {} environment variables; at most {MAX_ENV}",
            options.env.len()
        )));
    }
    let mut bytes = 0usize;
    for (i, a) in options.args.iter().enumerate() {
        if a.key.is_empty() {
            return Err(invalid(format!(
                "Argument key at index {i} cannot be empty"
            )));
        }
        if a.value.as_deref() == Some("") {
            return Err(invalid(format!(
                "Argument value for key '{}' at index {i} cannot be empty",
                a.key
            )));
        }
        if a.key.contains('\0') || a.value.as_deref().is_some_and(|v| v.contains('\0')) {
            return Err(invalid(format!(
                "Argument at index {i} contains a NUL byte, which no program can receive"
            )));
        }
        bytes += a.key.len() + a.value.as_ref().map_or(0, String::len) + 2;
    }
    for (i, (k, v)) in options.env.iter().enumerate() {
        if k.is_empty() || v.is_empty() {
            return Err(invalid(format!(
                "Environment variable at index {i} should have non-empty key and value"
            )));
        }
        if k.contains('=') || k.contains('\0') || v.contains('\0') {
            return Err(invalid(format!(
                "Environment variable at index {i}: a name holds no `=` and no NUL, a value no NUL"
            )));
        }
        bytes += k.len() + v.len() + 2;
    }
    if bytes > MAX_ARG_BYTES {
        return Err(invalid(format!(
            "ExecuteOptions: arguments and environment take {bytes} bytes; at most {MAX_ARG_BYTES}"
        )));
    }
    Ok(())
}

/// The user a program runs as: the named one, or the host's.
fn user(name: Option<&str>) -> Result<Identity> {
    match name {
        Some(name) => uzers::get_user_by_name(name)
            .map(|u| Identity {
                name: name.to_string(),
                id: u.uid(),
            })
            .ok_or_else(|| invalid(format!("ExecuteOptions: no user named `{name}`"))),
        None => {
            let id = rustix::process::getuid().as_raw();
            Ok(Identity {
                name: uzers::get_user_by_uid(id)
                    .map(|u| u.name().to_string_lossy().into_owned())
                    .unwrap_or_default(),
                id,
            })
        }
    }
}

/// The group a program runs as: the named one, or the host's.
fn group(name: Option<&str>) -> Result<Identity> {
    match name {
        Some(name) => uzers::get_group_by_name(name)
            .map(|g| Identity {
                name: name.to_string(),
                id: g.gid(),
            })
            .ok_or_else(|| invalid(format!("ExecuteOptions: no group named `{name}`"))),
        None => {
            let id = rustix::process::getgid().as_raw();
            Ok(Identity {
                name: uzers::get_group_by_gid(id)
                    .map(|g| g.name().to_string_lossy().into_owned())
                    .unwrap_or_default(),
                id,
            })
        }
    }
}

impl wit::Host for ExecView<'_> {
    fn convert_error(&mut self, err: ExecError) -> wasmtime::Result<wit::Error> {
        err.convert(self.authz)
    }

    fn execute(
        &mut self,
        program: Resource<FileRes>,
        options: wit::ExecuteOptions,
        cwd: Option<Resource<DirRes>>,
    ) -> Result<wit::ExecuteResult> {
        self.authz.host_call_starts();
        self.meter.host_call()?;
        validate(&options)?;
        let file = self.table.get(&program)?;
        if !file.readable || file.writable {
            return Err(ExecError::guest(wit::Error::BadHandleMode(format!(
                "File must be opened read-only to execute it: `{}` (open it with read(true) and without write)",
                file.path
            ))));
        }
        let user = user(options.user.as_deref())?;
        let group = group(options.group.as_deref())?;
        *self.requests += 1;
        let request = Program {
            file: FsResource::File(file.path.clone()),
            args: options
                .args
                .iter()
                .map(|a| (a.key.clone(), a.value.clone()))
                .collect(),
            env: options.env.clone(),
            user: user.clone(),
            group: group.clone(),
            request_id: format!("execute-{}", self.requests),
        };
        let context = request.context();
        self.authz.authorize_with(Execute, &request, context)?;

        let cwd = match &cwd {
            Some(dir) => self.table.get(dir)?.dir.as_fd(),
            None => self.fs.root(),
        };
        let args: Vec<&str> = options
            .args
            .iter()
            .flat_map(|a| std::iter::once(a.key.as_str()).chain(a.value.as_deref()))
            .collect();
        let spawn = Spawn {
            program: file.file.as_fd(),
            arg0: &file.path,
            args,
            env: &options.env,
            cwd,
            uid: options.user.as_ref().map(|_| user.id),
            gid: options.group.as_ref().map(|_| group.id),
        };
        let path = file.path.clone();
        let child = child::start(&spawn).map_err(|e| {
            ExecError::guest(wit::Error::Io(format!("cannot execute `{path}`: {e}")))
        })?;
        let remaining = self.meter.clock().remaining();
        let timeout = options
            .timeout_ms
            .map_or(remaining, |ms| Duration::from_millis(ms).min(remaining));
        let cap = options
            .max_output
            .unwrap_or(DEFAULT_MAX_OUTPUT)
            .min(MAX_OUTPUT);
        let clock = self.meter.clock().clone();
        let meter = &mut *self.meter;
        let (ended, out, err) = child::watch(
            child,
            timeout,
            cap,
            || clock.check(),
            |n| meter.charge_read(n),
        )
        .map_err(|e| ExecError::guest(wit::Error::Io(format!("while running `{path}`: {e}"))))?;
        match ended {
            Ended::Exited(exit_code) => Ok(wit::ExecuteResult {
                exit_code,
                stdout: String::from_utf8_lossy(&out.bytes).into_owned(),
                stderr: String::from_utf8_lossy(&err.bytes).into_owned(),
                stdout_truncated: out.truncated,
                stderr_truncated: err.truncated,
            }),
            Ended::TimedOut => Err(ExecError::guest(wit::Error::Timeout(format!(
                "`{path}` did not finish within {} ms and was killed (with its process group)",
                timeout.as_millis()
            )))),
            Ended::Stopped(trap) => Err(ExecError::Trap(trap)),
        }
    }
}

crate::bindings::capability_linker!(wit, ExecView, "exec");
