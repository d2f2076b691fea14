//! Rex's handle API, the core of it: `DirConfig(…).open(…)`, `DirHandle`, `FileHandle`,
//! `SymlinkHandle`, opening, listing, reading, writing, metadata and deletion, and the
//! `DirEntry` openers. Every method is a thin layer over a `wrex:sdk/fs` import that the host
//! authorizes with Cedar (see `wit/README.md`).

use std::cell::Cell;
use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, Map};

use super::error::{IoErrorKind, from_wit, sdk_error};
use super::options::{
    DeleteDirOptions, DeleteFileOptions, DirConfig, OpenDirOptions, OpenFileOptions,
};
use super::path::join;
use super::values::{DirEntry, EntryType, Metadata};
use crate::bindings::wrex::sdk::fs as wit;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// An open directory (Rex's `DirHandle`).
#[derive(Clone)]
pub struct DirHandle(pub Rc<wit::Dir>);

impl std::fmt::Debug for DirHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirHandle")
    }
}

/// An open regular file (Rex's `FileHandle`), with the position `read_page` continues from
/// (shared by copies of the handle, as Rex's reference-counted handle shares it).
#[derive(Clone)]
pub struct FileHandle(pub Rc<wit::File>, pub Rc<Cell<u64>>);

impl FileHandle {
    pub fn new(file: wit::File) -> Self {
        Self(Rc::new(file), Rc::new(Cell::new(0)))
    }
}

/// Rex's `SymlinkHandle`: the link itself, never its target.
#[derive(Clone)]
pub struct SymlinkHandle(pub Rc<wit::Symlink>);

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

pub fn open_dir(path: &str, create: bool, recursive: bool, follow: bool) -> Result<wit::Dir> {
    open_dir_wit(path, create, recursive, follow).map_err(from_wit)
}

/// [`open_dir`] with the host's error, for callers that tell a missing directory apart.
pub fn open_dir_wit(
    path: &str,
    create: bool,
    recursive: bool,
    follow: bool,
) -> std::result::Result<wit::Dir, wit::Error> {
    wit::Dir::open(
        path,
        wit::OpenDirOptions {
            create,
            recursive,
            follow_symlinks: follow,
        },
    )
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

/// `force` turns a missing target into success, as `rm -f` does; without it, a missing target
/// is Rex's `NotFound` (the one operation where Rex uses that kind rather than `IoError`).
pub fn ignore_not_found(result: std::result::Result<(), wit::Error>, force: bool) -> Result<()> {
    match result {
        Err(wit::Error::NotFound(_)) if force => Ok(()),
        Err(wit::Error::NotFound(m)) => Err(sdk_error(IoErrorKind::NotFound, m)),
        other => other.map_err(from_wit),
    }
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
        EntryType::Dir => open_dir(&join(&parent.path(), &e.name), false, false, false)?
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

pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<DirHandle>("DirHandle")
        .register_fn(
            "open",
            |c: &mut DirConfig, o: OpenDirOptions| -> Result<DirHandle> {
                let dir = wit::Dir::open(c.path(), o.to_wit()).map_err(from_wit)?;
                Ok(DirHandle(Rc::new(dir)))
            },
        )
        .register_fn(
            "open_file",
            |d: &mut DirHandle, name: &str, o: OpenFileOptions| -> Result<FileHandle> {
                let file = d.0.open_file(name, o.to_wit()).map_err(from_wit)?;
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
                ignore_not_found(
                    d.0.delete(o.recursive.unwrap_or(false)),
                    o.force.unwrap_or(false),
                )
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
                ignore_not_found(f.0.delete(), o.force.unwrap_or(false))
            },
        );

    engine
        .register_fn(
            "open_as_file",
            |e: &mut DirEntry, o: OpenFileOptions| -> Result<FileHandle> {
                let file = entry_parent(e)?
                    .open_file(&e.name, o.to_wit())
                    .map_err(from_wit)?;
                Ok(FileHandle::new(file))
            },
        )
        .register_fn(
            "open_as_dir",
            |e: &mut DirEntry, o: OpenDirOptions| -> Result<DirHandle> {
                let path = join(&entry_parent(e)?.path(), &e.name);
                Ok(DirHandle(Rc::new(
                    wit::Dir::open(&path, o.to_wit()).map_err(from_wit)?,
                )))
            },
        )
        .register_fn("metadata", |e: &mut DirEntry| entry_metadata(e));
}
