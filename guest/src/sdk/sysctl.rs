//! Rex's `SysctlManager` and `sysctl_read`/`sysctl_write`/`sysctl_find`: kernel parameters
//! under `/proc/sys`, read and written through the file-system capability with Rex's checks
//! (`open` on the key's directory; `open` and `read`, or `open` and `write`, on its file).
//! Errors are Rex's `SysteminfoErrorKind`.

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use super::sysinfo::SysteminfoErrorKind;
use crate::bindings::wrex::sdk::fs as wit;
use crate::sdk::error;
use crate::sdk::fs::READ_ONLY;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Where the kernel's parameters live.
const ROOT: &str = "/proc/sys";

/// Most keys `find` reads (the kernel has a few thousand).
const MAX_FIND: usize = 100_000;

/// Rex's `SysctlManager`: a handle with no state.
#[derive(Clone, Debug)]
pub struct SysctlManager;

/// Rex's `SysctlEntry`.
#[derive(Clone, Debug)]
pub struct SysctlEntry {
    key: String,
    value: String,
}

fn invalid(message: String) -> Box<EvalAltResult> {
    error::sdk_error(SysteminfoErrorKind::InvalidParameter, message)
}

fn from_fs(err: wit::Error) -> Box<EvalAltResult> {
    match err {
        wit::Error::AccessDenied(d) => error::denied(SysteminfoErrorKind::PermissionDenied, d),
        other => {
            let message = crate::sdk::fs::from_wit(other).to_string();
            error::sdk_error(SysteminfoErrorKind::IoError, message)
        }
    }
}

/// `net.ipv4.ip_forward` (or `net/ipv4/ip_forward`) as its directory and file name under
/// `/proc/sys`.
fn locate(key: &str) -> Result<(String, String)> {
    let parts: Vec<&str> = key.split(['.', '/']).collect();
    if key.is_empty()
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == ".." || p.chars().any(|c| c.is_control()))
    {
        return Err(invalid(format!(
            "invalid sysctl key {key:?}: dot-separated names such as `net.ipv4.ip_forward`"
        )));
    }
    let (name, dirs) = parts.split_last().unwrap_or((&"", &[]));
    let dir = std::iter::once(ROOT)
        .chain(dirs.iter().copied())
        .collect::<Vec<_>>()
        .join("/");
    Ok((dir, (*name).to_string()))
}

/// A parameter's whole text (they are small: at most 1 MiB is read).
fn read_text(file: &wit::File) -> Result<String> {
    let (bytes, _) = crate::sdk::fs::read_prefix(file, 1 << 20, from_fs)?;
    Ok(String::from_utf8_lossy(&bytes).trim_end().to_string())
}

fn read(key: &str) -> Result<String> {
    let (dir, name) = locate(key)?;
    let dir = open_dir_wit(&dir)?;
    let file = dir.open_file(&name, READ_ONLY).map_err(from_fs)?;
    read_text(&file)
}

fn open_dir_wit(path: &str) -> Result<wit::Dir> {
    crate::sdk::fs::open_dir_wit(path, false, false, false).map_err(from_fs)
}

fn write(key: &str, value: &str) -> Result<()> {
    let (dir, name) = locate(key)?;
    let dir = open_dir_wit(&dir)?;
    let options = wit::OpenFileOptions {
        read: false,
        write: true,
        create: false,
        permissions: None,
        follow_symlinks: false,
    };
    let file = dir.open_file(&name, options).map_err(from_fs)?;
    // The kernel takes a parameter in one write, at offset 0 (no truncation on /proc/sys).
    file.append(format!("{value}\n").as_bytes())
        .map_err(from_fs)
}

/// Every readable key whose name matches `pattern`, sorted; directories and files the
/// policy refuses are skipped, as are parameters the kernel does not let anyone read.
fn find(pattern: &str) -> Result<Array> {
    let regex = regex::Regex::new(pattern)
        .map_err(|e| invalid(format!("invalid regular expression {pattern:?}: {e}")))?;
    let mut out = Vec::new();
    let mut stack = vec![ROOT.to_string()];
    while let Some(path) = stack.pop() {
        let Ok(dir) = crate::sdk::fs::open_dir_wit(&path, false, false, false) else {
            continue;
        };
        let Ok(entries) = dir.list_entries() else {
            continue;
        };
        for entry in entries {
            let child = format!("{path}/{}", entry.name);
            let key = child[ROOT.len() + 1..].replace('/', ".");
            match entry.entry_type {
                wit::EntryType::Dir => stack.push(child),
                wit::EntryType::File if regex.is_match(&key) => {
                    let Ok(file) = dir.open_file(&entry.name, READ_ONLY) else {
                        continue;
                    };
                    if let Ok(value) = read_text(&file) {
                        out.push(SysctlEntry { key, value });
                    }
                }
                _ => {}
            }
            if out.len() >= MAX_FIND {
                break;
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out.into_iter().map(Dynamic::from).collect())
}

pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<SysctlEntry>("SysctlEntry")
        .register_get("key", |e: &mut SysctlEntry| e.key.clone())
        .register_get("value", |e: &mut SysctlEntry| e.value.clone())
        .register_fn("to_map", |e: &mut SysctlEntry| {
            let mut m = Map::new();
            m.insert("key".into(), e.key.clone().into());
            m.insert("value".into(), e.value.clone().into());
            m
        });
    engine
        .register_type_with_name::<SysctlManager>("SysctlManager")
        .register_fn("SysctlManager", || SysctlManager)
        .register_fn("read", |_: &mut SysctlManager, key: &str| read(key))
        .register_fn("write", |_: &mut SysctlManager, key: &str, value: &str| {
            write(key, value)
        })
        .register_fn("find", |_: &mut SysctlManager, pattern: &str| find(pattern))
        .register_fn("sysctl_read", read)
        .register_fn("sysctl_write", write)
        .register_fn("sysctl_find", find);
}
