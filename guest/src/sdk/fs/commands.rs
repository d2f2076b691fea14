//! Rex's shell-style helpers: `cat`, `ls`, `write`, `touch`, `mkdir`, `rm`, `grep`, `tail`,
//! `sed`, `wc`, `cp`, `mv`, `seq`, `find_files`, `du`, the `awk_*` helpers and `replace_text`.
//! A command with flags takes an optional first argument, an array of flags from a module named
//! after the command (`cat([cat::number], p)`, `tail([tail::n(5)], p)`).
//!
//! Each helper composes handle operations, so each Cedar check is made by the host exactly as
//! the handle API makes it; see `wit/README.md` for the list per helper.

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use super::error::{IoErrorKind, from_wit, kind_of, sdk_error};
use super::handles::{READ_ONLY, WRITE_CREATE, entries_map, list_entries, open_dir, open_dir_wit};
use super::lines::{Lines, read_string};
use super::options::ReplacementOptions;
use super::path::{join, split};
use super::text::{self, Access, Select};
use super::values::{DirEntry, EntryType};
use super::walk;
use crate::bindings::wrex::sdk::fs as wit;
use crate::sdk::error::plain;
use crate::sdk::flags::{FlagSpec, Flags, commands, register_modules};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Each command's flags (the module name is the command's, except `glob` for `find_files`).
const FLAGS: &[(&str, &[FlagSpec])] = &[
    ("cat", &[("number", &["n"], 0)]),
    (
        "ls",
        &[
            ("all", &["a"], 0),
            ("long", &["l"], 0),
            ("recursive", &["R"], 0),
        ],
    ),
    ("write", &[("append", &["a"], 0), ("replace", &["r"], 0)]),
    ("mkdir", &[("parents", &["p"], 0)]),
    ("rm", &[("force", &["f"], 0), ("recursive", &["r"], 0)]),
    (
        "grep",
        &[
            ("ignore_case", &["i"], 0),
            ("count", &["c"], 0),
            ("invert", &["v"], 0),
            ("line_number", &["n"], 0),
            ("max_count", &["m"], 1),
        ],
    ),
    (
        "tail",
        &[("n", &[], 1), ("from", &[], 1), ("range", &[], 2)],
    ),
    (
        "sed",
        &[
            ("regex", &[], 0),
            ("all", &["g"], 0),
            ("in_place", &["i"], 0),
        ],
    ),
    (
        "wc",
        &[
            ("lines", &["l"], 0),
            ("words", &["w"], 0),
            ("bytes", &["c"], 0),
        ],
    ),
    ("cp", &[("force", &["f"], 0), ("preserve", &["p"], 0)]),
    ("mv", &[("backup", &["b"], 0), ("verbose", &["v"], 0)]),
    ("seq", &[("step", &[], 1)]),
    ("glob", &[("recursive", &["r"], 0)]),
    (
        "du",
        &[
            ("summarize", &["s"], 0),
            ("all_files", &["a"], 0),
            ("apparent_size", &[], 0),
            ("max_depth", &["d"], 1),
        ],
    ),
];

/// Rex's `fileOpen`: the parent directory opened following symlinks, then the file opened
/// with `options` (which follow a symlink in the final component only when they say so).
fn open_file(path: &str, options: wit::OpenFileOptions) -> Result<wit::File> {
    let (parent, name) = split(path)?;
    let dir = open_dir(parent, false, false, true)?;
    dir.open_file(name, options).map_err(from_wit)
}

/// [`open_file`] for reading, without following a symlink in the final component.
fn open_for_read(path: &str) -> Result<wit::File> {
    open_file(path, READ_ONLY)
}

fn cat(flags: &Flags, path: &str) -> Result<String> {
    let text = text::read_text(&open_for_read(path)?, Access::RedactedFallback)?;
    if flags.has("number") {
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
            let sub = open_dir(&join(&dir.path(), &entry.name), false, false, false)?;
            ls_into(out, &sub, &format!("{key}/"), all, recursive)?;
        }
        out.insert(key.into(), Dynamic::from(entry));
    }
    Ok(())
}

/// `ls` as Rex: a directory's entries; a symlink's own entry (never its target's listing); a
/// regular file is an error. `ls::long` is accepted: every entry already carries what
/// `metadata(entry)` gives.
fn ls(flags: &Flags, path: &str) -> Result<Map> {
    let all = flags.has("all");
    let recursive = flags.has("recursive");
    match open_dir(path, false, false, false) {
        Ok(dir) => {
            let mut out = Map::new();
            ls_into(&mut out, &dir, "", all, recursive)?;
            Ok(out)
        }
        Err(err) if kind_of(&err) == Some(IoErrorKind::FileError) => {
            // The path is a symlink: its own entry. (A symlink above it fails here again.)
            let (parent, name) = split(path)?;
            let dir = open_dir(parent, false, false, false)?;
            let link = dir.open_symlink(name).map_err(from_wit)?;
            let inode = link.metadata().map_err(from_wit)?.inode;
            let entry = DirEntry {
                name: name.to_string(),
                inode,
                entry_type: EntryType::Symlink,
                parent: Some(std::rc::Rc::new(dir)),
            };
            Ok(entries_map(vec![entry]))
        }
        Err(err) if kind_of(&err) == Some(IoErrorKind::DirectoryOpenError) => Err(sdk_error(
            IoErrorKind::DirectoryOpenError,
            format!("Not a directory or symlink: `{path}`"),
        )),
        Err(err) => Err(err),
    }
}

fn write(flags: &Flags, path: &str, content: &str) -> Result<()> {
    let replace = flags.has("replace");
    if replace && flags.has("append") {
        return Err(plain(
            "write: `write::append` and `write::replace` exclude each other",
        ));
    }
    let file = open_file(path, WRITE_CREATE)?;
    if replace {
        file.write(content.as_bytes()).map(drop).map_err(from_wit)
    } else {
        // Rex appends by reading the whole file and writing it back, and silently drops the old
        // content when `read` is denied (see docs/rex-compat.md). wrex appends with `O_APPEND`:
        // existing content is never rewritten, so it cannot be lost.
        file.append(content.as_bytes()).map_err(from_wit)
    }
}

fn touch(path: &str) -> Result<()> {
    let (parent, name) = split(path)?;
    let dir = open_dir(parent, false, false, false)?;
    dir.open_file(name, WRITE_CREATE)
        .map(drop)
        .map_err(from_wit)
}

fn mkdir(flags: &Flags, path: &str) -> Result<()> {
    if flags.has("parents") {
        return open_dir(path, true, true, true).map(drop);
    }
    let (parent, name) = split(path)?;
    let dir = open_dir(parent, false, false, true)?;
    dir.create_dir(name).map_err(from_wit)
}

fn rm(flags: &Flags, path: &str) -> Result<()> {
    let force = flags.has("force");
    let recursive = flags.has("recursive");
    let (parent, name) = split(path)?;
    let dir = match open_dir_wit(parent, false, false, true) {
        Err(wit::Error::NotFound(_)) if force => return Ok(()),
        other => other.map_err(from_wit)?,
    };
    match dir.remove_entry(name, recursive) {
        Err(wit::Error::NotFound(_)) if force => Ok(()),
        other => other.map_err(from_wit),
    }
}

fn grep_cmd(flags: &Flags, pattern: &str, path: &str) -> Result<Array> {
    let max_count = text::non_negative(flags.value("max_count"), "grep::max_count")?;
    let g = text::Grep {
        regex: text::regex(pattern, flags.has("ignore_case"))?,
        invert: flags.has("invert"),
        max_count,
    };
    let file = open_for_read(path)?;
    let matches = text::grep(&file, Access::RedactedFallback, &g)?;
    if flags.has("count") {
        return Ok(vec![matches.len().to_string().into()]);
    }
    let numbered = flags.has("line_number");
    Ok(matches
        .into_iter()
        .map(|(n, line)| {
            if numbered {
                format!("{n}:{line}").into()
            } else {
                line.into()
            }
        })
        .collect())
}

fn positive(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            sdk_error(
                IoErrorKind::InvalidArguments,
                format!("{what} starts at line 1, got {value}"),
            )
        })
}

/// `tail`: the last 10 lines; `tail::n(k)` the last |k| lines (Rex returns the *first* k for a
/// positive k, a defect wrex does not copy); `tail::from(l)` from line l; `tail::range(s, e)`
/// lines s to e.
fn tail(flags: &Flags, path: &str) -> Result<Array> {
    let select = if let Some([s, e]) = flags.values("range") {
        let (s, e) = (positive(s, "tail::range")?, positive(e, "tail::range")?);
        if e < s {
            return Err(sdk_error(
                IoErrorKind::InvalidArguments,
                format!("tail::range({s}, {e}): the end is before the start"),
            ));
        }
        Select::Range(s, Some(e))
    } else if let Some(from) = flags.value("from") {
        Select::Range(positive(from, "tail::from")?, None)
    } else {
        Select::Last(flags.value("n").map_or(10, i64::unsigned_abs))
    };
    let file = open_for_read(path)?;
    Ok(text::strings(text::select_lines(
        Lines::of_file(&file, 0),
        select,
    )?))
}

fn sed(flags: &Flags, pattern: &str, with: &str, path: &str) -> Result<String> {
    let in_place = flags.has("in_place");
    let options = wit::OpenFileOptions {
        write: in_place,
        ..READ_ONLY
    };
    let file = open_file(path, options)?;
    let content = read_string(&file)?;
    let new = text::replace(
        &content,
        pattern,
        with,
        flags.has("regex"),
        flags.has("all"),
    )?;
    if in_place && new != content {
        file.write(new.as_bytes()).map_err(from_wit)?;
    }
    Ok(new)
}

fn wc(flags: &Flags, path: &str) -> Result<Map> {
    let counts = text::counts(&open_for_read(path)?)?;
    Ok(text::wc_map(
        counts,
        flags.has("lines"),
        flags.has("words"),
        flags.has("bytes"),
    ))
}

fn awk_lines(path: &str, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let file = open_for_read(path)?;
    text::for_each_line(&file, Access::Strict, |_, line| f(line).map(|()| true))
}

fn awk_field(n: i64, delim: &str, path: &str) -> Result<Array> {
    let n = text::field_args(n, delim)?;
    let mut out = Array::new();
    awk_lines(path, |line| {
        if let Some(v) = text::field(line, n, delim) {
            out.push(v.into());
        }
        Ok(())
    })?;
    Ok(out)
}

fn awk_filter(pattern: &str, path: &str) -> Result<Array> {
    let mut out = Array::new();
    awk_lines(path, |line| {
        if line.contains(pattern) {
            out.push(line.into());
        }
        Ok(())
    })?;
    Ok(out)
}

fn awk_filter_field(n: i64, delim: &str, pattern: &str, path: &str) -> Result<Array> {
    let n = text::field_args(n, delim)?;
    let mut out = Array::new();
    awk_lines(path, |line| {
        if text::field(line, n, delim).is_some_and(|v| v.contains(pattern)) {
            out.push(line.into());
        }
        Ok(())
    })?;
    Ok(out)
}

fn awk_sum(n: i64, delim: &str, path: &str) -> Result<f64> {
    let n = text::field_args(n, delim)?;
    let mut sum = 0.0;
    awk_lines(path, |line| {
        if let Some(v) = text::field(line, n, delim).and_then(|v| v.trim().parse::<f64>().ok()) {
            sum += v;
        }
        Ok(())
    })?;
    Ok(sum)
}

fn awk_count_unique(n: i64, delim: &str, path: &str) -> Result<Map> {
    let n = text::field_args(n, delim)?;
    let mut counts: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    awk_lines(path, |line| {
        if let Some(v) = text::field(line, n, delim) {
            *counts.entry(v.to_string()).or_default() += 1;
        }
        Ok(())
    })?;
    Ok(counts
        .into_iter()
        .map(|(k, v)| (k.into(), Dynamic::from_int(v)))
        .collect())
}

fn awk_filter_range(start: i64, end: i64, path: &str) -> Result<Array> {
    if start < 1 || end < start {
        return Err(sdk_error(
            IoErrorKind::InvalidArguments,
            format!("awk_filter_range({start}, {end}): need 1 <= start <= end"),
        ));
    }
    let file = open_for_read(path)?;
    let select = Select::Range(start as u64, Some(end as u64));
    Ok(text::strings(text::select_lines(
        Lines::of_file(&file, 0),
        select,
    )?))
}

fn seq(flags: &Flags, start: i64, end: i64) -> Result<Array> {
    text::seq(start, end, flags.value("step").unwrap_or(1))
}

/// `cp`: Rex's checks in Rex's order; `read` on the source is checked before the destination
/// is created, so a denied read leaves no empty destination behind.
fn cp(flags: &Flags, src: &str, dst: &str) -> Result<()> {
    let (src_parent, src_name) = split(src)?;
    let source = open_dir(src_parent, false, false, false)?
        .open_file(src_name, READ_ONLY)
        .map_err(from_wit)?;
    source.read(0, 0).map_err(from_wit)?;
    let (dst_parent, dst_name) = split(dst)?;
    let dest = open_dir(dst_parent, false, false, false)?
        .open_file(dst_name, WRITE_CREATE)
        .map_err(from_wit)?;
    source
        .copy_to(&dest, flags.has("force"), flags.has("preserve"))
        .map(drop)
        .map_err(from_wit)
}

/// `mv`: files and directories. With `mv::backup`, an existing destination file is first moved
/// to `<dst>~`.
fn mv(flags: &Flags, src: &str, dst: &str) -> Result<()> {
    let (src_parent, src_name) = split(src)?;
    let (dst_parent, dst_name) = split(dst)?;
    let from = open_dir(src_parent, false, false, false)?;
    let to = open_dir(dst_parent, false, false, false)?;
    if flags.has("backup") {
        match to.open_file(dst_name, READ_ONLY) {
            Ok(existing) => {
                existing
                    .move_to(&to, &format!("{dst_name}~"))
                    .map_err(from_wit)?;
            }
            Err(wit::Error::NotFound(_)) => {}
            Err(e) => return Err(from_wit(e)),
        }
    }
    match from.open_file(src_name, READ_ONLY) {
        Ok(file) => {
            file.move_to(&to, dst_name).map_err(from_wit)?;
        }
        Err(wit::Error::NotAFile(_)) => {
            let dir = open_dir(src, false, false, false)?;
            dir.move_to(&to, dst_name).map_err(from_wit)?;
        }
        Err(e) => return Err(from_wit(e)),
    }
    if flags.has("verbose") {
        crate::bindings::wrex::sdk::log::emit(
            crate::bindings::wrex::sdk::log::Level::Info,
            &format!("renamed '{src}' -> '{dst}'"),
            0,
        );
    }
    Ok(())
}

fn find_files(flags: &Flags, pattern: &str, path: &str) -> Result<Array> {
    let glob = walk::glob(pattern, false)?;
    let root = std::rc::Rc::new(open_dir(path, false, false, true)?);
    let max_depth = if flags.has("recursive") { u32::MAX } else { 1 };
    let mut out = Array::new();
    walk::walk(
        &root,
        max_depth,
        false,
        // As Rex: each match's name (not its path), in walk order.
        &mut |_, entry, _relative, _depth| {
            if glob.matches(&entry.entry.name) {
                out.push(entry.entry.name.clone().into());
            }
            Ok(())
        },
    )?;
    Ok(out)
}

fn du(flags: &Flags, path: &str) -> Result<Map> {
    let max_depth = text::non_negative(flags.value("max_depth"), "du::max_depth")?.map(walk::depth);
    let opts = walk::UsageOptions {
        summarize: flags.has("summarize"),
        all_files: flags.has("all_files"),
        apparent_size: flags.has("apparent_size"),
        max_depth,
        ..walk::UsageOptions::default()
    };
    let root = open_dir(path, false, false, true)?;
    let usage = walk::disk_usage(&root, &opts)?;
    let mut map = Map::new();
    let total = usage.entries.last().cloned().unwrap_or_default();
    map.insert(
        "entries".into(),
        usage
            .entries
            .into_iter()
            .map(|e| Dynamic::from_map(e.to_map()))
            .collect::<Array>()
            .into(),
    );
    map.insert(
        "total_size_bytes".into(),
        Dynamic::from_int(total.size_bytes),
    );
    map.insert(
        "total_inode_count".into(),
        Dynamic::from_int(total.inode_count),
    );
    Ok(map)
}

pub fn register(engine: &mut Engine) {
    register_modules(engine, FLAGS);
    commands!(engine, IoErrorKind::InvalidArguments;
        "cat" => |f, path: &str| cat(f, path);
        "ls" => |f, path: &str| ls(f, path);
        "write" => |f, path: &str, content: &str| write(f, path, content);
        "mkdir" => |f, path: &str| mkdir(f, path);
        "rm" => |f, path: &str| rm(f, path);
        "grep" => |f, pattern: &str, path: &str| grep_cmd(f, pattern, path);
        "tail" => |f, path: &str| tail(f, path);
        "sed" => |f, pattern: &str, with: &str, path: &str| sed(f, pattern, with, path);
        "wc" => |f, path: &str| wc(f, path);
        "cp" => |f, src: &str, dst: &str| cp(f, src, dst);
        "mv" => |f, src: &str, dst: &str| mv(f, src, dst);
        "seq" => |f, start: i64, end: i64| seq(f, start, end);
        "find_files" in "glob" => |f, pattern: &str, path: &str| find_files(f, pattern, path);
        "du" => |f, path: &str| du(f, path);
    );
    engine
        .register_fn("touch", touch)
        .register_fn("awk_split", text::awk_split)
        .register_fn("awk_field", awk_field)
        .register_fn("awk_filter", awk_filter)
        .register_fn("awk_filter_field", awk_filter_field)
        .register_fn("awk_sum", awk_sum)
        .register_fn("awk_count_unique", awk_count_unique)
        .register_fn("awk_filter_range", awk_filter_range);
    engine.register_fn(
        "replace_text",
        |t: &str, old: &str, new: &str, o: ReplacementOptions| {
            text::replace(
                t,
                old,
                new,
                o.is_regex.unwrap_or(false),
                o.replace_all.unwrap_or(false),
            )
        },
    );
}
