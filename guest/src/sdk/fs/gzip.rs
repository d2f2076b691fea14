//! Gzip, encoded and decoded in the guest: `compress_gzip`, `read_gzip_lines`, `gzip_info`,
//! `search_gzip` and `search_gzip_exists`. The host only serves bounded reads and writes.

use std::io::{self, Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use super::error::{IoErrorKind, from_wit, sdk_error};
use super::file::read_lines_select;
use super::handles::FileHandle;
use super::lines::{HostReader, Lines, ReadSource, Source, for_each_chunk};
use super::options::{CompressGzipOptions, ReadLinesOptions, SearchGzipOptions};
use super::text::{self, Select};
use super::values::{GzipInfo, Match, int};
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

fn gzip_search(pattern: &str, o: &SearchGzipOptions) -> Result<GzipSearch> {
    let ci = o.case_insensitive.unwrap_or(false);
    let max_results = text::non_negative(o.max_results, "SearchGzipOptions: max_results")?
        .map(|m| usize::try_from(m).unwrap_or(usize::MAX));
    Ok(GzipSearch {
        regex: text::regex(pattern, ci)?,
        exclude: o
            .exclude_pattern
            .as_deref()
            .map(|p| text::regex(p, ci))
            .transpose()?,
        max_results,
    })
}

pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<GzipInfo>("GzipInfo")
        .register_get(
            "compressed_size_bytes",
            |g: &mut GzipInfo| int(g.compressed),
        )
        .register_get("uncompressed_size_bytes", |g: &mut GzipInfo| {
            int(g.uncompressed)
        })
        .register_get("compression_ratio", |g: &mut GzipInfo| g.ratio())
        .register_fn("to_map", |g: &mut GzipInfo| {
            let mut map = Map::new();
            map.insert(
                "compressed_size_bytes".into(),
                Dynamic::from_int(int(g.compressed)),
            );
            map.insert(
                "uncompressed_size_bytes".into(),
                Dynamic::from_int(int(g.uncompressed)),
            );
            map.insert("compression_ratio".into(), Dynamic::from_float(g.ratio()));
            map
        })
        .register_fn(
            "compress_gzip",
            |f: &mut FileHandle, dest: FileHandle, o: CompressGzipOptions| -> Result<()> {
                compress_gzip(&f.0, &dest.0, o.level.unwrap_or(6)).map(drop)
            },
        )
        .register_fn(
            "read_gzip_lines",
            |f: &mut FileHandle, o: ReadLinesOptions| -> Result<Array> {
                Ok(text::strings(read_gzip_lines(
                    &f.0,
                    read_lines_select(&o)?,
                )?))
            },
        )
        .register_fn("gzip_info", |f: &mut FileHandle| -> Result<GzipInfo> {
            let (compressed, uncompressed) = gzip_sizes(&f.0)?;
            Ok(GzipInfo {
                compressed,
                uncompressed,
            })
        })
        .register_fn(
            "search_gzip",
            |f: &mut FileHandle, pattern: &str, o: SearchGzipOptions| -> Result<Array> {
                let s = gzip_search(pattern, &o)?;
                Ok(Match::array(search_gzip(&f.0, &s)?))
            },
        )
        .register_fn(
            "search_gzip_exists",
            |f: &mut FileHandle, pattern: &str, o: SearchGzipOptions| -> Result<bool> {
                let mut s = gzip_search(pattern, &o)?;
                s.max_results = Some(1);
                Ok(!search_gzip(&f.0, &s)?.is_empty())
            },
        );
}
