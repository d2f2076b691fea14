//! `extract_archive`: a tar (or tar.gz) archive read as a stream with the `tar` crate over the
//! host's read handle (GNU long names, pax headers and sparse entries come with it), with
//! wrex's validation on top. Every entry is checked first, so a tar-slip archive extracts
//! nothing; then each directory and regular file is created through the host, which
//! authorizes it. As Rex, symlinks, hard links, devices and FIFOs are skipped (logged), and
//! directories get their permissions, owner and time after everything in them is written.

use std::io::Read;

use flate2::read::MultiGzDecoder;
use rhai::{Engine, EvalAltResult};
use tar::EntryType;

use super::error::{IoErrorKind, from_wit, is_access_denied, sdk_error};
use super::handles::{DirHandle, FileHandle, open_dir};
use super::lines::{CHUNK, HostReader};
use super::options::ExtractArchiveOptions;
use super::path::join_all;
use crate::bindings::wrex::sdk::fs as wit;
use crate::bindings::wrex::sdk::log;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// The archive's bytes: a host file, gunzipped when it is gzip-compressed.
type Stream<'a> = Box<dyn Read + 'a>;

/// What an archive entry creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    /// Skipped, as Rex: a symlink, hard link, device, FIFO or unknown type (named).
    Skipped(&'static str),
}

/// One archive entry's header, after long names and pax records are applied.
struct Header {
    path: String,
    kind: Kind,
    mode: u32,
    uid: u64,
    gid: u64,
    /// Modification time, seconds since the epoch.
    mtime: u64,
}

fn corrupt(message: impl std::fmt::Display) -> Box<EvalAltResult> {
    sdk_error(
        IoErrorKind::InvalidArguments,
        format!("not a valid tar archive: {message}"),
    )
}

fn utf8(bytes: &[u8], what: &str) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| corrupt(format!("{what} is not valid UTF-8")))
}

/// The entry's header; `None` for a pax global header (it describes no file).
fn header<R: Read>(entry: &tar::Entry<'_, R>) -> Result<Option<Header>> {
    let h = entry.header();
    let path = utf8(&entry.path_bytes(), "an entry name")?;
    let kind = match h.entry_type() {
        EntryType::XGlobalHeader => return Ok(None),
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => Kind::File,
        EntryType::Directory => Kind::Dir,
        EntryType::Symlink => Kind::Skipped("a symlink"),
        EntryType::Link => Kind::Skipped("a hard link"),
        EntryType::Char | EntryType::Block => Kind::Skipped("a device"),
        EntryType::Fifo => Kind::Skipped("a FIFO"),
        _ => Kind::Skipped("of an unknown type"),
    };
    Ok(Some(Header {
        path,
        kind,
        mode: h.mode().map_err(corrupt)? & 0o7777,
        uid: h.uid().map_err(corrupt)?,
        gid: h.gid().map_err(corrupt)?,
        mtime: h.mtime().map_err(corrupt)?,
    }))
}

/// The components of a tar entry's path, refusing anything that could leave the destination:
/// an absolute path, a `..` component, NUL or control characters, or an empty name.
fn safe_components(path: &str) -> Result<Vec<&str>> {
    let refuse = |why: &str| {
        sdk_error(
            IoErrorKind::InvalidPath,
            format!("archive entry `{}` refused: {why}", path.escape_debug()),
        )
    };
    if path.starts_with('/') {
        return Err(refuse("absolute paths are not extracted"));
    }
    if path.chars().any(char::is_control) {
        return Err(refuse("the name contains a control character"));
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(refuse("`..` components would leave the destination"));
    }
    if parts.is_empty() {
        return Err(refuse("the name is empty"));
    }
    Ok(parts)
}

/// The archive as a byte stream: gzip-compressed (by its magic bytes) or plain tar.
fn open_archive(file: &wit::File) -> Result<tar::Archive<Stream<'_>>> {
    let head = file.read(0, 2).map_err(from_wit)?;
    let reader = HostReader::new(file);
    let stream: Stream<'_> = if head == [0x1f, 0x8b] {
        Box::new(MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    Ok(tar::Archive::new(stream))
}

/// Calls `each` with every entry of the archive and its header, in order.
fn for_each_entry(
    file: &wit::File,
    each: &mut dyn FnMut(&mut tar::Entry<'_, Stream<'_>>, Header) -> Result<()>,
) -> Result<()> {
    let mut archive = open_archive(file)?;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        if let Some(h) = header(&entry)? {
            each(&mut entry, h)?;
        }
    }
    Ok(())
}

/// Streams an entry's data to `sink` in bounded chunks; a data section that ends early is
/// refused as a truncated archive.
fn copy_data(
    entry: &mut impl Read,
    size: u64,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut buf = vec![0u8; (CHUNK as usize).min(size.max(1) as usize)];
    let mut left = size;
    while left > 0 {
        let n = entry.read(&mut buf).map_err(corrupt)?;
        if n == 0 {
            return Err(corrupt("truncated"));
        }
        sink(&buf[..n])?;
        left = left.saturating_sub(n as u64);
    }
    Ok(())
}

/// What to restore of each entry's metadata.
#[derive(Clone, Copy)]
struct Preserve {
    permissions: bool,
    ownership: bool,
    timestamps: bool,
}

fn extract_archive(f: &FileHandle, dest: &DirHandle, o: &ExtractArchiveOptions) -> Result<()> {
    let keep = Preserve {
        permissions: o.preserve_permissions.unwrap_or(false),
        ownership: o.preserve_ownership.unwrap_or(false),
        timestamps: o.preserve_timestamps.unwrap_or(false),
    };
    // First pass: every entry's path is checked before anything is created.
    for_each_entry(&f.0, &mut |_, h| safe_components(&h.path).map(drop))?;
    let root = dest.0.path();
    let mut dirs = Vec::new();
    for_each_entry(&f.0, &mut |entry, h| {
        // As Rex: an entry the policy denies is skipped (with a warning in the script log)
        // and the rest extracted; any other error stops the extraction.
        match extract_entry(&root, entry, &h, keep) {
            Ok(()) if h.kind == Kind::Dir => {
                dirs.push(h);
                Ok(())
            }
            Err(e) if is_access_denied(&e) => {
                skipped(&h.path, &e);
                Ok(())
            }
            other => other,
        }
    })?;
    // Directories' metadata last, deepest first (as Rex): writing into a directory changes
    // its time, and restrictive permissions must not stop what goes inside.
    dirs.sort_by(|a, b| b.path.cmp(&a.path));
    for h in &dirs {
        let d = open_dir(
            &join_all(&root, &safe_components(&h.path)?),
            false,
            false,
            false,
        )?;
        let (uid, gid) = (h.uid.to_string(), h.gid.to_string());
        let best_effort = best_effort(h);
        if keep.permissions {
            // Never a set-id or sticky bit from an archive (the host refuses them).
            best_effort(d.set_permissions(h.mode & 0o777, false))?;
        }
        if keep.ownership {
            best_effort(d.set_ownership(Some(&uid), Some(&gid), false))?;
        }
        if keep.timestamps {
            best_effort(d.set_modified(mtime(h)))?;
        }
    }
    Ok(())
}

/// The entry's modification time as the host takes it.
fn mtime(h: &Header) -> i64 {
    i64::try_from(h.mtime).unwrap_or(i64::MAX)
}

/// Metadata changes are best-effort, as Rex: a denial is logged and the entry kept.
fn best_effort(h: &Header) -> impl Fn(std::result::Result<(), wit::Error>) -> Result<()> + '_ {
    move |result| match result.map_err(from_wit) {
        Err(e) if is_access_denied(&e) => {
            skipped(&h.path, &e);
            Ok(())
        }
        other => other,
    }
}

/// Logs a warning that `path` was skipped because of `err`.
fn skipped(path: &str, err: &EvalAltResult) {
    let why = match err {
        EvalAltResult::ErrorRuntime(value, _) => {
            crate::sdk::describe_error(value).map_or_else(|| value.to_string(), |d| d.text)
        }
        other => other.to_string(),
    };
    log::emit(
        log::Level::Warn,
        &format!("extract_archive: skipped `{path}`: {why}"),
        0,
    );
}

/// Extracts one checked entry below `root`. A file is written with `write-file`, which is
/// authorized whole (`open`, `create`, `write`) before anything is created, so a denied
/// file leaves nothing behind. Denied permission, ownership or time changes keep the entry.
/// A directory is only created here; its metadata comes after the whole archive.
fn extract_entry(
    root: &str,
    entry: &mut tar::Entry<'_, Stream<'_>>,
    h: &Header,
    keep: Preserve,
) -> Result<()> {
    let parts = safe_components(&h.path)?;
    let Some((name, dirs)) = parts.split_last() else {
        return Ok(());
    };
    match h.kind {
        Kind::Skipped(what) => {
            log::emit(
                log::Level::Info,
                &format!("extract_archive: skipped `{}`: it is {what}", h.path),
                0,
            );
        }
        Kind::Dir => {
            open_dir(&join_all(root, &parts), true, true, false)?;
        }
        Kind::File => {
            let parent = open_dir(&join_all(root, dirs), !dirs.is_empty(), true, false)?;
            let mode = keep.permissions.then_some(h.mode & 0o777);
            let mut current: Option<wit::File> = None;
            let size = entry.size();
            copy_data(entry, size, &mut |chunk| {
                match &current {
                    None => {
                        current = Some(parent.write_file(name, chunk, mode).map_err(from_wit)?);
                    }
                    Some(c) => c.append(chunk).map_err(from_wit)?,
                }
                Ok(())
            })?;
            let file = match current {
                Some(c) => c,
                None => parent.write_file(name, &[], mode).map_err(from_wit)?,
            };
            let best_effort = best_effort(h);
            if keep.permissions {
                best_effort(file.set_permissions(h.mode & 0o777))?;
            }
            if keep.ownership {
                let (uid, gid) = (h.uid.to_string(), h.gid.to_string());
                best_effort(file.set_ownership(Some(&uid), Some(&gid)))?;
            }
            if keep.timestamps {
                best_effort(file.set_modified(mtime(h)))?;
            }
        }
    }
    Ok(())
}

pub fn register(engine: &mut Engine) {
    engine.register_fn(
        "extract_archive",
        |f: &mut FileHandle, dest: DirHandle, o: ExtractArchiveOptions| {
            extract_archive(f, &dest, &o)
        },
    );
}
