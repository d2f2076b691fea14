//! The file-system SDK (`wrex:sdk/fs`): Rex's file and directory functions.
//!
//! | module | what it holds |
//! |---|---|
//! | `error` | `IoErrorKind` and the conversion of `wrex:sdk/fs` errors |
//! | `path` | the one path join and split |
//! | `values` | `EntryType`, `DirEntry`, `Metadata`, `Ownership`, `SizeUnit`, `SizeRange`, `Match`, `GzipInfo` |
//! | `options` | every option builder (`DirConfig`, `OpenFileOptions`, `FindOptions` …) |
//! | `handles` | `DirHandle`, `FileHandle`, `SymlinkHandle`: open, list, read, write, metadata, delete |
//! | `file`, `dir` | the other handle methods (lines, search, copy, move, chmod, find, disk usage …) |
//! | `commands` | `cat`, `ls`, `grep`, `tail`, `sed`, `wc`, `cp`, `mv`, `du`, `awk_*` … and their flags |
//! | `gzip`, `extract` | gzip helpers and `extract_archive` |
//! | `elf` | `elf_info`: an ELF file's class, interpreter, and a core dump's `execfn`/`platform` |
//! | `lines`, `text`, `walk` | pure computation: streamed lines, text processing, tree walks |
//!
//! Every host operation is one `wrex:sdk/fs` import that the host authorizes with Cedar; the
//! Cedar checks of each function are listed in `wit/README.md`.

mod commands;
mod dir;
mod elf;
pub mod error;
mod extract;
mod file;
mod gzip;
mod handles;
mod lines;
mod options;
mod path;
mod text;
mod values;
mod walk;

use rhai::Engine;

// What other capabilities read through the file system (`ipcs_info` reads `/proc/sysvipc`).
pub(crate) use self::error::from_wit;
pub(crate) use self::handles::{DirHandle, FileHandle, READ_ONLY, open_dir, open_dir_wit};
pub(crate) use self::lines::{read_prefix, read_string};

/// Registers the file-system SDK.
pub fn register(engine: &mut Engine) {
    crate::sdk::error::register::<error::IoErrorKind>(engine);
    values::register(engine);
    options::register(engine);
    handles::register(engine);
    file::register(engine);
    dir::register(engine);
    gzip::register(engine);
    extract::register(engine);
    elf::register(engine);
    commands::register(engine);
}
