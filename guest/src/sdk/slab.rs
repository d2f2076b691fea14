//! Rex's `SystemInfo().slab_info()`: the kernel's slab caches, as `slabtop` shows them, from
//! `/proc/slabinfo` (format 2.1) read through the file-system capability with Rex's checks
//! (`open` on `Dir(/proc)`; `open` and `read` on `File(/proc/slabinfo)`) and parsed here, in
//! the sandbox. The kernel lets only root read the file. Errors are `SysteminfoErrorKind`.

use std::fmt;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use super::sysinfo::{SystemInfo, SysteminfoErrorKind};
use crate::bindings::wrex::sdk::fs as wit;
use crate::bindings::wrex::sdk::sysinfo as sys;
use crate::sdk::error;
use crate::sdk::fs::READ_ONLY;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Most caches read (a kernel has a few hundred).
const MAX_CACHES: usize = 65_536;

/// Rex's `SlabEntry`: one cache.
#[derive(Clone, Debug)]
pub struct SlabEntry {
    name: String,
    objs: u64,
    active: u64,
    obj_size_bytes: u64,
    slabs: u64,
    obj_per_slab: u64,
    pages_per_slab: u64,
    page_size: u64,
}

/// Rex's `SlabSummary`: the totals `slabtop` prints first.
#[derive(Clone, Debug, Default)]
pub struct SlabSummary {
    active_objects: u64,
    total_objects: u64,
    active_slabs: u64,
    total_slabs: u64,
    active_caches: u64,
    total_caches: u64,
    active_size_kb: f64,
    total_size_kb: f64,
    min_obj_size_kb: f64,
    avg_obj_size_kb: f64,
    max_obj_size_kb: f64,
}

/// Rex's `SlabInfo`: the caches (most objects first) and the summary.
#[derive(Clone, Debug)]
pub struct SlabInfo {
    slabs: Vec<SlabEntry>,
    summary: SlabSummary,
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole * 100.0
    } else {
        0.0
    }
}

impl SlabEntry {
    fn use_percent(&self) -> i64 {
        int((self.active * 100).checked_div(self.objs).unwrap_or(0))
    }

    fn obj_size_kb(&self) -> f64 {
        self.obj_size_bytes as f64 / 1024.0
    }

    fn cache_size_kb(&self) -> i64 {
        int(self.slabs * self.pages_per_slab * (self.page_size / 1024))
    }

    fn active_size_kb(&self) -> f64 {
        if self.objs > 0 {
            self.cache_size_kb() as f64 * (self.active as f64 / self.objs as f64)
        } else {
            0.0
        }
    }

    fn to_map(&self) -> Map {
        let mut m = Map::new();
        m.insert("name".into(), self.name.clone().into());
        for (k, v) in [
            ("objs", self.objs),
            ("active", self.active),
            ("obj_size_bytes", self.obj_size_bytes),
            ("slabs", self.slabs),
            ("obj_per_slab", self.obj_per_slab),
            ("pages_per_slab", self.pages_per_slab),
        ] {
            m.insert(k.into(), Dynamic::from(int(v)));
        }
        m.insert("use_percent".into(), Dynamic::from(self.use_percent()));
        m.insert("obj_size_kb".into(), Dynamic::from(self.obj_size_kb()));
        m.insert("cache_size_kb".into(), Dynamic::from(self.cache_size_kb()));
        m.insert(
            "active_size_kb".into(),
            Dynamic::from(self.active_size_kb()),
        );
        m
    }
}

impl SlabSummary {
    fn fields(&self) -> [(&'static str, Dynamic); 15] {
        let s = self;
        [
            ("active_objects", Dynamic::from(int(s.active_objects))),
            ("total_objects", Dynamic::from(int(s.total_objects))),
            (
                "objects_usage_percent",
                Dynamic::from(percent(s.active_objects as f64, s.total_objects as f64)),
            ),
            ("active_slabs", Dynamic::from(int(s.active_slabs))),
            ("total_slabs", Dynamic::from(int(s.total_slabs))),
            (
                "slabs_usage_percent",
                Dynamic::from(percent(s.active_slabs as f64, s.total_slabs as f64)),
            ),
            ("active_caches", Dynamic::from(int(s.active_caches))),
            ("total_caches", Dynamic::from(int(s.total_caches))),
            (
                "caches_usage_percent",
                Dynamic::from(percent(s.active_caches as f64, s.total_caches as f64)),
            ),
            ("active_size_kb", Dynamic::from(s.active_size_kb)),
            ("total_size_kb", Dynamic::from(s.total_size_kb)),
            (
                "size_usage_percent",
                Dynamic::from(percent(s.active_size_kb, s.total_size_kb)),
            ),
            ("min_obj_size_kb", Dynamic::from(s.min_obj_size_kb)),
            ("avg_obj_size_kb", Dynamic::from(s.avg_obj_size_kb)),
            ("max_obj_size_kb", Dynamic::from(s.max_obj_size_kb)),
        ]
    }
}

impl fmt::Display for SlabSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self;
        write!(
            f,
            "Active / Total Objects (% used)    : {} / {} ({:.1}%)\n\
             Active / Total Slabs (% used)      : {} / {} ({:.1}%)\n\
             Active / Total Caches (% used)     : {} / {} ({:.1}%)\n\
             Active / Total Size (% used)       : {:.2}K / {:.0}K ({:.1}%)\n\
             Minimum / Average / Maximum Object : {:.2}K / {:.2}K / {:.2}K",
            s.active_objects,
            s.total_objects,
            percent(s.active_objects as f64, s.total_objects as f64),
            s.active_slabs,
            s.total_slabs,
            percent(s.active_slabs as f64, s.total_slabs as f64),
            s.active_caches,
            s.total_caches,
            percent(s.active_caches as f64, s.total_caches as f64),
            s.active_size_kb,
            s.total_size_kb,
            percent(s.active_size_kb, s.total_size_kb),
            s.min_obj_size_kb,
            s.avg_obj_size_kb,
            s.max_obj_size_kb
        )
    }
}

fn parse_error(message: impl Into<String>) -> Box<EvalAltResult> {
    error::sdk_error(SysteminfoErrorKind::Other, message)
}

/// Parses `/proc/slabinfo` (format 2.1): a version line, a header naming the columns
/// (`<active_objs>` …), then one line per cache.
pub fn parse(text: &str, page_size: u64) -> Result<SlabInfo> {
    let mut lines = text.lines();
    let version = lines.next().unwrap_or_default();
    if version.trim() != "slabinfo - version: 2.1" {
        return Err(parse_error(format!(
            "/proc/slabinfo: unsupported format {version:?} (version 2.1 is read)"
        )));
    }
    let header = lines.next().unwrap_or_default().replace(['#', ':'], " ");
    let columns: Vec<String> = header
        .split_whitespace()
        .filter_map(|c| c.strip_prefix('<').and_then(|c| c.strip_suffix('>')))
        .map(str::to_string)
        .collect();
    let column = |name: &str| {
        columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| parse_error(format!("/proc/slabinfo has no {name} column")))
    };
    let [
        active_objs,
        num_objs,
        objsize,
        objperslab,
        pagesperslab,
        active_slabs,
        num_slabs,
    ] = [
        "active_objs",
        "num_objs",
        "objsize",
        "objperslab",
        "pagesperslab",
        "active_slabs",
        "num_slabs",
    ]
    .map(column);
    let (active_objs, num_objs, objsize, objperslab, pagesperslab, active_slabs, num_slabs) = (
        active_objs?,
        num_objs?,
        objsize?,
        objperslab?,
        pagesperslab?,
        active_slabs?,
        num_slabs?,
    );
    let mut slabs = Vec::new();
    let mut summary = SlabSummary::default();
    let (mut min, mut max, mut total_bytes, mut active_bytes) = (u64::MAX, 0u64, 0u64, 0u64);
    for line in lines.take(MAX_CACHES) {
        let line = line.replace(':', " ");
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else { continue };
        let numbers: Vec<u64> = words.filter_map(|w| w.parse().ok()).collect();
        let get = |i: usize| {
            numbers
                .get(i)
                .copied()
                .ok_or_else(|| parse_error(format!("/proc/slabinfo: {name} has too few fields")))
        };
        let entry = SlabEntry {
            name: name.to_string(),
            objs: get(num_objs)?,
            active: get(active_objs)?,
            obj_size_bytes: get(objsize)?,
            slabs: get(active_slabs)?,
            obj_per_slab: get(objperslab)?,
            pages_per_slab: get(pagesperslab)?,
            page_size,
        };
        summary.active_objects += entry.active;
        summary.total_objects += entry.objs;
        summary.active_slabs += entry.slabs;
        summary.total_slabs += get(num_slabs)?;
        summary.total_caches += 1;
        summary.active_caches += u64::from(entry.active > 0);
        min = min.min(entry.obj_size_bytes);
        max = max.max(entry.obj_size_bytes);
        total_bytes += entry.objs * entry.obj_size_bytes;
        active_bytes += entry.active * entry.obj_size_bytes;
        slabs.push(entry);
    }
    if slabs.is_empty() {
        return Err(parse_error("/proc/slabinfo lists no cache"));
    }
    slabs.sort_by_key(|e| std::cmp::Reverse(e.objs));
    summary.active_size_kb = active_bytes as f64 / 1024.0;
    summary.total_size_kb = total_bytes as f64 / 1024.0;
    summary.min_obj_size_kb = min as f64 / 1024.0;
    summary.max_obj_size_kb = max as f64 / 1024.0;
    summary.avg_obj_size_kb = if summary.total_objects > 0 {
        total_bytes as f64 / summary.total_objects as f64 / 1024.0
    } else {
        0.0
    };
    Ok(SlabInfo { slabs, summary })
}

fn from_fs(err: wit::Error) -> Box<EvalAltResult> {
    match err {
        wit::Error::AccessDenied(d) => error::denied(SysteminfoErrorKind::PermissionDenied, d),
        other => error::sdk_error(
            SysteminfoErrorKind::PrivilegeError,
            crate::sdk::fs::from_wit(other).to_string(),
        ),
    }
}

fn slab_info() -> Result<SlabInfo> {
    let proc = crate::sdk::fs::open_dir_wit("/proc", false, false, false).map_err(from_fs)?;
    let file = proc.open_file("slabinfo", READ_ONLY).map_err(from_fs)?;
    let (bytes, _) = crate::sdk::fs::read_prefix(&file, 16 << 20, from_fs)?;
    parse(&String::from_utf8_lossy(&bytes), sys::page_size())
}

pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<SlabEntry>("SlabEntry")
        .register_get("name", |e: &mut SlabEntry| e.name.clone())
        .register_get("objs", |e: &mut SlabEntry| int(e.objs))
        .register_get("active", |e: &mut SlabEntry| int(e.active))
        .register_get("obj_size_bytes", |e: &mut SlabEntry| int(e.obj_size_bytes))
        .register_get("slabs", |e: &mut SlabEntry| int(e.slabs))
        .register_get("obj_per_slab", |e: &mut SlabEntry| int(e.obj_per_slab))
        .register_get("pages_per_slab", |e: &mut SlabEntry| int(e.pages_per_slab))
        .register_fn("use_percent", |e: &mut SlabEntry| e.use_percent())
        .register_fn("obj_size_kb", |e: &mut SlabEntry| e.obj_size_kb())
        .register_fn("cache_size_kb", |e: &mut SlabEntry| e.cache_size_kb())
        .register_fn("active_size_kb", |e: &mut SlabEntry| e.active_size_kb())
        .register_fn("to_map", |e: &mut SlabEntry| e.to_map());
    engine.register_type_with_name::<SlabSummary>("SlabSummary");
    for (i, (name, _)) in SlabSummary::default().fields().into_iter().enumerate() {
        engine.register_get(name, move |s: &mut SlabSummary| s.fields()[i].1.clone());
    }
    engine
        .register_fn("to_string", |s: &mut SlabSummary| s.to_string())
        .register_fn("to_map", |s: &mut SlabSummary| {
            s.fields()
                .into_iter()
                .map(|(k, v)| (k.into(), v))
                .collect::<Map>()
        });
    engine
        .register_type_with_name::<SlabInfo>("SlabInfo")
        .register_get("slabs", |s: &mut SlabInfo| {
            s.slabs
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect::<Array>()
        })
        .register_get("summary", |s: &mut SlabInfo| s.summary.clone())
        .register_fn("slab_info", |_: &mut SystemInfo| slab_info());
}
