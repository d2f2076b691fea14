//! Rex's shell-style helpers for this slice: `cat`, `ls`, `write`, `touch`, `mkdir`, `rm`, each
//! with an optional first argument: an array of flags from a module named after the command
//! (`cat([cat::number], p)`, `write([write::replace], p, s)`).
//!
//! Each helper composes handle operations, so each Cedar check is made by the host exactly as
//! the handle API makes it; see `wit/README.md` for the list per helper.

use std::fmt;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Module};

use super::error::{IoErrorKind, from_wit, kind_of, plain, sdk_error};
use super::fs::{DirEntry, EntryType, entries_map, list_entries, open_dir, read_string};
use crate::bindings::wrex::sdk::fs as wit;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// A command flag such as `cat::number`. `name` is the canonical (long) name; aliases map to
/// the same value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag {
    command: &'static str,
    name: &'static str,
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.command, self.name)
    }
}

/// A flag's canonical name and its aliases.
type FlagSpec = (&'static str, &'static [&'static str]);

/// Each command's flags.
const FLAGS: &[(&str, &[FlagSpec])] = &[
    ("cat", &[("number", &["n"])]),
    ("ls", &[("all", &["a"]), ("recursive", &["R"])]),
    ("write", &[("append", &["a"]), ("replace", &["r"])]),
    ("mkdir", &[("parents", &["p"])]),
    ("rm", &[("force", &["f"]), ("recursive", &["r"])]),
];

/// Checks a flag array: every element must be a flag of `command`.
fn parse_flags(command: &str, flags: &Array) -> Result<Vec<&'static str>> {
    flags
        .iter()
        .map(|value| match value.clone().try_cast::<Flag>() {
            Some(flag) if flag.command == command => Ok(flag.name),
            Some(flag) => Err(sdk_error(
                IoErrorKind::InvalidArguments,
                format!("`{flag}` is not a flag of `{command}`: use `{command}::…` flags"),
            )),
            None => Err(sdk_error(
                IoErrorKind::InvalidArguments,
                format!(
                    "the flags of `{command}` must be `{command}::…` values, got a value of type `{}`",
                    value.type_name()
                ),
            )),
        })
        .collect()
}

/// Splits an absolute path into its parent directory and final name. The host validates both
/// again (it is the authority on paths); this only needs a split point.
fn split(path: &str) -> Result<(&str, &str)> {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) if trimmed.len() > 1 => Ok(("/", &trimmed[1..])),
        Some(i) if i > 0 => Ok((&trimmed[..i], &trimmed[i + 1..])),
        _ if trimmed.is_empty() && path.starts_with('/') => Err(sdk_error(
            IoErrorKind::InvalidPath,
            format!("path `{path}` names the root directory, which has no parent"),
        )),
        _ => Err(sdk_error(
            IoErrorKind::InvalidPath,
            format!("path `{path}` is not absolute"),
        )),
    }
}

const READ_ONLY: wit::OpenFileOptions = wit::OpenFileOptions {
    read: true,
    write: false,
    create: false,
    permissions: None,
    follow_symlinks: false,
};

/// `fileOpen` in REX-COMPAT §3.0: the parent directory opened following symlinks, then the
/// file opened for reading without following a symlink in the final component.
fn open_for_read(path: &str) -> Result<wit::File> {
    let (parent, name) = split(path)?;
    let dir = open_dir(parent, false, false, true)?;
    dir.open_file(name, READ_ONLY).map_err(from_wit)
}

fn cat(flags: &[&str], path: &str) -> Result<String> {
    let text = read_string(&open_for_read(path)?)?;
    if flags.contains(&"number") {
        Ok(text
            .lines()
            .enumerate()
            .map(|(i, line)| format!("{:6}\t{line}", i + 1))
            .collect::<Vec<_>>()
            .join("\n"))
    } else {
        Ok(text)
    }
}

fn visible(entry: &DirEntry, all: bool) -> bool {
    all || !entry.name.starts_with('.')
}

/// Adds the entries of `dir` (relative names prefixed by `prefix`) and, when `recursive`, of
/// every subdirectory (never through a symlink).
fn ls_into(out: &mut Map, dir: &wit::Dir, prefix: &str, all: bool, recursive: bool) -> Result<()> {
    let mut entries: Vec<DirEntry> = list_entries(dir)?
        .into_iter()
        .filter(|e| visible(e, all))
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for entry in entries {
        let key = format!("{prefix}{}", entry.name);
        if recursive && entry.entry_type == EntryType::Dir {
            let sub = open_dir(
                &format!("{}/{}", dir.path(), entry.name),
                false,
                false,
                false,
            )?;
            ls_into(out, &sub, &format!("{key}/"), all, recursive)?;
        }
        out.insert(key.into(), Dynamic::from(entry));
    }
    Ok(())
}

fn ls(flags: &[&str], path: &str) -> Result<Map> {
    let all = flags.contains(&"all");
    let recursive = flags.contains(&"recursive");
    match open_dir(path, false, false, true) {
        Ok(dir) => {
            let mut out = Map::new();
            ls_into(&mut out, &dir, "", all, recursive)?;
            Ok(out)
        }
        // `ls` of a file lists that one file, as `ls` does. The file's own `open` is checked.
        Err(err) if kind_of(&err) == Some(IoErrorKind::DirectoryOpenError) => {
            let (parent, name) = split(path)?;
            let dir = open_dir(parent, false, false, true)?;
            let file = dir
                .open_file(
                    name,
                    wit::OpenFileOptions {
                        follow_symlinks: true,
                        ..READ_ONLY
                    },
                )
                .map_err(from_wit)?;
            let mut entry = DirEntry::from(file.entry().map_err(from_wit)?);
            entry.name = name.to_string();
            Ok(entries_map(vec![entry]))
        }
        Err(err) => Err(err),
    }
}

fn write(flags: &[&str], path: &str, content: &str) -> Result<()> {
    let replace = flags.contains(&"replace");
    if replace && flags.contains(&"append") {
        return Err(plain(
            "write: `write::append` and `write::replace` exclude each other",
        ));
    }
    let (parent, name) = split(path)?;
    let dir = open_dir(parent, false, false, true)?;
    let file = dir
        .open_file(
            name,
            wit::OpenFileOptions {
                read: false,
                write: true,
                create: true,
                permissions: None,
                follow_symlinks: false,
            },
        )
        .map_err(from_wit)?;
    if replace {
        file.write(content.as_bytes()).map(drop).map_err(from_wit)
    } else {
        // Rex appends by reading the whole file and writing it back, and silently drops the old
        // content when `read` is denied (REX-COMPAT §7.1 #11). wrex appends with `O_APPEND`:
        // existing content is never rewritten, so it cannot be lost.
        file.append(content.as_bytes()).map_err(from_wit)
    }
}

fn touch(path: &str) -> Result<()> {
    let (parent, name) = split(path)?;
    let dir = open_dir(parent, false, false, false)?;
    dir.open_file(
        name,
        wit::OpenFileOptions {
            read: false,
            write: true,
            create: true,
            permissions: None,
            follow_symlinks: false,
        },
    )
    .map(drop)
    .map_err(from_wit)
}

fn mkdir(flags: &[&str], path: &str) -> Result<()> {
    if flags.contains(&"parents") {
        return open_dir(path, true, true, true).map(drop);
    }
    let (parent, name) = split(path)?;
    let dir = open_dir(parent, false, false, true)?;
    dir.create_dir(name).map_err(from_wit)
}

fn rm(flags: &[&str], path: &str) -> Result<()> {
    let force = flags.contains(&"force");
    let recursive = flags.contains(&"recursive");
    let (parent, name) = split(path)?;
    let dir = match open_dir(parent, false, false, true) {
        Err(e) if force && kind_of(&e) == Some(IoErrorKind::NotFound) => return Ok(()),
        other => other?,
    };
    match dir.remove_entry(name, recursive) {
        Err(wit::Error::NotFound(_)) if force => Ok(()),
        other => other.map_err(from_wit),
    }
}

fn register_flag_modules(engine: &mut Engine) {
    engine.register_type_with_name::<Flag>("Flag");
    engine.register_fn("to_string", |f: &mut Flag| f.to_string());
    engine.register_fn("to_debug", |f: &mut Flag| f.to_string());
    engine.register_fn("==", |a: &mut Flag, b: Flag| *a == b);
    engine.register_fn("!=", |a: &mut Flag, b: Flag| *a != b);
    for (command, flags) in FLAGS {
        let mut module = Module::new();
        for (name, aliases) in *flags {
            let flag = Flag { command, name };
            module.set_var(*name, flag);
            for alias in *aliases {
                module.set_var(*alias, flag);
            }
        }
        engine.register_static_module(*command, module.into());
    }
}

pub fn register(engine: &mut Engine) {
    register_flag_modules(engine);
    engine
        .register_fn("cat", |path: &str| cat(&[], path))
        .register_fn("cat", |flags: Array, path: &str| {
            cat(&parse_flags("cat", &flags)?, path)
        })
        .register_fn("ls", |path: &str| ls(&[], path))
        .register_fn("ls", |flags: Array, path: &str| {
            ls(&parse_flags("ls", &flags)?, path)
        })
        .register_fn("write", |path: &str, content: &str| {
            write(&[], path, content)
        })
        .register_fn("write", |flags: Array, path: &str, content: &str| {
            write(&parse_flags("write", &flags)?, path, content)
        })
        .register_fn("touch", touch)
        .register_fn("mkdir", |path: &str| mkdir(&[], path))
        .register_fn("mkdir", |flags: Array, path: &str| {
            mkdir(&parse_flags("mkdir", &flags)?, path)
        })
        .register_fn("rm", |path: &str| rm(&[], path))
        .register_fn("rm", |flags: Array, path: &str| {
            rm(&parse_flags("rm", &flags)?, path)
        });
}
