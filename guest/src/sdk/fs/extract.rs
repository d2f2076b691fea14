//! `extract_archive`: a tar (or tar.gz) archive read as a stream with the `tar` crate over the
//! host's read handle (GNU long names, pax headers and sparse entries come with it), with
//! wrex's validation on top. Every entry is checked first, so a tar-slip archive extracts
//! nothing; then each directory, file and symlink is created through the host, which
//! authorizes it.

use std::collections::{HashMap, VecDeque};
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
    Symlink,
}

/// One archive entry's header, after long names and pax records are applied.
struct Header {
    path: String,
    kind: Kind,
    mode: u32,
    uid: u64,
    gid: u64,
    link: String,
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

/// The entry's header; `None` for a pax global header (it describes no file). Entry types
/// other than files, directories and symlinks are refused, naming the entry.
fn header<R: Read>(entry: &tar::Entry<'_, R>) -> Result<Option<Header>> {
    let h = entry.header();
    let path = utf8(&entry.path_bytes(), "an entry name")?;
    let kind = match h.entry_type() {
        EntryType::XGlobalHeader => return Ok(None),
        EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => Kind::File,
        EntryType::Directory => Kind::Dir,
        EntryType::Symlink => Kind::Symlink,
        EntryType::Link => {
            return Err(sdk_error(
                IoErrorKind::UnsupportedOperationError,
                format!("archive entry `{path}` is a hard link, which extract_archive refuses"),
            ));
        }
        other => {
            return Err(sdk_error(
                IoErrorKind::UnsupportedOperationError,
                format!(
                    "archive entry `{path}` has type `{}` (device, FIFO or unknown), which extract_archive refuses",
                    char::from(other.as_byte())
                ),
            ));
        }
    };
    let link = match entry.link_name_bytes() {
        Some(l) => utf8(&l, "a link target")?,
        None => String::new(),
    };
    Ok(Some(Header {
        path,
        kind,
        mode: h.mode().map_err(corrupt)? & 0o7777,
        uid: h.uid().map_err(corrupt)?,
        gid: h.gid().map_err(corrupt)?,
        link,
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

/// Most symlinks followed while resolving one archive link (Linux's `MAXSYMLINKS`).
const MAX_LINK_HOPS: usize = 40;

/// Checks a symlink entry: its target, resolved from the link's own directory through every
/// symlink the archive creates (`links`, by entry path), must stay inside the destination, so
/// neither the link nor a later entry written through it can reach anything else. (`sub/b ->
/// ..` then `leak -> sub/b/../../secret` passes a check of the text alone.)
fn check_link(
    links: &HashMap<Vec<String>, String>,
    entry_parts: &[&str],
    target: &str,
    path: &str,
) -> Result<()> {
    let refuse = |why: &str| {
        sdk_error(
            IoErrorKind::InvalidPath,
            format!("archive symlink `{path}` -> `{target}` refused: {why}"),
        )
    };
    if target.is_empty() || target.starts_with('/') {
        return Err(refuse("its target is absolute or empty"));
    }
    let mut here: Vec<String> = entry_parts[..entry_parts.len() - 1]
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut queue: VecDeque<String> = target.split('/').map(str::to_string).collect();
    let mut hops = 0;
    while let Some(c) = queue.pop_front() {
        match c.as_str() {
            "" | "." => {}
            ".." => {
                if here.pop().is_none() {
                    return Err(refuse("its target leaves the destination"));
                }
            }
            _ => {
                here.push(c);
                if let Some(next) = links.get(&here) {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(refuse("too many symlinks in its target"));
                    }
                    if next.is_empty() || next.starts_with('/') {
                        return Err(refuse(
                            "its target goes through a symlink that leaves the destination",
                        ));
                    }
                    here.pop();
                    for part in next.split('/').rev() {
                        queue.push_front(part.to_string());
                    }
                }
            }
        }
    }
    Ok(())
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

fn extract_archive(f: &FileHandle, dest: &DirHandle, o: &ExtractArchiveOptions) -> Result<()> {
    if o.preserve_timestamps.unwrap_or(false) {
        return Err(sdk_error(
            IoErrorKind::UnsupportedOperationError,
            "ExtractArchiveOptions: preserve_timestamps is not supported by wrex",
        ));
    }
    let perms = o.preserve_permissions.unwrap_or(false);
    let owner = o.preserve_ownership.unwrap_or(false);
    // First pass: every entry is checked before anything is created; symlinks once all of
    // them are known, since a link can go through one that comes later in the archive.
    let mut links: HashMap<Vec<String>, String> = HashMap::new();
    let mut in_order = Vec::new();
    for_each_entry(&f.0, &mut |_, h| {
        let parts = safe_components(&h.path)?;
        if h.kind == Kind::Symlink {
            let parts: Vec<String> = parts.iter().map(|c| c.to_string()).collect();
            in_order.push(parts.clone());
            links.insert(parts, h.link);
        }
        Ok(())
    })?;
    for parts in &in_order {
        let target = links.get(parts).map_or("", String::as_str);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        check_link(&links, &parts, target, &parts.join("/"))?;
    }
    let root = dest.0.path();
    for_each_entry(&f.0, &mut |entry, h| {
        // As Rex: an entry the policy denies is skipped (with a warning in the script log)
        // and the rest extracted; any other error stops the extraction.
        match extract_entry(&root, entry, &h, perms, owner) {
            Err(e) if is_access_denied(&e) => {
                skipped(&h.path, &e);
                Ok(())
            }
            other => other,
        }
    })
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
/// file leaves nothing behind. Denied permission or ownership changes keep the entry.
fn extract_entry(
    root: &str,
    entry: &mut tar::Entry<'_, Stream<'_>>,
    h: &Header,
    perms: bool,
    owner: bool,
) -> Result<()> {
    let parts = safe_components(&h.path)?;
    let Some((name, dirs)) = parts.split_last() else {
        return Ok(());
    };
    let parent = open_dir(&join_all(root, dirs), !dirs.is_empty(), true, false)?;
    let (uid, gid) = (h.uid.to_string(), h.gid.to_string());
    // Metadata changes are best-effort, as Rex: a denial is logged and the entry kept.
    let keep = |result: std::result::Result<(), wit::Error>| match result.map_err(from_wit) {
        Err(e) if is_access_denied(&e) => {
            skipped(&h.path, &e);
            Ok(())
        }
        other => other,
    };
    match h.kind {
        Kind::Dir => {
            let d = open_dir(&join_all(root, &parts), true, true, false)?;
            if perms {
                // Never a set-id or sticky bit from an archive (the host refuses them).
                keep(d.set_permissions(h.mode & 0o777, false))?;
            }
            if owner {
                keep(d.set_ownership(Some(&uid), Some(&gid), false))?;
            }
        }
        Kind::Symlink => {
            parent
                .create_symlink(&h.link, name, false)
                .map_err(from_wit)?;
            if owner {
                let link = parent.open_symlink(name).map_err(from_wit)?;
                keep(link.set_ownership(Some(&uid), Some(&gid)))?;
            }
        }
        Kind::File => {
            let mode = perms.then_some(h.mode & 0o777);
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
            if perms {
                keep(file.set_permissions(h.mode & 0o777))?;
            }
            if owner {
                keep(file.set_ownership(Some(&uid), Some(&gid)))?;
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
