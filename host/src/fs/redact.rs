//! `redacted_read`: the redaction dictionary (read through the same checks as any file) and
//! the redaction of a file's lines.

use std::os::fd::AsFd;

use rustix::fs::OFlags;

use super::cedar::FsResource;
use super::cedar::action::{Open, Read};
use super::error::{FsError, FsResult};
use super::path;
use super::sys::{open_at, read_chunk};
use super::view::FsView;
use super::walk::Walk;
use crate::bindings::wit_fs as wit;

/// Largest file a redacted read serves (the host holds it whole while redacting).
pub(crate) const MAX_REDACTED_BYTES: usize = 64 << 20;
/// Largest redaction dictionary read.
const MAX_DICTIONARY_BYTES: usize = 1 << 20;
/// What replaces a line that no redaction pattern keeps.
const REDACTED: &str = "[REDACTED]";

impl FsView<'_> {
    /// The redaction dictionary's patterns, read through the same checks as any file:
    /// `open` on its directory, `open` and `read` on the file.
    pub(super) fn redaction_patterns(&mut self) -> FsResult<Vec<regex::Regex>> {
        let dict = path::normalize_absolute(&self.ctx.redaction_dictionary)?;
        let (parent, name) = match dict.rsplit_once('/') {
            Some(("", n)) => ("/".to_string(), n.to_string()),
            Some((d, n)) => (d.to_string(), n.to_string()),
            None => {
                return Err(FsError::invalid_path(format!(
                    "bad dictionary path `{dict}`"
                )));
            }
        };
        let granted = self.authorize(Open, FsResource::Dir(parent.clone()))?;
        let walked = self.walk(&granted, &parent, Walk::default(), None)?;
        self.authorize(Open, FsResource::File(dict.clone()))?;
        let read = self.authorize(Read, FsResource::File(dict.clone()))?;
        let flags = OFlags::RDONLY | OFlags::NONBLOCK;
        let fd =
            open_at(&read, walked.fd.as_fd(), &name, flags).map_err(|e| FsError::io(e, &dict))?;
        let file = std::fs::File::from(fd);
        let bytes = read_chunk(&read, &file, 0, MAX_DICTIONARY_BYTES, &dict)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            FsError::guest(wit::Error::Io(format!(
                "redaction dictionary `{dict}` is not valid UTF-8"
            )))
        })?;
        parse_dictionary(&text, &dict)
    }
}

/// Keeps each line that some pattern matches; replaces every other line by `[REDACTED]`.
/// Checks the run's `clock` as it goes (up to 64 MiB of text against a dictionary of up to
/// 1 MiB of patterns is host work that can outlast the deadline).
pub(super) fn redact(
    text: &str,
    patterns: &[regex::Regex],
    clock: &crate::limits::Clock,
) -> FsResult<String> {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i % 256 == 0 {
            clock.check()?;
        }
        if i > 0 {
            out.push('\n');
        }
        if line.is_empty() || patterns.iter().any(|p| p.is_match(line)) {
            out.push_str(line);
        } else {
            out.push_str(REDACTED);
        }
    }
    Ok(out)
}

/// Parses a redaction dictionary: one regular expression per line; blank lines and lines
/// starting with `#` are ignored.
pub(super) fn parse_dictionary(text: &str, path: &str) -> FsResult<Vec<regex::Regex>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let re = regex::RegexBuilder::new(line)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| {
                FsError::guest(wit::Error::Io(format!(
                    "redaction dictionary `{path}` line {}: invalid pattern: {e}",
                    i + 1
                )))
            })?;
        out.push(re);
    }
    Ok(out)
}
