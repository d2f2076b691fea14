//! Reads of host files: whole files (`read_all`, `read_string`), a byte reader
//! (`std::io::Read`) and a line reader, all fetching bounded chunks through the `read` import. A script can therefore grep, count or
//! tail a file larger than the guest's memory cap: only one chunk and the lines a helper keeps
//! are in memory at a time.

use std::io;

use rhai::EvalAltResult;

use super::error::{IoErrorKind, from_wit, sdk_error};
use crate::bindings::wrex::sdk::fs as wit;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Bytes asked for per `read` call (one Cedar decision each).
pub const CHUNK: u32 = 1 << 20;

/// Calls `f` with each chunk of `file`, in order; returns the file's length.
pub fn for_each_chunk(file: &wit::File, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<u64> {
    let mut offset = 0u64;
    loop {
        let chunk = file.read(offset, CHUNK).map_err(from_wit)?;
        if chunk.is_empty() {
            return Ok(offset);
        }
        offset += chunk.len() as u64;
        f(&chunk)?;
    }
}

/// Reads a whole file through the host, one bounded chunk per call.
pub fn read_all(file: &wit::File) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let chunk = file.read(out.len() as u64, CHUNK).map_err(from_wit)?;
        let done = chunk.len() < CHUNK as usize;
        out.extend_from_slice(&chunk);
        if done {
            return Ok(out);
        }
    }
}

/// The first `max` bytes of `file`, and whether it holds more, read through the host in
/// bounded chunks; `map` turns a read error into the caller's (its capability's error kinds).
pub fn read_prefix(
    file: &wit::File,
    max: usize,
    map: impl Fn(wit::Error) -> Box<EvalAltResult>,
) -> Result<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    loop {
        // One byte past `max` says whether there is more.
        let want = max
            .saturating_add(1)
            .saturating_sub(out.len())
            .min(CHUNK as usize);
        let chunk = file.read(out.len() as u64, want as u32).map_err(&map)?;
        if chunk.is_empty() {
            return Ok((out, false));
        }
        out.extend_from_slice(&chunk);
        if out.len() > max {
            out.truncate(max);
            return Ok((out, true));
        }
    }
}

/// Reads a whole file as UTF-8 text.
pub fn read_string(file: &wit::File) -> Result<String> {
    let bytes = read_all(file)?;
    String::from_utf8(bytes).map_err(|e| {
        // Rex reads with `read_to_string`: the operating-system error kind, std's message.
        sdk_error(
            IoErrorKind::IoError,
            format!(
                "stream did not contain valid UTF-8: file `{}` ({e})",
                file.path()
            ),
        )
    })
}

/// `std::io::Read` over a host file, for decoders (gzip, tar). Host errors become
/// `io::Error`s carrying the SDK error, which [`HostReader::take_error`] gives back.
pub struct HostReader<'a> {
    file: &'a wit::File,
    offset: u64,
    error: Option<wit::Error>,
}

impl<'a> HostReader<'a> {
    pub fn new(file: &'a wit::File) -> Self {
        Self {
            file,
            offset: 0,
            error: None,
        }
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The SDK error behind a failed read, if a host call failed; otherwise `err` as an I/O
    /// error of the decoder (e.g. corrupt gzip data).
    pub fn error(&mut self, err: io::Error, what: &str) -> Box<EvalAltResult> {
        match self.error.take() {
            Some(e) => from_wit(e),
            None => sdk_error(
                IoErrorKind::IoError,
                format!("{what} `{}`: {err}", self.file.path()),
            ),
        }
    }
}

impl io::Read for HostReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = u32::try_from(buf.len()).unwrap_or(u32::MAX).min(CHUNK);
        match self.file.read(self.offset, want) {
            Ok(chunk) => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                self.offset += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.error = Some(e);
                Err(io::Error::other("host read failed"))
            }
        }
    }
}

/// Reads lines (without the `\n`, and without a `\r` before it) from any byte source.
pub struct Lines<R> {
    source: R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    /// 1-based number of the last line returned.
    line: u64,
    /// Bytes consumed by the lines returned so far.
    consumed: u64,
    name: String,
}

/// Where [`Lines`] gets bytes.
pub trait Source {
    /// Appends the next bytes to `buf`; returns `false` at the end.
    fn fill(&mut self, buf: &mut Vec<u8>) -> Result<bool>;
}

/// A host file from a byte offset.
pub struct FileSource<'a> {
    pub file: &'a wit::File,
    pub offset: u64,
}

impl Source for FileSource<'_> {
    fn fill(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        let chunk = self.file.read(self.offset, CHUNK).map_err(from_wit)?;
        self.offset += chunk.len() as u64;
        buf.extend_from_slice(&chunk);
        Ok(!chunk.is_empty())
    }
}

/// Any `io::Read` (a gzip decoder), whose errors are mapped by `map`.
pub struct ReadSource<R, F> {
    pub reader: R,
    pub map: F,
}

impl<R: io::Read, F: FnMut(&mut R, io::Error) -> Box<EvalAltResult>> Source for ReadSource<R, F> {
    fn fill(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        let start = buf.len();
        buf.resize(start + CHUNK as usize, 0);
        loop {
            match self.reader.read(&mut buf[start..]) {
                Ok(n) => {
                    buf.truncate(start + n);
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    buf.truncate(start);
                    return Err((self.map)(&mut self.reader, e));
                }
            }
        }
    }
}

impl<'a> Lines<FileSource<'a>> {
    /// Lines of a host file, from byte `offset` (the start of a line).
    pub fn of_file(file: &'a wit::File, offset: u64) -> Self {
        Self::new(FileSource { file, offset }, file.path())
    }
}

impl<S: Source> Lines<S> {
    pub fn new(source: S, name: String) -> Self {
        Self {
            source,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            line: 0,
            consumed: 0,
            name,
        }
    }

    /// Bytes consumed by the lines returned so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Where the next line is in the buffer (without `\n` and a `\r` before it), or `None`
    /// at the end. Valid until the next call.
    fn next_range(&mut self) -> Result<Option<(usize, usize)>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.pos..]) {
                let (start, mut end) = (self.pos, self.pos + i);
                self.consumed += (i + 1) as u64;
                self.pos = end + 1;
                if end > start && self.buf[end - 1] == b'\r' {
                    end -= 1;
                }
                self.line += 1;
                return Ok(Some((start, end)));
            }
            if self.eof {
                if self.pos < self.buf.len() {
                    let start = self.pos;
                    self.consumed += (self.buf.len() - start) as u64;
                    self.pos = self.buf.len();
                    self.line += 1;
                    return Ok(Some((start, self.buf.len())));
                }
                return Ok(None);
            }
            self.buf.drain(..self.pos);
            self.pos = 0;
            if !self.source.fill(&mut self.buf)? {
                self.eof = true;
            }
        }
    }

    /// The next line as UTF-8 text borrowed from the reader's buffer, or `None` at the end.
    pub fn next_str(&mut self) -> Result<Option<&str>> {
        let Some((start, end)) = self.next_range()? else {
            return Ok(None);
        };
        std::str::from_utf8(&self.buf[start..end])
            .map(Some)
            .map_err(|_| {
                sdk_error(
                    IoErrorKind::Utf8Error,
                    format!("line {} of `{}` is not valid UTF-8", self.line, self.name),
                )
            })
    }

    /// The next line as UTF-8 text, or `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<String>> {
        Ok(self.next_str()?.map(str::to_string))
    }
}
