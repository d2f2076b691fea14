//! Rex's handle API for this slice: `DirConfig`, `OpenDirOptions`, `OpenFileOptions`,
//! `DirHandle`, `FileHandle`, `DirEntry`, `Metadata`, `EntryType`, `Ownership`, and the
//! delete options. Every method is a thin layer over a `wrex:sdk/fs` import; the host
//! authorizes each one with Cedar.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, Map, Module};

use super::error::{IoErrorKind, from_wit, plain, sdk_error};
use crate::bindings::wrex::sdk::fs as wit;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Bytes asked for per `read` call. The host serves at most this much per call, so a whole
/// read is one Cedar decision per MiB (one for any small file).
const READ_CHUNK: u32 = 1 << 20;

/// `DirConfig()` builder.
#[derive(Clone, Debug, Default)]
pub struct DirConfigBuilder {
    path: Option<String>,
}

/// A directory path to open.
#[derive(Clone, Debug)]
pub struct DirConfig {
    pub path: String,
}

/// `OpenDirOptions()` builder and built value (Rex keeps them distinct types; the built value
/// is the WIT record).
#[derive(Clone, Copy, Debug)]
pub struct OpenDirOptionsBuilder(wit::OpenDirOptions);

#[derive(Clone, Copy, Debug)]
pub struct OpenDirOptions(pub wit::OpenDirOptions);

#[derive(Clone, Copy, Debug, Default)]
pub struct OpenFileOptionsBuilder {
    read: bool,
    write: bool,
    create: bool,
    permissions: Option<i64>,
    follow_symlinks: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct OpenFileOptions(pub wit::OpenFileOptions);

#[derive(Clone, Copy, Debug, Default)]
pub struct DeleteFileOptionsBuilder {
    force: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct DeleteFileOptions {
    force: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct DeleteDirOptionsBuilder {
    force: bool,
    recursive: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct DeleteDirOptions {
    force: bool,
    recursive: bool,
}

/// An open directory (Rex's `DirHandle`).
#[derive(Clone)]
pub struct DirHandle(pub Rc<wit::Dir>);

/// An open regular file (Rex's `FileHandle`), with the position `read_page` continues from
/// (shared by copies of the handle, as Rex's reference-counted handle shares it).
#[derive(Clone)]
pub struct FileHandle(pub Rc<wit::File>, pub Rc<Cell<u64>>);

impl FileHandle {
    pub fn new(file: wit::File) -> Self {
        Self(Rc::new(file), Rc::new(Cell::new(0)))
    }
}

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

    fn name(self) -> &'static str {
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

impl fmt::Display for EntryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
/// scripts then cannot compare with literals (REX-COMPAT §6.3 #25); wrex does not copy that.
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
    fn permissions(&self) -> i64 {
        i64::from(self.0.mode & 0o7777)
    }

    fn to_map(&self) -> Map {
        let m = &self.0;
        let mut map = Map::new();
        map.insert(
            "type".into(),
            EntryType::from(m.entry_type).to_string().into(),
        );
        map.insert("file_size".into(), Dynamic::from_int(int(m.size)));
        map.insert("permissions".into(), Dynamic::from_int(self.permissions()));
        map.insert("num_hardlinks".into(), Dynamic::from_int(int(m.nlink)));
        map.insert("blocks".into(), Dynamic::from_int(int(m.blocks)));
        map.insert(
            "allocated_size".into(),
            Dynamic::from_int(int(m.blocks.saturating_mul(512))),
        );
        map.insert(
            "last_modified_time".into(),
            Dynamic::from_int(m.mtime_seconds),
        );
        map.insert(
            "last_modified_time_nanos_component".into(),
            Dynamic::from_int(i64::from(m.mtime_nanos)),
        );
        map.insert("user".into(), m.user.clone().into());
        map.insert("group".into(), m.group.clone().into());
        map.insert(
            "symlink_target".into(),
            m.symlink_target
                .clone()
                .map_or(Dynamic::UNIT, Dynamic::from),
        );
        map
    }
}

/// Open an existing file for reading, without following a symlink.
pub const READ_ONLY: wit::OpenFileOptions = wit::OpenFileOptions {
    read: true,
    write: false,
    create: false,
    permissions: None,
    follow_symlinks: false,
};

/// Open a file for writing, creating it if needed, without following a symlink.
pub const WRITE_CREATE: wit::OpenFileOptions = wit::OpenFileOptions {
    read: false,
    write: true,
    create: true,
    permissions: None,
    follow_symlinks: false,
};

/// Reads a whole file through the host, one bounded chunk per call.
pub fn read_all(file: &wit::File) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let chunk = file.read(out.len() as u64, READ_CHUNK).map_err(from_wit)?;
        let done = chunk.len() < READ_CHUNK as usize;
        out.extend_from_slice(&chunk);
        if done {
            return Ok(out);
        }
    }
}

/// Reads a whole file as UTF-8 text.
pub fn read_string(file: &wit::File) -> Result<String> {
    let bytes = read_all(file)?;
    String::from_utf8(bytes).map_err(|e| {
        sdk_error(
            IoErrorKind::Utf8Error,
            format!("file `{}` is not valid UTF-8: {e}", file.path()),
        )
    })
}

pub fn open_dir(path: &str, create: bool, recursive: bool, follow: bool) -> Result<wit::Dir> {
    wit::Dir::open(
        path,
        wit::OpenDirOptions {
            create,
            recursive,
            follow_symlinks: follow,
        },
    )
    .map_err(from_wit)
}

pub fn list_entries(dir: &wit::Dir) -> Result<Vec<DirEntry>> {
    Ok(dir
        .list_entries()
        .map_err(from_wit)?
        .into_iter()
        .map(DirEntry::from)
        .collect())
}

pub fn entries_map(entries: Vec<DirEntry>) -> Map {
    entries
        .into_iter()
        .map(|e| (e.name.as_str().into(), Dynamic::from(e)))
        .collect()
}

fn register_entry_type(engine: &mut Engine) {
    engine.register_type_with_name::<EntryType>("EntryType");
    engine.register_fn("to_string", |t: &mut EntryType| t.to_string());
    engine.register_fn("to_debug", |t: &mut EntryType| t.to_string());
    engine.register_fn("==", |a: &mut EntryType, b: EntryType| *a == b);
    engine.register_fn("!=", |a: &mut EntryType, b: EntryType| *a != b);
    let mut module = Module::new();
    for t in EntryType::ALL {
        module.set_var(t.name(), t);
    }
    engine.register_static_module("EntryType", module.into());
}

fn register_options(engine: &mut Engine) {
    engine
        .register_type_with_name::<DirConfigBuilder>("DirConfigBuilder")
        .register_type_with_name::<DirConfig>("DirConfig")
        .register_fn("DirConfig", DirConfigBuilder::default)
        .register_fn("path", |b: &mut DirConfigBuilder, path: &str| {
            b.path = Some(path.to_string());
            b.clone()
        })
        .register_fn("build", |b: &mut DirConfigBuilder| -> Result<DirConfig> {
            match &b.path {
                Some(path) => Ok(DirConfig { path: path.clone() }),
                None => Err(plain("DirConfig: `path` must be set before `build()`")),
            }
        });

    engine
        .register_type_with_name::<OpenDirOptionsBuilder>("OpenDirOptionsBuilder")
        .register_type_with_name::<OpenDirOptions>("OpenDirOptions")
        .register_fn("OpenDirOptions", || {
            OpenDirOptionsBuilder(wit::OpenDirOptions {
                create: false,
                recursive: false,
                follow_symlinks: false,
            })
        })
        .register_fn("create", |b: &mut OpenDirOptionsBuilder, v: bool| {
            b.0.create = v;
            *b
        })
        .register_fn("recursive", |b: &mut OpenDirOptionsBuilder, v: bool| {
            b.0.recursive = v;
            *b
        })
        .register_fn(
            "follow_symlinks",
            |b: &mut OpenDirOptionsBuilder, v: bool| {
                b.0.follow_symlinks = v;
                *b
            },
        )
        .register_fn("build", |b: &mut OpenDirOptionsBuilder| OpenDirOptions(b.0));

    engine
        .register_type_with_name::<OpenFileOptionsBuilder>("OpenFileOptionsBuilder")
        .register_type_with_name::<OpenFileOptions>("OpenFileOptions")
        .register_fn("OpenFileOptions", OpenFileOptionsBuilder::default)
        .register_fn("read", |b: &mut OpenFileOptionsBuilder, v: bool| {
            b.read = v;
            *b
        })
        .register_fn("write", |b: &mut OpenFileOptionsBuilder, v: bool| {
            b.write = v;
            *b
        })
        .register_fn("create", |b: &mut OpenFileOptionsBuilder, v: bool| {
            b.create = v;
            *b
        })
        .register_fn("permissions", |b: &mut OpenFileOptionsBuilder, v: i64| {
            b.permissions = Some(v);
            *b
        })
        .register_fn("follow_symlinks", |b: &mut OpenFileOptionsBuilder, v: bool| {
            b.follow_symlinks = v;
            *b
        })
        .register_fn(
            "build",
            |b: &mut OpenFileOptionsBuilder| -> Result<OpenFileOptions> {
                if !b.read && !b.write {
                    return Err(plain(
                        "OpenFileOptions: at least one of `read` or `write` must be true",
                    ));
                }
                let permissions = match b.permissions {
                    None => None,
                    Some(mode) => Some(
                        u32::try_from(mode)
                            .ok()
                            .filter(|m| *m <= 0o7777)
                            .ok_or_else(|| {
                                plain(format!(
                                    "OpenFileOptions: `permissions` must be a mode between 0 and 0o7777, got {mode}"
                                ))
                            })?,
                    ),
                };
                Ok(OpenFileOptions(wit::OpenFileOptions {
                    read: b.read,
                    write: b.write,
                    create: b.create,
                    permissions,
                    follow_symlinks: b.follow_symlinks,
                }))
            },
        );

    engine
        .register_type_with_name::<DeleteFileOptionsBuilder>("DeleteFileOptionsBuilder")
        .register_type_with_name::<DeleteFileOptions>("DeleteFileOptions")
        .register_fn("DeleteFileOptions", DeleteFileOptionsBuilder::default)
        .register_fn("force", |b: &mut DeleteFileOptionsBuilder, v: bool| {
            b.force = v;
            *b
        })
        .register_fn("build", |b: &mut DeleteFileOptionsBuilder| {
            DeleteFileOptions { force: b.force }
        });

    engine
        .register_type_with_name::<DeleteDirOptionsBuilder>("DeleteDirOptionsBuilder")
        .register_type_with_name::<DeleteDirOptions>("DeleteDirOptions")
        .register_fn("DeleteDirOptions", DeleteDirOptionsBuilder::default)
        .register_fn("force", |b: &mut DeleteDirOptionsBuilder, v: bool| {
            b.force = v;
            *b
        })
        .register_fn("recursive", |b: &mut DeleteDirOptionsBuilder, v: bool| {
            b.recursive = v;
            *b
        })
        .register_fn("build", |b: &mut DeleteDirOptionsBuilder| {
            DeleteDirOptions {
                force: b.force,
                recursive: b.recursive,
            }
        });
}

/// `force` turns a missing target into success, as `rm -f` does.
pub fn ignore_not_found(result: std::result::Result<(), wit::Error>, force: bool) -> Result<()> {
    match result {
        Err(wit::Error::NotFound(_)) if force => Ok(()),
        other => other.map_err(from_wit),
    }
}

fn register_handles(engine: &mut Engine) {
    engine
        .register_type_with_name::<DirHandle>("DirHandle")
        .register_fn(
            "open",
            |c: &mut DirConfig, o: OpenDirOptions| -> Result<DirHandle> {
                let dir = wit::Dir::open(&c.path, o.0).map_err(from_wit)?;
                Ok(DirHandle(Rc::new(dir)))
            },
        )
        .register_fn(
            "open_file",
            |d: &mut DirHandle, name: &str, o: OpenFileOptions| -> Result<FileHandle> {
                let file = d.0.open_file(name, o.0).map_err(from_wit)?;
                Ok(FileHandle::new(file))
            },
        )
        .register_fn("list_entries", |d: &mut DirHandle| -> Result<Map> {
            let mut entries = list_entries(&d.0)?;
            for e in &mut entries {
                e.parent = Some(d.0.clone());
            }
            Ok(entries_map(entries))
        })
        .register_fn("metadata", |d: &mut DirHandle| -> Result<Metadata> {
            d.0.metadata().map(Metadata).map_err(from_wit)
        })
        .register_fn(
            "delete",
            |d: &mut DirHandle, o: DeleteDirOptions| -> Result<()> {
                ignore_not_found(d.0.delete(o.recursive), o.force)
            },
        );

    engine
        .register_type_with_name::<FileHandle>("FileHandle")
        .register_fn("read", |f: &mut FileHandle| {
            super::text::read_text(&f.0, super::text::Access::RedactedFallback)
        })
        .register_fn(
            "write",
            |f: &mut FileHandle, content: &str| -> Result<FileHandle> {
                let new = f.0.write(content.as_bytes()).map_err(from_wit)?;
                Ok(FileHandle::new(new))
            },
        )
        .register_fn("metadata", |f: &mut FileHandle| -> Result<Metadata> {
            f.0.metadata().map(Metadata).map_err(from_wit)
        })
        .register_fn(
            "delete",
            |f: &mut FileHandle, o: DeleteFileOptions| -> Result<()> {
                ignore_not_found(f.0.delete(), o.force)
            },
        );
}

fn register_values(engine: &mut Engine) {
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

pub fn register(engine: &mut Engine) {
    register_entry_type(engine);
    register_options(engine);
    register_handles(engine);
    register_values(engine);
}
