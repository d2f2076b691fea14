//! The rest of Rex's handle API: option builders, the file methods (`read_lines`,
//! `read_page`, `search`, `counts`, `extract_strings`, `copy`, `move`, `chmod`, ownership,
//! times, `truncate`, `fallocate`, `write_in_place`, `disk_usage`), the directory methods
//! (`find`, `disk_usage`, `chmod`, ownership, symlinks, `move`), `SymlinkHandle`, and the
//! `DirEntry` openers. Each host operation is one `wrex:sdk/fs` import that the host
//! authorizes; see `wit/README.md`.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Map, Module, NativeCallContext};

use super::archive;
use super::error::{IoErrorKind, from_wit, plain, sdk_error};
use super::fs::{
    DirEntry, DirHandle, EntryType, FileHandle, Metadata, OpenDirOptions, OpenFileOptions,
    Ownership, READ_ONLY, WRITE_CREATE, int, open_dir,
};
use super::lines::Lines;
use super::text::{self, Access, Select};
use super::walk::{self, UsageEntry, UsageOptions};
use crate::bindings::wrex::sdk::fs as wit;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Defines an option type whose builder has one setter per field (each field optional until
/// set), `XxxOptions()` to start it, and `build()` which checks the required fields.
macro_rules! options {
    ($name:ident / $builder:ident { $($field:ident : $ty:ty),* $(,)? } required [$($req:ident),*]) => {
        #[derive(Clone, Debug, Default)]
        pub struct $name {
            $(pub $field: Option<$ty>,)*
        }

        #[derive(Clone, Debug, Default)]
        pub struct $builder($name);

        impl $name {
            fn register(engine: &mut Engine) {
                engine
                    .register_type_with_name::<$builder>(stringify!($builder))
                    .register_type_with_name::<$name>(stringify!($name))
                    .register_fn(stringify!($name), $builder::default)
                    .register_fn("build", |b: &mut $builder| -> Result<$name> {
                        $(
                            if b.0.$req.is_none() {
                                return Err(plain(concat!(
                                    stringify!($name), ": `", stringify!($req),
                                    "` must be set before `build()`"
                                )));
                            }
                        )*
                        Ok(b.0.clone())
                    });
                $(
                    engine.register_fn(stringify!($field), |b: &mut $builder, v: $ty| {
                        b.0.$field = Some(v);
                        b.clone()
                    });
                )*
            }
        }
    };
}

options!(ReadLinesOptions / ReadLinesOptionsBuilder { count: i64, start: i64 } required []);
options!(ReadPageOptions / ReadPageOptionsBuilder { num_lines: i64 } required [num_lines]);
options!(CopyFileOptions / CopyFileOptionsBuilder { force: bool, preserve: bool } required []);
options!(MoveOptions / MoveOptionsBuilder { backup: bool, verbose: bool } required []);
options!(ChmodDirOptions / ChmodDirOptionsBuilder { permissions: i64, recursive: bool } required [permissions]);
options!(SetOwnershipOptions / SetOwnershipOptionsBuilder { user: String, group: String, recursive: bool } required []);
options!(CreateSymlinkOptions / CreateSymlinkOptionsBuilder { force: bool } required []);
options!(DiskUsageOptions / DiskUsageOptionsBuilder {
    summarize: bool,
    all_files: bool,
    one_file_system: bool,
    count_hard_links: bool,
    apparent_size: bool,
    max_depth: i64,
    track_largest_subdir: bool,
} required []);
options!(TruncateOptions / TruncateOptionsBuilder { size: i64, format: SizeUnit } required [size]);
options!(FallocateOptions / FallocateOptionsBuilder { length: i64, format: SizeUnit } required [length]);
options!(WriteOptions / WriteOptionsBuilder { preserve_ownership: bool } required []);
options!(SetXAttrOptions / SetXAttrOptionsBuilder {
    name: String,
    selinux_user: String,
    selinux_role: String,
    selinux_type: String,
    selinux_level: String,
} required [name]);
options!(ReplacementOptions / ReplacementOptionsBuilder { is_regex: bool, replace_all: bool } required []);
options!(FindOptions / FindOptionsBuilder {
    name: String,
    iname: String,
    regex: String,
    negate_name: bool,
    size_range: SizeRange,
    min_depth: i64,
    max_depth: i64,
    min_modification_time: i64,
    max_modification_time: i64,
    min_creation_time: i64,
    max_creation_time: i64,
    follow_symlinks: bool,
} required []);

/// Rex's `SizeUnit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeUnit {
    name: &'static str,
    bytes: u64,
}

const SIZE_UNITS: [SizeUnit; 7] = [
    SizeUnit {
        name: "BYTES",
        bytes: 1,
    },
    SizeUnit {
        name: "KILOBYTES",
        bytes: 1_000,
    },
    SizeUnit {
        name: "KIBIBYTES",
        bytes: 1 << 10,
    },
    SizeUnit {
        name: "MEGABYTES",
        bytes: 1_000_000,
    },
    SizeUnit {
        name: "MEBIBYTES",
        bytes: 1 << 20,
    },
    SizeUnit {
        name: "GIGABYTES",
        bytes: 1_000_000_000,
    },
    SizeUnit {
        name: "GIBIBYTES",
        bytes: 1 << 30,
    },
];

/// `n` units in bytes; negative or overflowing sizes are refused.
fn bytes(n: i64, unit: Option<SizeUnit>, what: &str) -> Result<u64> {
    let unit = unit.unwrap_or(SIZE_UNITS[0]);
    u64::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(unit.bytes))
        .filter(|b| i64::try_from(*b).is_ok())
        .ok_or_else(|| {
            sdk_error(
                IoErrorKind::InvalidArguments,
                format!("{what}: {n} {} is not a valid size", unit.name),
            )
        })
}

/// Rex's `SizeRange`: inclusive bounds in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct SizeRange {
    min: Option<u64>,
    max: Option<u64>,
}

impl SizeRange {
    fn contains(&self, size: u64) -> bool {
        self.min.is_none_or(|m| size >= m) && self.max.is_none_or(|m| size <= m)
    }
}

/// Rex's `Match` (from `search` and `search_gzip`).
#[derive(Clone, Debug)]
pub struct Match {
    pub line_number: i64,
    pub line_content: String,
}

impl Match {
    fn to_map(&self) -> Map {
        let mut map = Map::new();
        map.insert("line_number".into(), Dynamic::from_int(self.line_number));
        map.insert("line_content".into(), self.line_content.clone().into());
        map
    }
}

/// Rex's `WordCount`.
#[derive(Clone, Debug)]
pub struct WordCount(text::Counts);

/// Rex's `DiskUsageResult`.
#[derive(Clone)]
pub struct DiskUsageResult {
    entries: Vec<UsageEntry>,
    largest: Option<DirHandle>,
}

/// Rex's `SymlinkHandle`: the link itself, never its target.
#[derive(Clone)]
pub struct SymlinkHandle(Rc<wit::Symlink>);

fn mode(v: i64) -> Result<u32> {
    u32::try_from(v)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            sdk_error(
                IoErrorKind::InvalidArguments,
                format!("permissions must be a mode between 0 and 0o7777, got {v}"),
            )
        })
}

fn ownership(m: &wit::Metadata) -> Ownership {
    Ownership {
        user: m.user.clone(),
        group: m.group.clone(),
    }
}

fn owner_args(o: &SetOwnershipOptions) -> (Option<&str>, Option<&str>) {
    (o.user.as_deref(), o.group.as_deref())
}

fn usage_options(o: &DiskUsageOptions) -> Result<UsageOptions> {
    let max_depth =
        text::non_negative(o.max_depth, "DiskUsageOptions: max_depth")?.map(walk::depth);
    Ok(UsageOptions {
        summarize: o.summarize.unwrap_or(false),
        all_files: o.all_files.unwrap_or(false),
        one_file_system: o.one_file_system.unwrap_or(false),
        count_hard_links: o.count_hard_links.unwrap_or(false),
        apparent_size: o.apparent_size.unwrap_or(false),
        max_depth,
        track_largest_subdir: o.track_largest_subdir.unwrap_or(false),
    })
}

/// `read_lines`: all lines; `count(-n)` the last n; `start(s)` from line s, `count(c)` at most
/// c lines from there.
pub fn read_lines_select(o: &ReadLinesOptions) -> Result<Select> {
    let start = o.start.unwrap_or(1);
    if start < 1 {
        return Err(sdk_error(
            IoErrorKind::InvalidArguments,
            format!("ReadLinesOptions: start is 1-based, got {start}"),
        ));
    }
    Ok(match o.count {
        Some(c) if c < 0 => Select::Last(c.unsigned_abs()),
        Some(0) => Select::Range(1, Some(0)),
        Some(c) => Select::Range(start as u64, Some(start as u64 + c as u64 - 1)),
        None if start == 1 => Select::All,
        None => Select::Range(start as u64, None),
    })
}

fn search(f: &FileHandle, pattern: &str) -> Result<Array> {
    let g = text::Grep {
        regex: text::regex(pattern, false)?,
        invert: false,
        max_count: None,
    };
    Ok(text::grep(&f.0, Access::RedactedFallback, &g)?
        .into_iter()
        .map(|(n, line)| {
            Dynamic::from(Match {
                line_number: int(n),
                line_content: line,
            })
        })
        .collect())
}

fn read_page(f: &FileHandle, o: &ReadPageOptions) -> Result<Array> {
    let n = o.num_lines.unwrap_or(0);
    if n < 1 {
        return Err(sdk_error(
            IoErrorKind::InvalidArguments,
            format!("ReadPageOptions: num_lines must be at least 1, got {n}"),
        ));
    }
    let start = f.1.get();
    let mut lines = Lines::of_file(&f.0, start);
    let mut out = Array::new();
    while (out.len() as i64) < n {
        match lines.next_line()? {
            Some(line) => out.push(line.into()),
            None => break,
        }
    }
    f.1.set(start + lines.consumed());
    Ok(out)
}

fn find(ctx: &NativeCallContext, d: &DirHandle, o: &FindOptions, callback: &FnPtr) -> Result<()> {
    let name = o
        .name
        .as_deref()
        .map(|p| walk::glob(p, false))
        .transpose()?;
    let iname = o
        .iname
        .as_deref()
        .map(|p| walk::glob(p, true))
        .transpose()?;
    let regex = o
        .regex
        .as_deref()
        .map(|p| text::regex(p, false))
        .transpose()?;
    let negate = o.negate_name.unwrap_or(false);
    let min_depth = o.min_depth.unwrap_or(0).max(0);
    let max_depth =
        text::non_negative(o.max_depth, "FindOptions: max_depth")?.map_or(u32::MAX, walk::depth);
    walk::walk(
        &d.0,
        max_depth,
        o.follow_symlinks.unwrap_or(false),
        &mut |parent, details, _relative, depth| {
            let entry = &details.entry;
            let m = &details.metadata;
            let named = name.as_ref().is_none_or(|g| g.matches(&entry.name))
                && iname.as_ref().is_none_or(|g| g.matches(&entry.name))
                && regex.as_ref().is_none_or(|r| r.is_match(&entry.name));
            let keep = named != negate
                && i64::from(depth) >= min_depth
                && o.size_range.is_none_or(|r| r.contains(m.size))
                && o.min_modification_time.is_none_or(|t| m.mtime_seconds >= t)
                && o.max_modification_time.is_none_or(|t| m.mtime_seconds <= t)
                && o.min_creation_time
                    .is_none_or(|t| m.btime_seconds.is_some_and(|b| b >= t))
                && o.max_creation_time
                    .is_none_or(|t| m.btime_seconds.is_some_and(|b| b <= t));
            if keep {
                let mut e = DirEntry::from(entry.clone());
                e.parent = Some(parent.clone());
                callback
                    .call_within_context::<Dynamic>(ctx, (e,))
                    .map(drop)?;
            }
            Ok(())
        },
    )
}

fn disk_usage(d: &DirHandle, o: &DiskUsageOptions) -> Result<DiskUsageResult> {
    let usage = walk::disk_usage(&d.0, &usage_options(o)?)?;
    let largest = match usage.largest_subdir {
        None => None,
        Some(path) => Some(DirHandle(Rc::new(open_dir(&path, false, false, false)?))),
    };
    Ok(DiskUsageResult {
        entries: usage.entries,
        largest,
    })
}

fn entry_parent(e: &DirEntry) -> Result<&Rc<wit::Dir>> {
    e.parent.as_ref().ok_or_else(|| {
        sdk_error(
            IoErrorKind::UnsupportedOperationError,
            format!(
                "DirEntry `{}` was not listed from a directory handle, so it cannot be opened",
                e.name
            ),
        )
    })
}

fn entry_metadata(e: &DirEntry) -> Result<Metadata> {
    let parent = entry_parent(e)?;
    let m = match e.entry_type {
        EntryType::Dir => open_dir(
            &format!("{}/{}", parent.path(), e.name),
            false,
            false,
            false,
        )?
        .metadata()
        .map_err(from_wit)?,
        EntryType::Symlink => parent
            .open_symlink(&e.name)
            .map_err(from_wit)?
            .metadata()
            .map_err(from_wit)?,
        _ => parent
            .open_file(&e.name, READ_ONLY)
            .map_err(from_wit)?
            .metadata()
            .map_err(from_wit)?,
    };
    Ok(Metadata(m))
}

fn register_values(engine: &mut Engine) {
    let mut units = Module::new();
    for unit in SIZE_UNITS {
        units.set_var(unit.name, unit);
    }
    engine
        .register_type_with_name::<SizeUnit>("SizeUnit")
        .register_fn("to_string", |u: &mut SizeUnit| u.name.to_string())
        .register_fn("==", |a: &mut SizeUnit, b: SizeUnit| *a == b)
        .register_static_module("SizeUnit", units.into());
    let mut ranges = Module::new();
    ranges.set_native_fn("min_only", |min: i64, unit: SizeUnit| {
        Ok(SizeRange {
            min: Some(bytes(min, Some(unit), "SizeRange::min_only")?),
            max: None,
        })
    });
    ranges.set_native_fn("max_only", |max: i64, unit: SizeUnit| {
        Ok(SizeRange {
            min: None,
            max: Some(bytes(max, Some(unit), "SizeRange::max_only")?),
        })
    });
    ranges.set_native_fn("between", |min: i64, max: i64, unit: SizeUnit| {
        let (min, max) = (
            bytes(min, Some(unit), "SizeRange::between")?,
            bytes(max, Some(unit), "SizeRange::between")?,
        );
        if max < min {
            return Err(sdk_error(
                IoErrorKind::InvalidArguments,
                "SizeRange::between: the maximum is below the minimum",
            ));
        }
        Ok(SizeRange {
            min: Some(min),
            max: Some(max),
        })
    });
    engine
        .register_type_with_name::<SizeRange>("SizeRange")
        .register_static_module("SizeRange", ranges.into());

    engine
        .register_type_with_name::<Match>("Match")
        .register_get("line_number", |m: &mut Match| m.line_number)
        .register_get("line_content", |m: &mut Match| m.line_content.clone())
        .register_fn("to_map", |m: &mut Match| m.to_map());

    engine
        .register_type_with_name::<WordCount>("WordCount")
        .register_get("line_count", |w: &mut WordCount| int(w.0.lines))
        .register_get("word_count", |w: &mut WordCount| int(w.0.words))
        .register_get("byte_count", |w: &mut WordCount| int(w.0.bytes))
        .register_fn("to_map", |w: &mut WordCount| {
            let mut map = Map::new();
            map.insert("line_count".into(), Dynamic::from_int(int(w.0.lines)));
            map.insert("word_count".into(), Dynamic::from_int(int(w.0.words)));
            map.insert("byte_count".into(), Dynamic::from_int(int(w.0.bytes)));
            map
        });

    engine
        .register_type_with_name::<UsageEntry>("DiskUsageEntry")
        .register_get("path", |e: &mut UsageEntry| e.path.clone())
        .register_get("size_bytes", |e: &mut UsageEntry| e.size_bytes)
        .register_get("inode_count", |e: &mut UsageEntry| e.inode_count)
        .register_fn("to_map", |e: &mut UsageEntry| e.to_map());
    engine
        .register_type_with_name::<DiskUsageResult>("DiskUsageResult")
        .register_get("entries", |r: &mut DiskUsageResult| {
            r.entries
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect::<Array>()
        })
        .register_get("largest_subdir_handle", |r: &mut DiskUsageResult| {
            r.largest.clone().map_or(Dynamic::UNIT, Dynamic::from)
        });
}

fn register_file_methods(engine: &mut Engine) {
    engine
        .register_fn(
            "read_lines",
            |f: &mut FileHandle, o: ReadLinesOptions| -> Result<Array> {
                let select = read_lines_select(&o)?;
                Ok(text::strings(text::select_lines(
                    Lines::of_file(&f.0, 0),
                    select,
                )?))
            },
        )
        .register_fn("read_page", |f: &mut FileHandle, o: ReadPageOptions| {
            read_page(f, &o)
        })
        .register_fn("search", |f: &mut FileHandle, pattern: &str| {
            search(f, pattern)
        })
        .register_fn("counts", |f: &mut FileHandle| -> Result<WordCount> {
            Ok(WordCount(text::counts(&f.0)?))
        })
        .register_fn("extract_strings", |f: &mut FileHandle| {
            text::extract_strings(&f.0)
        })
        .register_fn(
            "copy",
            |f: &mut FileHandle, dest: FileHandle, o: CopyFileOptions| -> Result<FileHandle> {
                let new =
                    f.0.copy_to(
                        &dest.0,
                        o.force.unwrap_or(false),
                        o.preserve.unwrap_or(false),
                    )
                    .map_err(from_wit)?;
                Ok(FileHandle::new(new))
            },
        )
        .register_fn(
            "move",
            |f: &mut FileHandle,
             dest: DirHandle,
             name: &str,
             _o: MoveOptions|
             -> Result<FileHandle> {
                Ok(FileHandle::new(
                    f.0.move_to(&dest.0, name).map_err(from_wit)?,
                ))
            },
        )
        .register_fn("chmod", |f: &mut FileHandle, m: i64| -> Result<()> {
            f.0.set_permissions(mode(m)?).map_err(from_wit)
        })
        .register_fn("get_ownership", |f: &mut FileHandle| -> Result<Ownership> {
            Ok(ownership(&f.0.metadata().map_err(from_wit)?))
        })
        .register_fn(
            "set_ownership",
            |f: &mut FileHandle, o: SetOwnershipOptions| -> Result<()> {
                let (u, g) = owner_args(&o);
                f.0.set_ownership(u, g).map_err(from_wit)
            },
        )
        .register_fn(
            "set_extended_attr",
            |f: &mut FileHandle, o: SetXAttrOptions| -> Result<()> {
                f.0.set_extended_attr(
                    o.name.as_deref().unwrap_or_default(),
                    o.selinux_user.as_deref(),
                    o.selinux_role.as_deref(),
                    o.selinux_type.as_deref(),
                    o.selinux_level.as_deref(),
                )
                .map_err(from_wit)
            },
        )
        .register_fn(
            "get_last_modified_time",
            |f: &mut FileHandle| -> Result<i64> {
                let m = f.0.metadata().map_err(from_wit)?;
                Ok(m.mtime_seconds
                    .saturating_mul(1_000_000_000)
                    .saturating_add(i64::from(m.mtime_nanos)))
            },
        )
        .register_fn(
            "truncate",
            |f: &mut FileHandle, o: TruncateOptions| -> Result<()> {
                let size = bytes(o.size.unwrap_or(0), o.format, "TruncateOptions")?;
                f.0.set_len(size).map_err(from_wit)
            },
        )
        .register_fn(
            "fallocate",
            |f: &mut FileHandle, o: FallocateOptions| -> Result<()> {
                let len = bytes(o.length.unwrap_or(0), o.format, "FallocateOptions")?;
                f.0.allocate(len).map_err(from_wit)
            },
        )
        .register_fn(
            "write_in_place",
            |f: &mut FileHandle, content: &str| -> Result<()> {
                f.0.write_in_place(content.as_bytes()).map_err(from_wit)
            },
        )
        .register_fn(
            "write",
            |f: &mut FileHandle, content: &str, o: WriteOptions| -> Result<FileHandle> {
                // Keeping the owner needs to read it first (`stat`) and set it on the new file
                // (`chown`): both are checked.
                let owner = if o.preserve_ownership.unwrap_or(false) {
                    Some(f.0.metadata().map_err(from_wit)?)
                } else {
                    None
                };
                let new = f.0.write(content.as_bytes()).map_err(from_wit)?;
                if let Some(m) = owner {
                    new.set_ownership(Some(&m.uid.to_string()), Some(&m.gid.to_string()))
                        .map_err(from_wit)?;
                }
                Ok(FileHandle::new(new))
            },
        )
        .register_fn(
            "disk_usage",
            |f: &mut FileHandle, o: DiskUsageOptions| -> Result<UsageEntry> {
                let m = f.0.metadata().map_err(from_wit)?;
                Ok(UsageEntry {
                    path: f.0.path(),
                    size_bytes: walk::size_of(&m, o.apparent_size.unwrap_or(false)),
                    inode_count: 1,
                })
            },
        );
}

fn register_dir_methods(engine: &mut Engine) {
    engine
        .register_fn(
            "read_link_target",
            |d: &mut DirHandle, name: &str| -> Result<String> {
                d.0.read_link(name).map_err(from_wit)
            },
        )
        .register_fn("get_ownership", |d: &mut DirHandle| -> Result<Ownership> {
            Ok(ownership(&d.0.metadata().map_err(from_wit)?))
        })
        .register_fn(
            "chmod",
            |d: &mut DirHandle, o: ChmodDirOptions| -> Result<()> {
                d.0.set_permissions(
                    mode(o.permissions.unwrap_or(-1))?,
                    o.recursive.unwrap_or(false),
                )
                .map_err(from_wit)
            },
        )
        .register_fn(
            "set_ownership",
            |d: &mut DirHandle, o: SetOwnershipOptions| -> Result<()> {
                let (u, g) = owner_args(&o);
                d.0.set_ownership(u, g, o.recursive.unwrap_or(false))
                    .map_err(from_wit)
            },
        )
        .register_fn(
            "create_symlink",
            |d: &mut DirHandle, target: &str, name: &str, o: CreateSymlinkOptions| -> Result<()> {
                d.0.create_symlink(target, name, o.force.unwrap_or(false))
                    .map_err(from_wit)
            },
        )
        .register_fn(
            "open_symlink",
            |d: &mut DirHandle, name: &str| -> Result<SymlinkHandle> {
                Ok(SymlinkHandle(Rc::new(
                    d.0.open_symlink(name).map_err(from_wit)?,
                )))
            },
        )
        .register_fn(
            "move",
            |_parent: &mut DirHandle,
             src: DirHandle,
             dest_parent: DirHandle,
             name: &str,
             _o: MoveOptions|
             -> Result<DirHandle> {
                Ok(DirHandle(Rc::new(
                    src.0.move_to(&dest_parent.0, name).map_err(from_wit)?,
                )))
            },
        )
        .register_fn(
            "find",
            |ctx: NativeCallContext, d: &mut DirHandle, o: FindOptions, f: FnPtr| -> Result<()> {
                find(&ctx, d, &o, &f)
            },
        )
        .register_fn("disk_usage", |d: &mut DirHandle, o: DiskUsageOptions| {
            disk_usage(d, &o)
        });

    engine
        .register_type_with_name::<SymlinkHandle>("SymlinkHandle")
        .register_fn("metadata", |l: &mut SymlinkHandle| -> Result<Metadata> {
            l.0.metadata().map(Metadata).map_err(from_wit)
        })
        .register_fn(
            "set_ownership",
            |l: &mut SymlinkHandle, o: SetOwnershipOptions| -> Result<()> {
                let (u, g) = owner_args(&o);
                l.0.set_ownership(u, g).map_err(from_wit)
            },
        );

    engine
        .register_fn(
            "open_as_file",
            |e: &mut DirEntry, o: OpenFileOptions| -> Result<FileHandle> {
                let file = entry_parent(e)?.open_file(&e.name, o.0).map_err(from_wit)?;
                Ok(FileHandle::new(file))
            },
        )
        .register_fn(
            "open_as_dir",
            |e: &mut DirEntry, o: OpenDirOptions| -> Result<DirHandle> {
                let path = format!("{}/{}", entry_parent(e)?.path(), e.name);
                Ok(DirHandle(Rc::new(
                    wit::Dir::open(&path, o.0).map_err(from_wit)?,
                )))
            },
        )
        .register_fn("metadata", |e: &mut DirEntry| entry_metadata(e));
}

options!(CompressGzipOptions / CompressGzipOptionsBuilder { level: i64 } required []);
options!(SearchGzipOptions / SearchGzipOptionsBuilder {
    exclude_pattern: String,
    case_insensitive: bool,
    max_results: i64,
} required []);
options!(ExtractArchiveOptions / ExtractArchiveOptionsBuilder {
    preserve_permissions: bool,
    preserve_ownership: bool,
    preserve_timestamps: bool,
} required []);

/// Rex's `GzipInfo`.
#[derive(Clone, Debug)]
pub struct GzipInfo {
    compressed: u64,
    uncompressed: u64,
}

impl GzipInfo {
    /// How many times smaller the compressed data is (`uncompressed / compressed`).
    fn ratio(&self) -> f64 {
        if self.compressed == 0 {
            0.0
        } else {
            self.uncompressed as f64 / self.compressed as f64
        }
    }
}

fn gzip_search(pattern: &str, o: &SearchGzipOptions) -> Result<archive::GzipSearch> {
    let ci = o.case_insensitive.unwrap_or(false);
    let max_results = text::non_negative(o.max_results, "SearchGzipOptions: max_results")?
        .map(|m| usize::try_from(m).unwrap_or(usize::MAX));
    Ok(archive::GzipSearch {
        regex: text::regex(pattern, ci)?,
        exclude: o
            .exclude_pattern
            .as_deref()
            .map(|p| text::regex(p, ci))
            .transpose()?,
        max_results,
    })
}

fn dir_path(root: &str, parts: &[&str]) -> String {
    let mut path = root.trim_end_matches('/').to_string();
    for p in parts {
        path.push('/');
        path.push_str(p);
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

/// `extract_archive`: every entry is checked first (a tar-slip archive extracts nothing),
/// then each directory, file and symlink is created through the host, which authorizes it.
fn extract_archive(f: &FileHandle, dest: &DirHandle, o: &ExtractArchiveOptions) -> Result<()> {
    if o.preserve_timestamps.unwrap_or(false) {
        return Err(sdk_error(
            IoErrorKind::UnsupportedOperationError,
            "ExtractArchiveOptions: preserve_timestamps is not supported by wrex",
        ));
    }
    let perms = o.preserve_permissions.unwrap_or(false);
    let owner = o.preserve_ownership.unwrap_or(false);
    let mut tar = archive::TarReader::new(archive::open_archive(&f.0)?);
    while let Some(e) = tar.next()? {
        let parts = archive::safe_components(&e.path)?;
        if e.kind == archive::Kind::Symlink {
            archive::check_link(&parts, &e.link, &e.path)?;
        }
        tar.skip(e.size)?;
    }
    let root = dest.0.path();
    let mut tar = archive::TarReader::new(archive::open_archive(&f.0)?);
    while let Some(e) = tar.next()? {
        let parts = archive::safe_components(&e.path)?;
        let Some((name, dirs)) = parts.split_last() else {
            continue;
        };
        let parent_path = dir_path(&root, dirs);
        let parent = open_dir(&parent_path, !dirs.is_empty(), true, false)?;
        let (uid, gid) = (e.uid.to_string(), e.gid.to_string());
        match e.kind {
            archive::Kind::Dir => {
                tar.skip(e.size)?;
                let d = open_dir(&dir_path(&root, &parts), true, true, false)?;
                if perms {
                    d.set_permissions(e.mode, false).map_err(from_wit)?;
                }
                if owner {
                    d.set_ownership(Some(&uid), Some(&gid), false)
                        .map_err(from_wit)?;
                }
            }
            archive::Kind::Symlink => {
                tar.skip(e.size)?;
                parent
                    .create_symlink(&e.link, name, false)
                    .map_err(from_wit)?;
                if owner {
                    parent
                        .open_symlink(name)
                        .map_err(from_wit)?
                        .set_ownership(Some(&uid), Some(&gid))
                        .map_err(from_wit)?;
                }
            }
            archive::Kind::File => {
                let opened = parent
                    .open_file(
                        name,
                        wit::OpenFileOptions {
                            permissions: perms.then_some(e.mode & 0o777),
                            ..WRITE_CREATE
                        },
                    )
                    .map_err(from_wit)?;
                let mut current: Option<wit::File> = None;
                tar.data(e.size, &mut |chunk| {
                    match &current {
                        None => current = Some(opened.write(chunk).map_err(from_wit)?),
                        Some(c) => c.append(chunk).map_err(from_wit)?,
                    }
                    Ok(())
                })
                .map_err(|err| {
                    sdk_error(
                        IoErrorKind::InvalidArguments,
                        format!("not a valid tar archive: {err}"),
                    )
                })??;
                let file = match current {
                    Some(c) => c,
                    None => opened.write(&[]).map_err(from_wit)?,
                };
                if perms {
                    file.set_permissions(e.mode).map_err(from_wit)?;
                }
                if owner {
                    file.set_ownership(Some(&uid), Some(&gid))
                        .map_err(from_wit)?;
                }
            }
        }
    }
    Ok(())
}

fn register_archive(engine: &mut Engine) {
    CompressGzipOptions::register(engine);
    SearchGzipOptions::register(engine);
    ExtractArchiveOptions::register(engine);
    engine
        .register_type_with_name::<GzipInfo>("GzipInfo")
        .register_get(
            "compressed_size_bytes",
            |g: &mut GzipInfo| int(g.compressed),
        )
        .register_get("uncompressed_size_bytes", |g: &mut GzipInfo| {
            int(g.uncompressed)
        })
        .register_get("compression_ratio", |g: &mut GzipInfo| g.ratio())
        .register_fn("to_map", |g: &mut GzipInfo| {
            let mut map = Map::new();
            map.insert(
                "compressed_size_bytes".into(),
                Dynamic::from_int(int(g.compressed)),
            );
            map.insert(
                "uncompressed_size_bytes".into(),
                Dynamic::from_int(int(g.uncompressed)),
            );
            map.insert("compression_ratio".into(), Dynamic::from_float(g.ratio()));
            map
        })
        .register_fn(
            "compress_gzip",
            |f: &mut FileHandle, dest: FileHandle, o: CompressGzipOptions| -> Result<()> {
                archive::compress_gzip(&f.0, &dest.0, o.level.unwrap_or(6)).map(drop)
            },
        )
        .register_fn(
            "read_gzip_lines",
            |f: &mut FileHandle, o: ReadLinesOptions| -> Result<Array> {
                Ok(text::strings(archive::read_gzip_lines(
                    &f.0,
                    read_lines_select(&o)?,
                )?))
            },
        )
        .register_fn("gzip_info", |f: &mut FileHandle| -> Result<GzipInfo> {
            let (compressed, uncompressed) = archive::gzip_sizes(&f.0)?;
            Ok(GzipInfo {
                compressed,
                uncompressed,
            })
        })
        .register_fn(
            "search_gzip",
            |f: &mut FileHandle, pattern: &str, o: SearchGzipOptions| -> Result<Array> {
                let s = gzip_search(pattern, &o)?;
                Ok(archive::search_gzip(&f.0, &s)?
                    .into_iter()
                    .map(|(n, line)| {
                        Dynamic::from(Match {
                            line_number: int(n),
                            line_content: line,
                        })
                    })
                    .collect())
            },
        )
        .register_fn(
            "search_gzip_exists",
            |f: &mut FileHandle, pattern: &str, o: SearchGzipOptions| -> Result<bool> {
                let mut s = gzip_search(pattern, &o)?;
                s.max_results = Some(1);
                Ok(!archive::search_gzip(&f.0, &s)?.is_empty())
            },
        )
        .register_fn(
            "extract_archive",
            |f: &mut FileHandle, dest: DirHandle, o: ExtractArchiveOptions| {
                extract_archive(f, &dest, &o)
            },
        );
}

pub fn register(engine: &mut Engine) {
    ReadLinesOptions::register(engine);
    ReadPageOptions::register(engine);
    CopyFileOptions::register(engine);
    MoveOptions::register(engine);
    ChmodDirOptions::register(engine);
    SetOwnershipOptions::register(engine);
    CreateSymlinkOptions::register(engine);
    DiskUsageOptions::register(engine);
    TruncateOptions::register(engine);
    FallocateOptions::register(engine);
    WriteOptions::register(engine);
    ReplacementOptions::register(engine);
    SetXAttrOptions::register(engine);
    FindOptions::register(engine);
    register_values(engine);
    register_file_methods(engine);
    register_dir_methods(engine);
    register_archive(engine);
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
