//! The execute SDK (`wrex:sdk/exec`): `fh.execute(ExecuteOptions)` and its options, as Rex's,
//! plus `timeout`, `max_output` and `cwd`. The host checks `execute` on the file with the
//! arguments, environment, user and group in the request's context (see `wit/README.md`).

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use crate::bindings::wrex::sdk::exec as wit;
use crate::sdk::error;
use crate::sdk::fs::error::IoErrorKind;
use crate::sdk::fs::{DirHandle, FileHandle};
use crate::sdk::options::options;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

options!(ChildNamespaceOptions / ChildNamespaceOptionsBuilder {
    target_process: i64,
} required [target_process]);

options!(ExecuteOptions / ExecuteOptionsBuilder {
    args: Array,
    env: Map,
    capabilities: Array,
    user: String,
    group: String,
    namespace: ChildNamespaceOptions,
    timeout: i64,
    max_output: i64,
    cwd: DirHandle,
} required []);

/// Rex's `ExecuteResult` (plus whether each stream was cut at `max_output`).
#[derive(Clone, Debug)]
pub struct ExecuteResult(wit::ExecuteResult);

fn invalid(message: impl Into<String>) -> Box<EvalAltResult> {
    error::sdk_error(IoErrorKind::ValidationError, message)
}

fn from_wit(err: wit::Error) -> Box<EvalAltResult> {
    let (kind, message) = match err {
        wit::Error::AccessDenied(d) => return error::denied(IoErrorKind::PermissionDenied, d),
        wit::Error::InvalidArgument(m) => (IoErrorKind::ValidationError, m),
        wit::Error::BadHandleMode(m) => (IoErrorKind::InvalidFileMode, m),
        wit::Error::Timeout(m) => (IoErrorKind::Other, m),
        wit::Error::Io(m) => (IoErrorKind::IoError, m),
    };
    error::sdk_error(kind, message)
}

/// One element of `args`: `"word"`, `["word"]` or `["key", "value"]`.
fn argument(i: usize, value: &Dynamic) -> Result<wit::Argument> {
    let text = |v: &Dynamic| {
        v.clone().into_string().map_err(|t| {
            invalid(format!(
                "ExecuteOptions: argument {i} holds a {t}, not a string"
            ))
        })
    };
    if value.is_string() {
        return Ok(wit::Argument {
            key: text(value)?,
            value: None,
        });
    }
    let Some(parts) = value.read_lock::<Array>() else {
        return Err(invalid(format!(
            "ExecuteOptions: argument {i} must be a string, [key] or [key, value], got a {}",
            value.type_name()
        )));
    };
    match parts.as_slice() {
        [key] => Ok(wit::Argument {
            key: text(key)?,
            value: None,
        }),
        [key, v] => Ok(wit::Argument {
            key: text(key)?,
            value: Some(text(v)?),
        }),
        _ => Err(invalid(format!(
            "ExecuteOptions: argument {i} must be [key] or [key, value], got {} elements",
            parts.len()
        ))),
    }
}

fn non_negative(value: Option<i64>, what: &str) -> Result<Option<u64>> {
    value
        .map(|v| {
            u64::try_from(v).map_err(|_| {
                invalid(format!(
                    "ExecuteOptions: `{what}` must not be negative, got {v}"
                ))
            })
        })
        .transpose()
}

fn execute(file: &FileHandle, o: &ExecuteOptions) -> Result<ExecuteResult> {
    if o.capabilities.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(error::sdk_error(
            IoErrorKind::UnsupportedOperationError,
            "ExecuteOptions: `capabilities` is not supported by wrex (granting capabilities to a child needs code in the forked child that the host does not run); run the program as a user that has them",
        ));
    }
    if o.namespace.is_some() {
        return Err(error::sdk_error(
            IoErrorKind::UnsupportedOperationError,
            "ExecuteOptions: `namespace` is not supported by wrex (entering another process's namespaces would move a thread of the shared host process)",
        ));
    }
    let args = o
        .args
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, v)| argument(i, v))
        .collect::<Result<Vec<_>>>()?;
    let env = o
        .env
        .iter()
        .flatten()
        .map(|(k, v)| {
            let v = v.clone().into_string().map_err(|t| {
                invalid(format!(
                    "ExecuteOptions: environment variable `{k}` holds a {t}, not a string"
                ))
            })?;
            Ok((k.to_string(), v))
        })
        .collect::<Result<Vec<_>>>()?;
    let timeout_ms = non_negative(o.timeout, "timeout")?.map(|s| s.saturating_mul(1000));
    let options = wit::ExecuteOptions {
        args,
        env,
        user: o.user.clone(),
        group: o.group.clone(),
        timeout_ms,
        max_output: non_negative(o.max_output, "max_output")?,
    };
    let cwd = o.cwd.as_ref().map(|d| &*d.0);
    wit::execute(&file.0, &options, cwd)
        .map(ExecuteResult)
        .map_err(from_wit)
}

pub fn register(engine: &mut Engine) {
    ChildNamespaceOptions::register(engine);
    ExecuteOptions::register(engine);
    engine
        .register_type_with_name::<ExecuteResult>("ExecuteResult")
        .register_get("exit_code", |r: &mut ExecuteResult| {
            i64::from(r.0.exit_code)
        })
        .register_get("stdout", |r: &mut ExecuteResult| r.0.stdout.clone())
        .register_get("stderr", |r: &mut ExecuteResult| r.0.stderr.clone())
        .register_get("stdout_truncated", |r: &mut ExecuteResult| {
            r.0.stdout_truncated
        })
        .register_get("stderr_truncated", |r: &mut ExecuteResult| {
            r.0.stderr_truncated
        })
        .register_fn("to_map", |r: &mut ExecuteResult| {
            let mut m = Map::new();
            m.insert("exit_code".into(), Dynamic::from(i64::from(r.0.exit_code)));
            m.insert("stdout".into(), r.0.stdout.clone().into());
            m.insert("stderr".into(), r.0.stderr.clone().into());
            m
        })
        .register_fn("execute", |f: &mut FileHandle, o: ExecuteOptions| {
            execute(f, &o)
        });
}
