//! `fh.elf_info()`: Rex's `ElfInfo` of an executable or a core dump, parsed here, inside the
//! sandbox (a hostile file is parsed where it can do no harm), from reads the host authorizes
//! (`read` on the file). Only the parts needed are read: the header, the program headers, the
//! `PT_INTERP` segment, and for a core dump its `NT_AUXV` note and the two strings it points
//! at (`AT_EXECFN`, `AT_PLATFORM`), found through the `PT_LOAD` segments.

use rhai::{Dynamic, Engine, EvalAltResult, Map};

use super::error::{IoErrorKind, from_wit, sdk_error};
use super::handles::FileHandle;
use crate::bindings::wrex::sdk::fs as wit;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Rex's `ElfInfo`.
#[derive(Clone, Debug, PartialEq)]
pub struct ElfInfo {
    pub execfn: Option<String>,
    pub platform: Option<String>,
    pub interpreter: Option<String>,
    pub is_64bit: bool,
}

/// Most program headers read, and most bytes of a note segment or a string.
const MAX_PHDRS: u64 = 4096;
const MAX_SEGMENT: u64 = 1 << 20;
const MAX_STRING: u64 = 4096;

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const NT_AUXV: u32 = 6;
const AT_PLATFORM: u64 = 15;
const AT_EXECFN: u64 = 31;

fn bad(message: impl Into<String>) -> Box<EvalAltResult> {
    sdk_error(
        IoErrorKind::ValidationError,
        format!("Failed to parse ELF file: {}", message.into()),
    )
}

/// Reads exactly `len` bytes at `offset` (less only at end of file: an error).
fn read_at(file: &wit::File, offset: u64, len: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len as usize);
    while (out.len() as u64) < len {
        let want = (len - out.len() as u64).min(u64::from(u32::MAX)) as u32;
        let chunk = file
            .read(offset + out.len() as u64, want)
            .map_err(from_wit)?;
        if chunk.is_empty() {
            return Err(bad(format!("the file ends before byte {}", offset + len)));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Integer reading by the file's class and byte order.
#[derive(Clone, Copy)]
struct Layout {
    is_64: bool,
    little: bool,
}

impl Layout {
    fn u16(self, b: &[u8], at: usize) -> Result<u16> {
        let s: [u8; 2] = b
            .get(at..at + 2)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("truncated"))?;
        Ok(if self.little {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        })
    }

    fn u32(self, b: &[u8], at: usize) -> Result<u32> {
        let s: [u8; 4] = b
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("truncated"))?;
        Ok(if self.little {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
    }

    fn u64(self, b: &[u8], at: usize) -> Result<u64> {
        let s: [u8; 8] = b
            .get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("truncated"))?;
        Ok(if self.little {
            u64::from_le_bytes(s)
        } else {
            u64::from_be_bytes(s)
        })
    }

    /// A word: 8 bytes in a 64-bit file, 4 in a 32-bit one.
    fn word(self, b: &[u8], at: usize) -> Result<u64> {
        if self.is_64 {
            self.u64(b, at)
        } else {
            self.u32(b, at).map(u64::from)
        }
    }
}

/// One program header: type, file offset, virtual address, size in the file.
struct Segment {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

fn segments(file: &wit::File, l: Layout, header: &[u8]) -> Result<Vec<Segment>> {
    let (phoff, phentsize, phnum) = if l.is_64 {
        (
            l.u64(header, 0x20)?,
            l.u16(header, 0x36)?,
            l.u16(header, 0x38)?,
        )
    } else {
        (
            u64::from(l.u32(header, 0x1c)?),
            l.u16(header, 0x2a)?,
            l.u16(header, 0x2c)?,
        )
    };
    let (phentsize, phnum) = (u64::from(phentsize), u64::from(phnum));
    let min = if l.is_64 { 56 } else { 32 };
    if phnum == 0 {
        return Ok(Vec::new());
    }
    // A program header is 56 (64-bit) or 32 bytes; a larger entry size only makes a hostile
    // file ask for a huge read.
    if phentsize < min || phentsize > 256 || phnum > MAX_PHDRS {
        return Err(bad("malformed program header table"));
    }
    let table = read_at(file, phoff, phentsize * phnum)?;
    (0..phnum as usize)
        .map(|i| {
            let at = i * phentsize as usize;
            Ok(if l.is_64 {
                Segment {
                    kind: l.u32(&table, at)?,
                    offset: l.u64(&table, at + 8)?,
                    vaddr: l.u64(&table, at + 16)?,
                    filesz: l.u64(&table, at + 32)?,
                }
            } else {
                Segment {
                    kind: l.u32(&table, at)?,
                    offset: u64::from(l.u32(&table, at + 4)?),
                    vaddr: u64::from(l.u32(&table, at + 8)?),
                    filesz: u64::from(l.u32(&table, at + 16)?),
                }
            })
        })
        .collect()
}

/// A NUL-terminated string at `offset` (at most [`MAX_STRING`] bytes).
fn c_string(file: &wit::File, offset: u64) -> Result<Option<String>> {
    let bytes = file.read(offset, MAX_STRING as u32).map_err(from_wit)?;
    Ok(bytes
        .iter()
        .position(|b| *b == 0)
        .map(|end| String::from_utf8_lossy(&bytes[..end]).into_owned()))
}

/// The string a core dump's auxiliary vector points at, through the `PT_LOAD` segment that
/// holds the address.
fn string_at(file: &wit::File, loads: &[&Segment], addr: u64) -> Result<Option<String>> {
    match loads
        .iter()
        .find(|s| addr >= s.vaddr && addr - s.vaddr < s.filesz)
    {
        Some(s) => c_string(file, s.offset + (addr - s.vaddr)),
        None => Ok(None),
    }
}

/// `AT_EXECFN` and `AT_PLATFORM` from a core dump's `NT_AUXV` note.
fn auxv(file: &wit::File, l: Layout, segs: &[Segment]) -> Result<(Option<String>, Option<String>)> {
    let loads: Vec<&Segment> = segs.iter().filter(|s| s.kind == PT_LOAD).collect();
    for note_seg in segs.iter().filter(|s| s.kind == PT_NOTE) {
        let data = read_at(file, note_seg.offset, note_seg.filesz.min(MAX_SEGMENT))?;
        let mut at = 0usize;
        while at + 12 <= data.len() {
            let namesz = l.u32(&data, at)? as usize;
            let descsz = l.u32(&data, at + 4)? as usize;
            let kind = l.u32(&data, at + 8)?;
            let desc_at = at + 12 + namesz.next_multiple_of(4);
            let next = desc_at.saturating_add(descsz.next_multiple_of(4));
            let Some(desc) = data.get(desc_at..desc_at.saturating_add(descsz)) else {
                break;
            };
            if kind == NT_AUXV {
                let size = if l.is_64 { 16 } else { 8 };
                let half = size / 2;
                let (mut execfn, mut platform) = (None, None);
                for entry in desc.chunks_exact(size) {
                    let (key, value) = (l.word(entry, 0)?, l.word(entry, half)?);
                    match key {
                        AT_EXECFN => execfn = string_at(file, &loads, value)?,
                        AT_PLATFORM => platform = string_at(file, &loads, value)?,
                        _ => {}
                    }
                }
                return Ok((execfn, platform));
            }
            at = next;
        }
    }
    Ok((None, None))
}

/// Parses the ELF file behind `file`.
pub fn elf_info(file: &wit::File) -> Result<ElfInfo> {
    let ident = file.read(0, 16).map_err(from_wit)?;
    if ident.len() < 16 || ident[..4] != *b"\x7fELF" {
        return Err(bad("not an ELF file (no ELF header)"));
    }
    let is_64 = match ident[4] {
        1 => false,
        2 => true,
        c => return Err(bad(format!("unknown ELF class {c}"))),
    };
    let little = match ident[5] {
        1 => true,
        2 => false,
        d => return Err(bad(format!("unknown ELF data encoding {d}"))),
    };
    let l = Layout { is_64, little };
    let header = read_at(file, 0, if is_64 { 64 } else { 52 })?;
    let segs = segments(file, l, &header)?;
    let interpreter = match segs.iter().find(|s| s.kind == PT_INTERP) {
        Some(s) => {
            let bytes = read_at(file, s.offset, s.filesz.min(MAX_STRING))?;
            let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
            Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
        }
        None => None,
    };
    let (execfn, platform) = auxv(file, l, &segs)?;
    Ok(ElfInfo {
        execfn,
        platform,
        interpreter,
        is_64bit: is_64,
    })
}

fn opt(v: &Option<String>) -> Dynamic {
    v.clone().map_or(Dynamic::UNIT, Dynamic::from)
}

pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<ElfInfo>("ElfInfo")
        .register_get("execfn", |e: &mut ElfInfo| opt(&e.execfn))
        .register_get("platform", |e: &mut ElfInfo| opt(&e.platform))
        .register_get("interpreter", |e: &mut ElfInfo| opt(&e.interpreter))
        .register_get("is_64bit", |e: &mut ElfInfo| e.is_64bit)
        .register_fn("to_map", |e: &mut ElfInfo| {
            let mut m = Map::new();
            m.insert("execfn".into(), opt(&e.execfn));
            m.insert("platform".into(), opt(&e.platform));
            m.insert("interpreter".into(), opt(&e.interpreter));
            m.insert("is_64bit".into(), e.is_64bit.into());
            m
        })
        .register_fn("elf_info", |f: &mut FileHandle| elf_info(&f.0));
}
