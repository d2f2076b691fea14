//! The SDK's value types for files and directories, as scripts see them: `EntryType`,
//! `DirEntry`, `Metadata`, `Ownership`, `SizeUnit`, `SizeRange`, `Match`, `GzipInfo`. (The
//! values that come with one helper live with it: `WordCount` in `file.rs`,
//! `DiskUsageResult` and `DiskUsageEntry` in `dir.rs`.)

use std::fmt;
use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Module};

use super::error::{IoErrorKind, sdk_error};
use crate::bindings::wrex::sdk::fs as wit;
use crate::sdk::enums::{register_enum, register_enum_named};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Rex's `EntryType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryType {
    File,
    Dir,
    Symlink,
    Unknown,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

impl EntryType {
    const ALL: [EntryType; 8] = [
        Self::File,
        Self::Dir,
        Self::Symlink,
        Self::Unknown,
        Self::Fifo,
        Self::Socket,
        Self::CharDevice,
        Self::BlockDevice,
    ];

    /// The name of its constant in the `EntryType` module (`EntryType::FILE`).
    fn constant(self) -> &'static str {
        match self {
            Self::File => "FILE",
            Self::Dir => "DIR",
            Self::Symlink => "SYMLINK",
            Self::Unknown => "UNKNOWN",
            Self::Fifo => "FIFO",
            Self::Socket => "SOCKET",
            Self::CharDevice => "CHAR_DEVICE",
            Self::BlockDevice => "BLOCK_DEVICE",
        }
    }
}

/// As Rex prints it: `File`, `Dir`, `Symlink`, `Unknown`, `Fifo`, `Socket`, `CharDevice`,
/// `BlockDevice`.
impl fmt::Display for EntryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<wit::EntryType> for EntryType {
    fn from(t: wit::EntryType) -> Self {
        match t {
            wit::EntryType::File => Self::File,
            wit::EntryType::Dir => Self::Dir,
            wit::EntryType::Symlink => Self::Symlink,
            wit::EntryType::Fifo => Self::Fifo,
            wit::EntryType::Socket => Self::Socket,
            wit::EntryType::CharDevice => Self::CharDevice,
            wit::EntryType::BlockDevice => Self::BlockDevice,
            wit::EntryType::Unknown => Self::Unknown,
        }
    }
}

/// One directory entry (Rex's `DirEntry`).
#[derive(Clone, Debug)]
pub struct DirEntry {
    pub name: String,
    pub inode: u64,
    pub entry_type: EntryType,
    /// The directory holding the entry, for `open_as_file`, `open_as_dir` and `metadata`.
    pub parent: Option<Rc<wit::Dir>>,
}

impl From<wit::DirEntry> for DirEntry {
    fn from(e: wit::DirEntry) -> Self {
        Self {
            name: e.name,
            inode: e.inode,
            entry_type: e.entry_type.into(),
            parent: None,
        }
    }
}

/// Rex's `Ownership`.
#[derive(Clone, Debug)]
pub struct Ownership {
    pub user: String,
    pub group: String,
}

/// Rex's `Metadata`.
#[derive(Clone, Debug)]
pub struct Metadata(pub wit::Metadata);

/// Integers handed to scripts are `i64` (Rhai's integer type). Rex exposes some as `u64`, which
/// scripts then cannot compare with literals (see docs/rex-compat.md); wrex does not copy that.
pub fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl DirEntry {
    fn to_map(&self) -> Map {
        let mut map = Map::new();
        map.insert("name".into(), self.name.clone().into());
        map.insert("inode".into(), Dynamic::from_int(int(self.inode)));
        map.insert("type".into(), self.entry_type.to_string().into());
        map
    }
}

impl Metadata {
    /// The whole mode, file-type bits included (`0o100644` for a regular file), as Rex.
    fn permissions(&self) -> i64 {
        i64::from(self.0.mode)
    }

    /// Rex's keys: `type`, `permissions`, `file_size`, `allocated_size`,
    /// `last_modified_time`, `num_hardlinks`, `owner_user`, `owner_group`, `symlink_target`.
    fn to_map(&self) -> Map {
        let m = &self.0;
        let mut map = Map::new();
        map.insert(
            "type".into(),
            EntryType::from(m.entry_type).to_string().into(),
        );
        map.insert("permissions".into(), Dynamic::from_int(self.permissions()));
        map.insert("file_size".into(), Dynamic::from_int(int(m.size)));
        map.insert(
            "allocated_size".into(),
            Dynamic::from_int(int(m.blocks.saturating_mul(512))),
        );
        map.insert(
            "last_modified_time".into(),
            Dynamic::from_int(m.mtime_seconds),
        );
        map.insert("num_hardlinks".into(), Dynamic::from_int(int(m.nlink)));
        map.insert("owner_user".into(), m.user.clone().into());
        map.insert("owner_group".into(), m.group.clone().into());
        map.insert(
            "symlink_target".into(),
            m.symlink_target
                .clone()
                .map_or(Dynamic::UNIT, Dynamic::from),
        );
        map
    }
}

/// A permission mode from a script: 0 to `0o7777`.
pub fn mode(v: i64) -> Result<u32> {
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

/// The owner and group of a metadata record.
pub fn ownership(m: &wit::Metadata) -> Ownership {
    Ownership {
        user: m.user.clone(),
        group: m.group.clone(),
    }
}

impl fmt::Display for SizeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

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
pub fn bytes(n: i64, unit: Option<SizeUnit>, what: &str) -> Result<u64> {
    let unit = unit.unwrap_or(SIZE_UNITS[0]);
    u64::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(unit.bytes))
        .filter(|b| i64::try_from(*b).is_ok())
        .ok_or_else(|| {
            // Rex's words for a negative size.
            let rule = if n < 0 {
                "Size must be greater than or equal to 0"
            } else {
                "too large"
            };
            sdk_error(
                IoErrorKind::InvalidArguments,
                format!("{what}: {n} {} is not a valid size: {rule}", unit.name),
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
    pub fn contains(&self, size: u64) -> bool {
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
    /// The matches `(line number, line)` of a search, as a script array of `Match`.
    pub fn array(matches: Vec<(u64, String)>) -> Array {
        matches
            .into_iter()
            .map(|(n, line)| {
                Dynamic::from(Match {
                    line_number: int(n),
                    line_content: line,
                })
            })
            .collect()
    }

    fn to_map(&self) -> Map {
        let mut map = Map::new();
        map.insert("line_number".into(), Dynamic::from_int(self.line_number));
        map.insert("line_content".into(), self.line_content.clone().into());
        map
    }
}

/// Rex's `GzipInfo`.
#[derive(Clone, Debug)]
pub struct GzipInfo {
    pub compressed: u64,
    pub uncompressed: u64,
}

impl GzipInfo {
    /// How many times smaller the compressed data is (`uncompressed / compressed`).
    pub fn ratio(&self) -> f64 {
        if self.compressed == 0 {
            0.0
        } else {
            self.uncompressed as f64 / self.compressed as f64
        }
    }
}

fn register_file_values(engine: &mut Engine) {
    engine
        .register_type_with_name::<DirEntry>("DirEntry")
        .register_get("name", |e: &mut DirEntry| e.name.clone())
        .register_get("inode", |e: &mut DirEntry| int(e.inode))
        .register_fn("type", |e: &mut DirEntry| e.entry_type)
        .register_fn("to_map", |e: &mut DirEntry| e.to_map());

    engine
        .register_type_with_name::<Ownership>("Ownership")
        .register_get("user", |o: &mut Ownership| o.user.clone())
        .register_get("group", |o: &mut Ownership| o.group.clone());

    engine
        .register_type_with_name::<Metadata>("Metadata")
        .register_fn("type", |m: &mut Metadata| EntryType::from(m.0.entry_type))
        .register_fn("file_size", |m: &mut Metadata| int(m.0.size))
        .register_fn("last_modified_time", |m: &mut Metadata| m.0.mtime_seconds)
        .register_fn("last_modified_time_nanos_component", |m: &mut Metadata| {
            i64::from(m.0.mtime_nanos)
        })
        .register_fn("num_hardlinks", |m: &mut Metadata| int(m.0.nlink))
        .register_fn("blocks", |m: &mut Metadata| int(m.0.blocks))
        .register_fn("allocated_size", |m: &mut Metadata| {
            int(m.0.blocks.saturating_mul(512))
        })
        .register_fn("permissions", |m: &mut Metadata| m.permissions())
        .register_fn("symlink_target", |m: &mut Metadata| {
            m.0.symlink_target
                .clone()
                .map_or(Dynamic::UNIT, Dynamic::from)
        })
        .register_get("owner", |m: &mut Metadata| Ownership {
            user: m.0.user.clone(),
            group: m.0.group.clone(),
        })
        .register_fn("to_map", |m: &mut Metadata| m.to_map());
}

/// One bound of a `SizeRange` in bytes; a negative bound is refused in Rex's words.
fn range_bound(n: i64, unit: SizeUnit, function: &str, which: &str) -> Result<u64> {
    if n < 0 {
        return Err(sdk_error(
            IoErrorKind::InvalidArguments,
            format!("SizeRange::{function}: Size range {which} must be non-negative (got {n})"),
        ));
    }
    bytes(n, Some(unit), &format!("SizeRange::{function}"))
}

fn register_other_values(engine: &mut Engine) {
    register_enum(engine, "SizeUnit", SIZE_UNITS);
    let mut ranges = Module::new();
    ranges.set_native_fn("min_only", |min: i64, unit: SizeUnit| {
        Ok(SizeRange {
            min: Some(range_bound(min, unit, "min_only", "minimum")?),
            max: None,
        })
    });
    ranges.set_native_fn("max_only", |max: i64, unit: SizeUnit| {
        Ok(SizeRange {
            min: None,
            max: Some(range_bound(max, unit, "max_only", "maximum")?),
        })
    });
    ranges.set_native_fn("between", |min: i64, max: i64, unit: SizeUnit| {
        let (min, max) = (
            range_bound(min, unit, "between", "minimum")?,
            range_bound(max, unit, "between", "maximum")?,
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
}

pub fn register(engine: &mut Engine) {
    register_enum_named(
        engine,
        "EntryType",
        EntryType::ALL.map(|t| (t.constant(), t)),
    );
    register_file_values(engine);
    register_other_values(engine);
}
