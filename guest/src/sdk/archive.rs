//! Gzip and tar, decoded in the guest: `compress_gzip`, `read_gzip_lines`, `gzip_info`,
//! `search_gzip`, `search_gzip_exists` and `extract_archive`. The host only serves bounded
//! reads of the compressed file and authorizes every file the extraction creates.

use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use rhai::EvalAltResult;

use super::error::{IoErrorKind, from_wit, sdk_error};
use super::lines::{CHUNK, HostReader, Lines, ReadSource, Source, for_each_chunk};
use super::text::{self, Select};
use crate::bindings::wrex::sdk::fs as wit;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Lines of a gzip file, decoded as they are read.
pub fn gzip_lines(file: &wit::File) -> Lines<impl Source + '_> {
    let source = ReadSource {
        reader: MultiGzDecoder::new(HostReader::new(file)),
        map: |r: &mut MultiGzDecoder<HostReader<'_>>, e: io::Error| {
            r.get_mut().error(e, "cannot decode the gzip data of")
        },
    };
    Lines::new(source, file.path())
}

pub fn read_gzip_lines(file: &wit::File, select: Select) -> Result<Vec<String>> {
    text::select_lines(gzip_lines(file), select)
}

/// Compresses `src` into `dest` (replaced atomically). The compressed output is held in the
/// guest until it is written.
pub fn compress_gzip(src: &wit::File, dest: &wit::File, level: i64) -> Result<wit::File> {
    let level = u32::try_from(level)
        .ok()
        .filter(|l| *l <= 9)
        .ok_or_else(|| {
            sdk_error(
                IoErrorKind::InvalidArguments,
                format!("CompressGzipOptions: level must be 0 to 9, got {level}"),
            )
        })?;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level));
    for_each_chunk(src, |chunk| {
        encoder
            .write_all(chunk)
            .map_err(|e| sdk_error(IoErrorKind::IoError, e.to_string()))
    })?;
    let bytes = encoder
        .finish()
        .map_err(|e| sdk_error(IoErrorKind::IoError, e.to_string()))?;
    dest.write(&bytes).map_err(from_wit)
}

/// `(compressed bytes, uncompressed bytes)` of a gzip file, decoding it as a stream.
pub fn gzip_sizes(file: &wit::File) -> Result<(u64, u64)> {
    let mut decoder = MultiGzDecoder::new(HostReader::new(file));
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    loop {
        match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(decoder.get_mut().error(e, "cannot decode the gzip data of"));
            }
        }
    }
    Ok((decoder.get_ref().offset(), total))
}

/// `search_gzip`'s options.
pub struct GzipSearch {
    pub regex: regex::Regex,
    pub exclude: Option<regex::Regex>,
    pub max_results: Option<usize>,
}

/// Matching lines of a gzip file as `(line_number, line)`.
pub fn search_gzip(file: &wit::File, s: &GzipSearch) -> Result<Vec<(u64, String)>> {
    let mut lines = gzip_lines(file);
    let mut out = Vec::new();
    let mut number = 0u64;
    while s.max_results.is_none_or(|m| out.len() < m) {
        let Some(line) = lines.next_str()? else {
            break;
        };
        number += 1;
        if s.regex.is_match(line) && !s.exclude.as_ref().is_some_and(|x| x.is_match(line)) {
            out.push((number, line.to_string()));
        }
    }
    Ok(out)
}

// ---- tar ------------------------------------------------------------------------------------

const BLOCK: usize = 512;

/// What a tar entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

/// One tar entry's header, after GNU long names and pax paths are applied.
#[derive(Debug)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
    /// Bytes of data after the header (skipped for directories and symlinks).
    pub size: u64,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub link: String,
}

fn corrupt(message: impl Into<String>) -> Box<EvalAltResult> {
    sdk_error(
        IoErrorKind::InvalidArguments,
        format!("not a valid tar archive: {}", message.into()),
    )
}

fn octal(field: &[u8], what: &str) -> Result<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // GNU base-256: big-endian, high bit set on the first byte.
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(b)))
                .ok_or_else(|| corrupt(format!("{what} overflows")))?;
        }
        return Ok(v);
    }
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| char::from(*b))
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| corrupt(format!("bad {what} field `{text}`")))
}

fn c_string(field: &[u8]) -> Vec<u8> {
    field.iter().take_while(|b| **b != 0).copied().collect()
}

fn utf8(bytes: Vec<u8>, what: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| corrupt(format!("{what} is not valid UTF-8")))
}

/// Reads a tar stream entry by entry.
pub struct TarReader<R> {
    reader: R,
}

impl<R: Read> TarReader<R> {
    pub fn new(reader: R) -> Self {
        Self { reader }
    }

    /// Fills `buf` completely; `Ok(false)` at a clean end before the first byte.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.reader.read(&mut buf[filled..]) {
                Ok(0) if filled == 0 => return Ok(false),
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated")),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads `size` bytes of entry data (and its padding), handing them to `sink` in chunks.
    pub fn data(
        &mut self,
        size: u64,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> io::Result<std::result::Result<(), Box<EvalAltResult>>> {
        let mut left = size;
        let mut buf = vec![0u8; (CHUNK as usize).min(size.max(1) as usize)];
        while left > 0 {
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            if !self.fill(&mut buf[..n])? {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated"));
            }
            if let Err(e) = sink(&buf[..n]) {
                return Ok(Err(e));
            }
            left -= n as u64;
        }
        let pad = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
        let mut padding = [0u8; BLOCK];
        if pad > 0 && !self.fill(&mut padding[..pad])? {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated"));
        }
        Ok(Ok(()))
    }

    fn small_data(&mut self, size: u64) -> Result<Vec<u8>> {
        if size > 1 << 20 {
            return Err(corrupt("an extended header is larger than 1 MiB"));
        }
        let mut out = Vec::new();
        self.data(size, &mut |b| {
            out.extend_from_slice(b);
            Ok(())
        })
        .map_err(|e| corrupt(e.to_string()))??;
        Ok(out)
    }

    /// The next entry, or `None` at the end of the archive. Entry types other than files,
    /// directories and symlinks are refused, naming the entry.
    pub fn next(&mut self) -> Result<Option<Entry>> {
        let mut long_name: Option<String> = None;
        let mut long_link: Option<String> = None;
        loop {
            let mut h = [0u8; BLOCK];
            if !self.fill(&mut h).map_err(|e| corrupt(e.to_string()))? {
                return Ok(None);
            }
            if h.iter().all(|b| *b == 0) {
                return Ok(None);
            }
            let stored = octal(&h[148..156], "checksum")?;
            let sum: u64 = h
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    if (148..156).contains(&i) {
                        32
                    } else {
                        u64::from(*b)
                    }
                })
                .sum();
            if stored != sum {
                return Err(corrupt("a header checksum does not match"));
            }
            let size = octal(&h[124..136], "size")?;
            let flag = h[156];
            match flag {
                b'L' => {
                    long_name = Some(utf8(c_string(&self.small_data(size)?), "a long name")?);
                    continue;
                }
                b'K' => {
                    long_link = Some(utf8(c_string(&self.small_data(size)?), "a long link")?);
                    continue;
                }
                b'x' => {
                    let pax = self.small_data(size)?;
                    for (key, value) in pax_records(&pax)? {
                        match key.as_str() {
                            "path" => long_name = Some(value),
                            "linkpath" => long_link = Some(value),
                            _ => {}
                        }
                    }
                    continue;
                }
                b'g' => {
                    self.small_data(size)?;
                    continue;
                }
                _ => {}
            }
            let mut name = c_string(&h[0..100]);
            if &h[257..262] == b"ustar" {
                let prefix = c_string(&h[345..500]);
                if !prefix.is_empty() {
                    let mut full = prefix;
                    full.push(b'/');
                    full.extend_from_slice(&name);
                    name = full;
                }
            }
            let path = match long_name.take() {
                Some(p) => p,
                None => utf8(name, "an entry name")?,
            };
            let link = match long_link.take() {
                Some(l) => l,
                None => utf8(c_string(&h[157..257]), "a link target")?,
            };
            let kind = match flag {
                b'0' | 0 | b'7' => Kind::File,
                b'5' => Kind::Dir,
                b'2' => Kind::Symlink,
                b'1' => {
                    return Err(sdk_error(
                        IoErrorKind::UnsupportedOperationError,
                        format!(
                            "archive entry `{path}` is a hard link, which extract_archive refuses"
                        ),
                    ));
                }
                other => {
                    return Err(sdk_error(
                        IoErrorKind::UnsupportedOperationError,
                        format!(
                            "archive entry `{path}` has type `{}` (device, FIFO or unknown), which extract_archive refuses",
                            char::from(other)
                        ),
                    ));
                }
            };
            return Ok(Some(Entry {
                path,
                kind,
                size,
                mode: octal(&h[100..108], "mode")? as u32 & 0o7777,
                uid: octal(&h[108..116], "uid")?,
                gid: octal(&h[116..124], "gid")?,
                link,
            }));
        }
    }

    /// Skips an entry's data.
    pub fn skip(&mut self, size: u64) -> Result<()> {
        self.data(size, &mut |_| Ok(()))
            .map_err(|e| corrupt(e.to_string()))?
    }
}

fn pax_records(data: &[u8]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or_else(|| corrupt("bad pax record"))?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|l| *l > space && *l <= rest.len())
            .ok_or_else(|| corrupt("bad pax record length"))?;
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(eq) = record.iter().position(|b| *b == b'=') {
            out.push((
                utf8(record[..eq].to_vec(), "a pax key")?,
                utf8(record[eq + 1..].to_vec(), "a pax value")?,
            ));
        }
        rest = &rest[len..];
    }
    Ok(out)
}

/// The components of a tar entry's path, refusing anything that could leave the destination:
/// an absolute path, a `..` component, NUL or control characters, or an empty name.
pub fn safe_components(path: &str) -> Result<Vec<&str>> {
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

/// Checks a symlink entry: its target, resolved from the link's own directory, must stay
/// inside the destination (so a later entry can never be written through it elsewhere).
pub fn check_link(entry_parts: &[&str], target: &str, path: &str) -> Result<()> {
    let refuse = |why: &str| {
        sdk_error(
            IoErrorKind::InvalidPath,
            format!("archive symlink `{path}` -> `{target}` refused: {why}"),
        )
    };
    if target.is_empty() || target.starts_with('/') {
        return Err(refuse("its target is absolute or empty"));
    }
    let mut depth = entry_parts.len() as i64 - 1;
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Err(refuse("its target leaves the destination"));
                }
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

/// Opens the archive as a byte stream: gzip-compressed (by its magic bytes) or plain tar.
pub fn open_archive(file: &wit::File) -> Result<Box<dyn Read + '_>> {
    let head = file.read(0, 2).map_err(from_wit)?;
    let reader = HostReader::new(file);
    Ok(if head == [0x1f, 0x8b] {
        Box::new(MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    })
}
