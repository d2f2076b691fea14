//! Text processing behind `grep`, `tail`, `sed`, `wc`, the `awk_*` helpers, `seq`,
//! `replace_text`, and the handle methods `read_lines`, `search`, `counts` and
//! `extract_strings`. All of it is pure computation in the guest over lines streamed from the
//! host (see `lines.rs`), so it never needs more than a chunk and the kept lines in memory.

use std::collections::VecDeque;

use regex::Regex;
use rhai::{Array, Dynamic, EvalAltResult, Map};

use super::error::{IoErrorKind, is_access_denied, sdk_error};
use super::lines::{Lines, Source, for_each_chunk};
use crate::bindings::wrex::sdk::fs as wit;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Most numbers one `seq` call returns.
pub const MAX_SEQ: i64 = 10_000_000;
/// Compiled-size limit of a script's regular expression.
const REGEX_SIZE_LIMIT: usize = 4 << 20;

/// Whether a helper may fall back to `redacted_read` when `read` is denied (Rex does for
/// `cat`, `grep` and `search`; `tail` and the others are strict).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Strict,
    RedactedFallback,
}

/// A script count or depth that must not be negative (`what` names it in the error).
pub fn non_negative(value: Option<i64>, what: &str) -> Result<Option<u64>> {
    value
        .map(|v| {
            u64::try_from(v).map_err(|_| {
                sdk_error(
                    IoErrorKind::InvalidArguments,
                    format!("{what} must not be negative, got {v}"),
                )
            })
        })
        .transpose()
}

/// Compiles a script's regular expression.
pub fn regex(pattern: &str, ignore_case: bool) -> Result<Regex> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            sdk_error(
                IoErrorKind::InvalidArguments,
                format!("Invalid regex pattern `{pattern}`: {e}"),
            )
        })
}

/// Calls `f(line_number, line)` for each line of `file` until it returns `false`. With
/// [`Access::RedactedFallback`], a denied `read` falls back to the host's redacted read (and
/// when that is refused too, the `read` denial is reported).
pub fn for_each_line(
    file: &wit::File,
    access: Access,
    mut f: impl FnMut(u64, &str) -> Result<bool>,
) -> Result<()> {
    let mut lines = Lines::of_file(file, 0);
    let mut number = 0;
    loop {
        let line = match lines.next_str() {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(()),
            Err(e) if number == 0 && access == Access::RedactedFallback && is_access_denied(&e) => {
                let text = file.read_redacted().map_err(|_| e)?;
                for (i, line) in text.lines().enumerate() {
                    if !f(i as u64 + 1, line)? {
                        break;
                    }
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        number += 1;
        if !f(number, line)? {
            return Ok(());
        }
    }
}

/// The whole file as text, falling back to the redacted read as [`for_each_line`] does.
pub fn read_text(file: &wit::File, access: Access) -> Result<String> {
    match super::lines::read_string(file) {
        Err(e) if access == Access::RedactedFallback && is_access_denied(&e) => {
            file.read_redacted().map_err(|_| e)
        }
        other => other,
    }
}

/// `grep`'s options.
pub struct Grep {
    pub regex: Regex,
    pub invert: bool,
    pub max_count: Option<u64>,
}

/// Matching lines as `(line_number, line)`.
pub fn grep(file: &wit::File, access: Access, g: &Grep) -> Result<Vec<(u64, String)>> {
    let mut out = Vec::new();
    for_each_line(file, access, |n, line| {
        if g.regex.is_match(line) != g.invert {
            out.push((n, line.to_string()));
        }
        Ok(g.max_count.is_none_or(|m| (out.len() as u64) < m))
    })?;
    Ok(out)
}

/// Which lines `tail`/`read_lines` keep.
#[derive(Clone, Copy, Debug)]
pub enum Select {
    All,
    /// The last `n` lines.
    Last(u64),
    /// Lines `from..=to` (1-based; `to = None`: to the end).
    Range(u64, Option<u64>),
}

pub fn select_lines<S: Source>(mut lines: Lines<S>, select: Select) -> Result<Vec<String>> {
    match select {
        Select::All => {
            let mut out = Vec::new();
            while let Some(line) = lines.next_line()? {
                out.push(line);
            }
            Ok(out)
        }
        Select::Last(n) => {
            let mut ring = VecDeque::new();
            if n == 0 {
                return Ok(Vec::new());
            }
            while let Some(line) = lines.next_line()? {
                if ring.len() as u64 == n {
                    ring.pop_front();
                }
                ring.push_back(line);
            }
            Ok(ring.into())
        }
        Select::Range(from, to) => {
            let mut out = Vec::new();
            let mut number = 0;
            while let Some(line) = lines.next_line()? {
                number += 1;
                if to.is_some_and(|t| number > t) {
                    break;
                }
                if number >= from {
                    out.push(line);
                }
            }
            Ok(out)
        }
    }
}

/// Lines as a Rhai array.
pub fn strings(lines: Vec<String>) -> Array {
    lines.into_iter().map(Dynamic::from).collect()
}

/// Line, word and byte counts, as `wc` gives them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub lines: u64,
    pub words: u64,
    pub bytes: u64,
}

/// Counts a file streamed chunk by chunk, as Rex and `wc` do: lines are `\n` bytes (a last
/// line without one is not counted), words are runs of bytes other than ASCII whitespace and
/// vertical tab.
pub fn counts(file: &wit::File) -> Result<Counts> {
    let mut c = Counts::default();
    let mut in_word = false;
    c.bytes = for_each_chunk(file, |chunk| {
        for &b in chunk {
            if b == b'\n' {
                c.lines += 1;
            }
            let space = b.is_ascii_whitespace() || b == 0x0b;
            if !space && !in_word {
                c.words += 1;
            }
            in_word = !space;
        }
        Ok(())
    })?;
    Ok(c)
}

/// Runs of at least 4 printable ASCII characters (as `strings` prints them).
pub fn extract_strings(file: &wit::File) -> Result<Array> {
    const MIN: usize = 4;
    let mut out = Array::new();
    let mut current = String::new();
    for_each_chunk(file, |chunk| {
        for &b in chunk {
            if b == b'\t' || (0x20..0x7f).contains(&b) {
                current.push(char::from(b));
            } else {
                if current.len() >= MIN {
                    out.push(std::mem::take(&mut current).into());
                }
                current.clear();
            }
        }
        Ok(())
    })?;
    if current.len() >= MIN {
        out.push(current.into());
    }
    Ok(out)
}

/// Field `n` (1-based) of `line` split by `delim`; a single space splits on runs of
/// whitespace, as awk's default field separator does.
pub fn field<'a>(line: &'a str, n: usize, delim: &str) -> Option<&'a str> {
    if delim == " " {
        line.split_whitespace().nth(n - 1)
    } else {
        line.split(delim).nth(n - 1)
    }
}

/// Checks an awk field number and delimiter.
pub fn field_args(n: i64, delim: &str) -> Result<usize> {
    if delim.is_empty() {
        return Err(sdk_error(
            IoErrorKind::InvalidArguments,
            "the field delimiter must not be empty",
        ));
    }
    usize::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
        sdk_error(
            IoErrorKind::InvalidArguments,
            format!("field numbers start at 1, got {n}"),
        )
    })
}

pub fn awk_split(text: &str, delim: &str) -> Result<Array> {
    field_args(1, delim)?;
    Ok(if delim == " " {
        text.split_whitespace()
            .map(|s| Dynamic::from(s.to_string()))
            .collect()
    } else {
        text.split(delim)
            .map(|s| Dynamic::from(s.to_string()))
            .collect()
    })
}

/// `seq`: `start` to `end` inclusive by `step`.
pub fn seq(start: i64, end: i64, step: i64) -> Result<Array> {
    if step == 0 {
        return Err(sdk_error(
            IoErrorKind::InvalidArguments,
            "seq: the step must not be 0",
        ));
    }
    let span = i128::from(end) - i128::from(start);
    let count = if span == 0 || (span > 0) == (step > 0) {
        span / i128::from(step) + 1
    } else {
        0
    };
    if count > i128::from(MAX_SEQ) {
        return Err(sdk_error(
            IoErrorKind::InvalidArguments,
            format!("seq: {count} numbers requested; at most {MAX_SEQ} per call"),
        ));
    }
    let mut out = Array::with_capacity(count as usize);
    let mut v = i128::from(start);
    for _ in 0..count {
        out.push(Dynamic::from_int(v as i64));
        v += i128::from(step);
    }
    Ok(out)
}

/// `replace_text` and `sed`: literal or regex, first occurrence or all.
pub fn replace(text: &str, pattern: &str, with: &str, is_regex: bool, all: bool) -> Result<String> {
    if is_regex {
        let re = regex(pattern, false)?;
        Ok(if all {
            re.replace_all(text, with).into_owned()
        } else {
            re.replace(text, with).into_owned()
        })
    } else if pattern.is_empty() {
        Err(sdk_error(
            IoErrorKind::InvalidArguments,
            "the text to replace must not be empty",
        ))
    } else if all {
        Ok(text.replace(pattern, with))
    } else {
        Ok(text.replacen(pattern, with, 1))
    }
}

/// A `wc` result map with the selected keys.
pub fn wc_map(c: Counts, lines: bool, words: bool, bytes: bool) -> Map {
    let all = !(lines || words || bytes);
    let mut map = Map::new();
    let int = |v: u64| Dynamic::from_int(i64::try_from(v).unwrap_or(i64::MAX));
    if all || lines {
        map.insert("lines".into(), int(c.lines));
    }
    if all || words {
        map.insert("words".into(), int(c.words));
    }
    if all || bytes {
        map.insert("bytes".into(), int(c.bytes));
    }
    map
}
