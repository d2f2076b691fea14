//! The disk SDK (`wrex:sdk/disk`): Rex's `Filesystems`/`df` with `FilesystemOptions`,
//! `format_bytes` with `Unit`, and `unmount` with `UnmountOptions`; errors are Rex's
//! `DiskinfoErrorKind`.

use std::fmt;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use crate::bindings::wrex::sdk::disk as wit;
use crate::sdk::enums::register_enum_named;
use crate::sdk::error::{self, error_kinds};
use crate::sdk::options::options;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

error_kinds!(
    /// Rex's `DiskinfoErrorKind`.
    DiskinfoErrorKind, denial PermissionDenied,
    [InvalidPath, PermissionDenied, AuthorizationError, SystemError, TryFromIntError, IoError, Other]
);

fn from_wit(err: wit::Error) -> Box<EvalAltResult> {
    let (kind, message) = match err {
        wit::Error::AccessDenied(d) => {
            return error::denied(DiskinfoErrorKind::PermissionDenied, d);
        }
        wit::Error::InvalidArgument(m) => (DiskinfoErrorKind::InvalidPath, m),
        wit::Error::Io(m) => (DiskinfoErrorKind::IoError, m),
    };
    error::sdk_error(kind, message)
}

options!(FilesystemOptions / FilesystemOptionsBuilder {
    targets: Array,
    local: bool,
} required []);

options!(UnmountOptions / UnmountOptionsBuilder {
    path: String,
} required [path]);

/// Rex's `Filesystems`: the options a listing uses.
#[derive(Clone, Debug)]
pub struct Filesystems(FilesystemOptions);

/// Rex's `Filesystem`.
#[derive(Clone, Debug)]
pub struct Filesystem(wit::Filesystem);

/// Rex's `Unit` of `format_bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Kilobytes,
    Megabytes,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

impl Filesystem {
    /// As Rex: used is the size less what is available to unprivileged users.
    fn used(&self) -> u64 {
        self.0.total.saturating_sub(self.0.available)
    }

    fn iused(&self) -> u64 {
        self.0.inodes.saturating_sub(self.0.inodes_free)
    }

    fn to_map(&self) -> Map {
        let f = &self.0;
        let mut m = Map::new();
        m.insert("fs_device".into(), f.device.clone().into());
        m.insert("fs_kind".into(), f.kind.clone().into());
        m.insert("mounted_on".into(), f.mount_point.clone().into());
        m.insert(
            "mount_options".into(),
            Dynamic::from_array(f.options.iter().cloned().map(Dynamic::from).collect()),
        );
        for (k, v) in [
            ("size", f.total),
            ("block_used", self.used()),
            ("block_available", f.available),
            ("kb_blocks", f.total / 1024),
            ("mb_blocks", f.total / (1024 * 1024)),
            ("inodes", f.inodes),
            ("iused", self.iused()),
            ("ifree", f.inodes_free),
        ] {
            m.insert(k.into(), Dynamic::from(int(v)));
        }
        m.insert(
            "block_use_percent".into(),
            Dynamic::from(percent(self.used(), f.total)),
        );
        m.insert(
            "iuse_percent".into(),
            Dynamic::from(percent(self.iused(), f.inodes)),
        );
        m
    }
}

fn filesystems(options: &FilesystemOptions) -> Result<Array> {
    let targets = options
        .targets
        .iter()
        .flatten()
        .map(|t| {
            t.clone().into_string().map_err(|ty| {
                error::sdk_error(
                    DiskinfoErrorKind::InvalidPath,
                    format!("FilesystemOptions: a target must be a path string, got a {ty}"),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let list = wit::filesystems(&targets, options.local.unwrap_or(false)).map_err(from_wit)?;
    Ok(list
        .into_iter()
        .map(|f| Dynamic::from(Filesystem(f)))
        .collect())
}

/// Rex's `IoStatSnapshot`: `cpu_stats` (a map of percentages) and `device_stats` (a map per
/// device), averaged since boot as `iostat`'s first report.
#[derive(Clone, Debug)]
pub struct IoStatSnapshot {
    cpu_stats: Map,
    device_stats: Array,
}

impl IoStatSnapshot {
    fn to_map(&self) -> Map {
        let mut m = Map::new();
        m.insert(
            "cpu_stats".into(),
            Dynamic::from_map(self.cpu_stats.clone()),
        );
        m.insert(
            "device_stats".into(),
            Dynamic::from_array(self.device_stats.clone()),
        );
        m
    }
}

fn ratio(part: u64, whole: f64) -> f64 {
    if whole <= 0.0 {
        0.0
    } else {
        part as f64 / whole
    }
}

/// Rex's arithmetic (`safe-disk-info`'s `iostat`): CPU shares of all time since boot, device
/// rates per second of uptime, averages per request.
fn iostat() -> Result<IoStatSnapshot> {
    use crate::bindings::wrex::sdk::sysinfo as sys;
    let k = sys::read_kernel_stats().map_err(|e| match e {
        sys::Error::AccessDenied(d) => error::denied(DiskinfoErrorKind::PermissionDenied, d),
        sys::Error::Unavailable(m) | sys::Error::Io(m) => {
            error::sdk_error(DiskinfoErrorKind::IoError, m)
        }
    })?;
    let (disks, uptime) = wit::io_counters().map_err(from_wit)?;
    let t = &k.total;
    let total =
        (t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal) as f64;
    let share = |ticks: u64| ratio(ticks, total) * 100.0;
    let mut cpu = Map::new();
    for (name, v) in [
        ("user_percent", share(t.user)),
        ("nice_percent", share(t.nice)),
        ("system_percent", share(t.system + t.irq + t.softirq)),
        ("iowait_percent", share(t.iowait)),
        ("steal_percent", share(t.steal)),
        ("idle_percent", share(t.idle)),
    ] {
        cpu.insert(name.into(), Dynamic::from(v));
    }
    let devices = disks
        .into_iter()
        .map(|d| {
            let ios = d.reads + d.writes;
            let per_io = |v: u64| ratio(v, ios as f64);
            let kib = |sectors: u64| sectors as f64 * 512.0 / 1024.0;
            let mut m = Map::new();
            m.insert("device_name".into(), d.name.into());
            for (name, v) in [
                ("rrqm_per_sec", ratio(d.reads_merged, uptime)),
                ("wrqm_per_sec", ratio(d.writes_merged, uptime)),
                ("read_requests_per_sec", ratio(d.reads, uptime)),
                ("write_requests_per_sec", ratio(d.writes, uptime)),
                (
                    "rkb_per_sec",
                    if uptime > 0.0 {
                        kib(d.sectors_read) / uptime
                    } else {
                        0.0
                    },
                ),
                (
                    "wkb_per_sec",
                    if uptime > 0.0 {
                        kib(d.sectors_written) / uptime
                    } else {
                        0.0
                    },
                ),
                (
                    "avg_request_size",
                    per_io(d.sectors_read + d.sectors_written),
                ),
                (
                    "avg_queue_size",
                    ratio(d.weighted_time_in_progress, uptime * 1000.0),
                ),
                ("avg_wait", per_io(d.time_reading + d.time_writing)),
                ("avg_read_wait", ratio(d.time_reading, d.reads as f64)),
                ("avg_write_wait", ratio(d.time_writing, d.writes as f64)),
                ("svctm", per_io(d.time_in_progress)),
                (
                    "util_percent",
                    (ratio(d.time_in_progress, uptime * 1000.0) * 100.0).min(100.0),
                ),
            ] {
                m.insert(name.into(), Dynamic::from(v));
            }
            Dynamic::from_map(m)
        })
        .collect();
    Ok(IoStatSnapshot {
        cpu_stats: cpu,
        device_stats: devices,
    })
}

/// Rex's `lsblk()`: a map of each device's name (a device-mapper device's own name, with type
/// `lvm`) to `#{name, type, maj, min, size_kib, removable, read_only, mount_point, children}`,
/// Rex's shapes (flags as `"0"`/`"1"`, the mount point `""` when none).
fn lsblk() -> Result<Map> {
    let devices = wit::block_devices().map_err(from_wit)?;
    // Kernel name → the name shown (a device-mapper device's own), looked up once per parent.
    let names: std::collections::HashMap<&str, &str> = devices
        .iter()
        .map(|d| (d.name.as_str(), d.lvm_name.as_deref().unwrap_or(&d.name)))
        .collect();
    let shown = |kernel: &str| names.get(kernel).copied().unwrap_or(kernel).to_string();
    let mut children: std::collections::HashMap<String, Array> = Default::default();
    for d in &devices {
        let me = shown(&d.name);
        for parent in &d.parents {
            children
                .entry(shown(parent))
                .or_default()
                .push(Dynamic::from(me.clone()));
        }
    }
    let flag = |b: bool| if b { "1" } else { "0" };
    let mut out = Map::new();
    for d in &devices {
        let name = shown(&d.name);
        let kind = if d.lvm_name.is_some() {
            "lvm"
        } else {
            d.kind.as_str()
        };
        let mut m = Map::new();
        m.insert("name".into(), name.clone().into());
        m.insert("type".into(), kind.into());
        m.insert("maj".into(), d.major.to_string().into());
        m.insert("min".into(), d.minor.to_string().into());
        m.insert("size_kib".into(), Dynamic::from(int(d.size_kib)));
        m.insert(
            "removable".into(),
            flag(d.removable && kind != "partition").into(),
        );
        m.insert("read_only".into(), flag(d.read_only).into());
        m.insert(
            "mount_point".into(),
            d.mount_point.clone().unwrap_or_default().into(),
        );
        m.insert(
            "children".into(),
            Dynamic::from_array(children.remove(&name).unwrap_or_default()),
        );
        out.insert(name.into(), Dynamic::from_map(m));
    }
    Ok(out)
}

fn format_bytes(size: i64, unit: Unit) -> Result<i64> {
    if size < 0 {
        return Err(error::sdk_error(
            DiskinfoErrorKind::TryFromIntError,
            format!("format_bytes: a size is not negative, got {size}"),
        ));
    }
    Ok(match unit {
        Unit::Bytes => size,
        Unit::Kilobytes => size / 1024,
        Unit::Megabytes => size / (1024 * 1024),
    })
}

pub fn register(engine: &mut Engine) {
    error::register::<DiskinfoErrorKind>(engine);
    FilesystemOptions::register(engine);
    UnmountOptions::register(engine);
    register_enum_named(
        engine,
        "Unit",
        [
            ("BYTES", Unit::Bytes),
            ("KILOBYTES", Unit::Kilobytes),
            ("MEGABYTES", Unit::Megabytes),
        ],
    );
    engine
        .register_type_with_name::<Filesystem>("Filesystem")
        .register_get("size", |f: &mut Filesystem| int(f.0.total))
        .register_get("block_used", |f: &mut Filesystem| int(f.used()))
        .register_get("block_available", |f: &mut Filesystem| int(f.0.available))
        .register_get("kb_blocks", |f: &mut Filesystem| int(f.0.total / 1024))
        .register_get("mb_blocks", |f: &mut Filesystem| {
            int(f.0.total / (1024 * 1024))
        })
        .register_get("inodes", |f: &mut Filesystem| int(f.0.inodes))
        .register_get("iused", |f: &mut Filesystem| int(f.iused()))
        .register_get("ifree", |f: &mut Filesystem| int(f.0.inodes_free))
        .register_get("block_use_percent", |f: &mut Filesystem| {
            percent(f.used(), f.0.total)
        })
        .register_get("iuse_percent", |f: &mut Filesystem| {
            percent(f.iused(), f.0.inodes)
        })
        .register_get("fs_device", |f: &mut Filesystem| f.0.device.clone())
        .register_get("fs_kind", |f: &mut Filesystem| f.0.kind.clone())
        .register_get("mounted_on", |f: &mut Filesystem| f.0.mount_point.clone())
        .register_get("mount_options", |f: &mut Filesystem| {
            f.0.options
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect::<Array>()
        })
        .register_fn("to_map", |f: &mut Filesystem| f.to_map());
    engine
        .register_type_with_name::<IoStatSnapshot>("IoStatSnapshot")
        .register_get("cpu_stats", |s: &mut IoStatSnapshot| s.cpu_stats.clone())
        .register_get("device_stats", |s: &mut IoStatSnapshot| {
            s.device_stats.clone()
        })
        .register_fn("to_map", |s: &mut IoStatSnapshot| s.to_map());
    engine
        .register_type_with_name::<Filesystems>("Filesystems")
        .register_fn("Filesystems", |o: FilesystemOptions| Filesystems(o))
        .register_fn("filesystems", |f: &mut Filesystems| filesystems(&f.0))
        .register_fn("df", || filesystems(&FilesystemOptions::default()))
        .register_fn("iostat", |_: &mut Filesystems| iostat())
        .register_fn("iostat", iostat)
        .register_fn("lsblk", lsblk)
        .register_fn("format_bytes", format_bytes)
        .register_fn("unmount", |o: UnmountOptions| -> Result<()> {
            wit::unmount(o.path.as_deref().unwrap_or_default()).map_err(from_wit)
        });
}
