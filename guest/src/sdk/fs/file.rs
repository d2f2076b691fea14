//! `FileHandle` methods beyond the core (`handles.rs`): lines, pages, search, counts, strings,
//! copy, move, permissions, ownership, times, truncate, fallocate, in-place and
//! owner-preserving writes, disk usage. Each host operation is one `wrex:sdk/fs` import that
//! the host authorizes; see `wit/README.md`.

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use super::error::{IoErrorKind, from_wit, sdk_error};
use super::handles::{DirHandle, FileHandle};
use super::lines::Lines;
use super::options::{
    CopyFileOptions, DiskUsageOptions, FallocateOptions, MoveOptions, ReadLinesOptions,
    ReadPageOptions, SetOwnershipOptions, SetXAttrOptions, TruncateOptions, WriteOptions,
};
use super::text::{self, Access, Select};
use super::values::{Match, Ownership, bytes, int, mode, ownership};
use super::walk::{self, UsageEntry};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Rex's `WordCount`.
#[derive(Clone, Debug)]
pub struct WordCount(text::Counts);

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
    Ok(Match::array(text::grep(
        &f.0,
        Access::RedactedFallback,
        &g,
    )?))
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

pub fn register(engine: &mut Engine) {
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
                let (u, g) = o.owner_args();
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
                let length = o.length.unwrap_or(0);
                if length <= 0 {
                    return Err(sdk_error(
                        IoErrorKind::InvalidArguments,
                        format!("FallocateOptions: Length must be greater than 0 (got {length})"),
                    ));
                }
                let len = bytes(length, o.format, "FallocateOptions")?;
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
