//! The system-information SDK (`wrex:sdk/sysinfo`): Rex's `SystemInfo` (memory, swap, CPU
//! count, host name, uname, kernel log) and the commands `free`, `nproc`, `uname`, `dmesg`,
//! `hostname`; errors are Rex's `SysteminfoErrorKind`.

use std::fmt;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use crate::bindings::wrex::sdk::sysinfo as wit;
use crate::sdk::error::{self, error_kinds};
use crate::sdk::options::options;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

error_kinds!(
    /// Rex's `SysteminfoErrorKind`.
    SysteminfoErrorKind, denial PermissionDenied,
    [PermissionDenied, AuthorizationError, IoError, InvalidParameter, InvalidValue, PrivilegeError, Other]
);

fn from_wit(err: wit::Error) -> Box<EvalAltResult> {
    let (kind, message) = match err {
        wit::Error::AccessDenied(d) => {
            return error::denied(SysteminfoErrorKind::PermissionDenied, d);
        }
        wit::Error::Unavailable(m) => (SysteminfoErrorKind::PrivilegeError, m),
        wit::Error::Io(m) => (SysteminfoErrorKind::IoError, m),
    };
    error::sdk_error(kind, message)
}

/// Rex's `SystemInfo`: a handle with no state.
#[derive(Clone, Debug)]
pub struct SystemInfo;

/// Rex's `Meminfo` (bytes).
#[derive(Clone, Debug)]
pub struct Meminfo(wit::Memory);

/// Rex's `Swapinfo` (bytes).
#[derive(Clone, Debug)]
pub struct Swapinfo(wit::Memory);

/// Rex's `UnameInfo`.
#[derive(Clone, Debug)]
pub struct UnameInfo(wit::UnameInfo);

/// Rex's `CpuTime`: each category in clock ticks and in milliseconds.
#[derive(Clone, Debug)]
pub struct CpuTime {
    time: wit::CpuTime,
    ticks_per_second: u64,
}

/// Rex's `KernelStats`.
#[derive(Clone, Debug)]
pub struct KernelStats(wit::KernelStats);

impl CpuTime {
    /// `(name, ticks)` of each category, Rex's names.
    fn categories(&self) -> [(&'static str, u64); 10] {
        let t = &self.time;
        [
            ("user", t.user),
            ("nice", t.nice),
            ("system", t.system),
            ("idle", t.idle),
            ("iowait", t.iowait),
            ("irq", t.irq),
            ("softirq", t.softirq),
            ("stolen", t.steal),
            ("guest", t.guest),
            ("guest_nice", t.guest_nice),
        ]
    }

    fn ms(&self, ticks: u64) -> i64 {
        int(ticks.saturating_mul(1000) / self.ticks_per_second.max(1))
    }

    fn to_map(&self) -> Map {
        let mut out = Map::new();
        for (name, ticks) in self.categories() {
            out.insert(format!("{name}_ticks").into(), Dynamic::from(int(ticks)));
            out.insert(format!("{name}_ms").into(), Dynamic::from(self.ms(ticks)));
        }
        out
    }
}

impl KernelStats {
    fn cpu(&self, time: &wit::CpuTime) -> CpuTime {
        CpuTime {
            time: *time,
            ticks_per_second: self.0.ticks_per_second,
        }
    }

    fn per_cpu(&self) -> Array {
        self.0
            .per_cpu
            .iter()
            .map(|t| Dynamic::from(self.cpu(t)))
            .collect()
    }

    fn to_map(&self) -> Map {
        let k = &self.0;
        let mut out = Map::new();
        out.insert(
            "total_cpu_time".into(),
            Dynamic::from_map(self.cpu(&k.total).to_map()),
        );
        out.insert(
            "cpu_time".into(),
            Dynamic::from_array(
                k.per_cpu
                    .iter()
                    .map(|t| Dynamic::from_map(self.cpu(t).to_map()))
                    .collect(),
            ),
        );
        for (name, v) in [
            ("procs_running", u64::from(k.procs_running)),
            ("procs_blocked", u64::from(k.procs_blocked)),
            ("context_switches", k.context_switches),
            ("boot_time", k.boot_time),
            ("forks", k.forks),
        ] {
            out.insert(name.into(), Dynamic::from(int(v)));
        }
        out
    }
}

/// Rex's `DmesgEntry`, with wrex's `level` (syslog's: 0 emergency … 3 error … 7 debug).
#[derive(Clone, Debug)]
pub struct DmesgEntry {
    timestamp_from_system_start: String,
    message: String,
    level: u8,
}

options!(DmesgOptions / DmesgOptionsBuilder {
    human_readable_time: bool,
} required []);

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Meminfo {
    fn used(&self) -> u64 {
        self.0.total.saturating_sub(self.0.available)
    }

    fn to_map(&self) -> Map {
        let m = &self.0;
        let mut out = Map::new();
        for (k, v) in [
            ("total", m.total),
            ("free", m.free),
            ("available", m.available),
            ("used", self.used()),
            ("buffers", m.buffers),
            ("cached", m.cached),
            ("shared_mem", m.shared),
        ] {
            out.insert(k.into(), Dynamic::from(int(v)));
        }
        out
    }
}

impl fmt::Display for Meminfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(
            f,
            "Memory Info:\n  Total: {} bytes\n  Free: {} bytes\n  Available: {} bytes\n  Used: {} bytes\n  Buffers: {} bytes\n  Cached: {} bytes\n  Shared: {} bytes",
            m.total,
            m.free,
            m.available,
            self.used(),
            m.buffers,
            m.cached,
            m.shared
        )
    }
}

impl Swapinfo {
    fn used(&self) -> u64 {
        self.0.swap_total.saturating_sub(self.0.swap_free)
    }

    fn to_map(&self) -> Map {
        let mut out = Map::new();
        out.insert("total".into(), Dynamic::from(int(self.0.swap_total)));
        out.insert("free".into(), Dynamic::from(int(self.0.swap_free)));
        out.insert("used".into(), Dynamic::from(int(self.used())));
        out
    }
}

impl fmt::Display for Swapinfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Swap Info:\n  Total: {} bytes\n  Free: {} bytes\n  Used: {} bytes",
            self.0.swap_total,
            self.0.swap_free,
            self.used()
        )
    }
}

/// `uname -a`'s `processor` and `hardware platform`: GNU's `unknown` on Linux.
const UNKNOWN: &str = "unknown";
const OPERATING_SYSTEM: &str = "GNU/Linux";

impl fmt::Display for UnameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = &self.0;
        write!(
            f,
            "{} {} {} {} {} {UNKNOWN} {UNKNOWN} {OPERATING_SYSTEM}",
            u.kernel_name, u.nodename, u.kernel_release, u.kernel_version, u.machine
        )
    }
}

fn memory() -> Result<wit::Memory> {
    wit::memory_info().map_err(from_wit)
}

fn uname() -> Result<UnameInfo> {
    wit::uname().map(UnameInfo).map_err(from_wit)
}

fn cpu_count() -> Result<i64> {
    wit::cpu_count().map(i64::from).map_err(from_wit)
}

/// `Thu Oct 24 10:32:01 2024`, as `dmesg -T` prints it (in UTC: the sandbox has no time
/// zone).
fn human_time(seconds: i64, format: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|at| at.format(format).ok())
        .unwrap_or_else(|| seconds.to_string())
}

fn dmesg(options: &DmesgOptions) -> Result<Array> {
    let log = wit::read_kernel_log().map_err(from_wit)?;
    // Parsed once per call, not per record.
    let human = options
        .human_readable_time
        .unwrap_or(false)
        .then(|| {
            time::format_description::parse_borrowed::<2>(
                "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] [year]",
            )
        })
        .transpose()
        .map_err(|e| error::sdk_error(SysteminfoErrorKind::Other, e.to_string()))?;
    Ok(log
        .messages
        .into_iter()
        .map(|m| {
            let stamp = if let Some(format) = &human {
                human_time(
                    log.boot_time
                        .saturating_add((m.timestamp_us / 1_000_000) as i64),
                    format,
                )
            } else {
                format!("{:>12.6}", m.timestamp_us as f64 / 1e6)
            };
            Dynamic::from(DmesgEntry {
                timestamp_from_system_start: stamp,
                message: m.message,
                level: m.level,
            })
        })
        .collect())
}

fn free() -> Result<Map> {
    let m = memory()?;
    let mut out = Map::new();
    out.insert("memory".into(), Meminfo(m).to_map().into());
    out.insert("swap".into(), Swapinfo(m).to_map().into());
    Ok(out)
}

pub fn register(engine: &mut Engine) {
    error::register::<SysteminfoErrorKind>(engine);
    DmesgOptions::register(engine);
    engine
        .register_type_with_name::<Meminfo>("Meminfo")
        .register_get("total", |m: &mut Meminfo| int(m.0.total))
        .register_get("free", |m: &mut Meminfo| int(m.0.free))
        .register_get("available", |m: &mut Meminfo| int(m.0.available))
        .register_get("used", |m: &mut Meminfo| int(m.used()))
        .register_get("buffers", |m: &mut Meminfo| int(m.0.buffers))
        .register_get("cached", |m: &mut Meminfo| int(m.0.cached))
        .register_get("shared_mem", |m: &mut Meminfo| int(m.0.shared))
        .register_fn("to_string", |m: &mut Meminfo| m.to_string())
        .register_fn("to_map", |m: &mut Meminfo| m.to_map());
    engine
        .register_type_with_name::<Swapinfo>("Swapinfo")
        .register_get("total", |m: &mut Swapinfo| int(m.0.swap_total))
        .register_get("free", |m: &mut Swapinfo| int(m.0.swap_free))
        .register_get("used", |m: &mut Swapinfo| int(m.used()))
        .register_fn("to_string", |m: &mut Swapinfo| m.to_string())
        .register_fn("to_map", |m: &mut Swapinfo| m.to_map());
    engine
        .register_type_with_name::<UnameInfo>("UnameInfo")
        .register_get("kernel_name", |u: &mut UnameInfo| u.0.kernel_name.clone())
        .register_get("nodename", |u: &mut UnameInfo| u.0.nodename.clone())
        .register_get("kernel_release", |u: &mut UnameInfo| {
            u.0.kernel_release.clone()
        })
        .register_get("kernel_version", |u: &mut UnameInfo| {
            u.0.kernel_version.clone()
        })
        .register_get("machine", |u: &mut UnameInfo| u.0.machine.clone())
        .register_get("processor", |_: &mut UnameInfo| UNKNOWN.to_string())
        .register_get("hardware_platform", |_: &mut UnameInfo| UNKNOWN.to_string())
        .register_get("operating_system", |_: &mut UnameInfo| {
            OPERATING_SYSTEM.to_string()
        })
        .register_fn("to_string", |u: &mut UnameInfo| u.to_string());
    engine.register_type_with_name::<CpuTime>("CpuTime");
    for (i, name) in [
        "user",
        "nice",
        "system",
        "idle",
        "iowait",
        "irq",
        "softirq",
        "stolen",
        "guest",
        "guest_nice",
    ]
    .into_iter()
    .enumerate()
    {
        engine
            .register_get(format!("{name}_ticks"), move |c: &mut CpuTime| {
                int(c.categories()[i].1)
            })
            .register_get(format!("{name}_ms"), move |c: &mut CpuTime| {
                c.ms(c.categories()[i].1)
            });
    }
    engine.register_fn("to_map", |c: &mut CpuTime| c.to_map());
    engine
        .register_type_with_name::<KernelStats>("KernelStats")
        .register_get("total_cpu_time", |k: &mut KernelStats| k.cpu(&k.0.total))
        .register_get("cpu_time", |k: &mut KernelStats| k.per_cpu())
        .register_get("procs_running", |k: &mut KernelStats| {
            i64::from(k.0.procs_running)
        })
        .register_get("procs_blocked", |k: &mut KernelStats| {
            i64::from(k.0.procs_blocked)
        })
        .register_get("context_switches", |k: &mut KernelStats| {
            int(k.0.context_switches)
        })
        .register_get("boot_time", |k: &mut KernelStats| int(k.0.boot_time))
        .register_get("forks", |k: &mut KernelStats| int(k.0.forks))
        .register_fn("to_map", |k: &mut KernelStats| k.to_map());
    engine
        .register_type_with_name::<DmesgEntry>("DmesgEntry")
        .register_get("timestamp_from_system_start", |e: &mut DmesgEntry| {
            e.timestamp_from_system_start.clone()
        })
        .register_get("message", |e: &mut DmesgEntry| e.message.clone())
        .register_get("level", |e: &mut DmesgEntry| i64::from(e.level))
        .register_fn("to_string", |e: &mut DmesgEntry| {
            format!("[{}] {}", e.timestamp_from_system_start, e.message)
        });
    engine
        .register_type_with_name::<SystemInfo>("SystemInfo")
        .register_fn("SystemInfo", || SystemInfo)
        .register_fn("memory_info", |_: &mut SystemInfo| memory().map(Meminfo))
        .register_fn("swap_info", |_: &mut SystemInfo| memory().map(Swapinfo))
        .register_fn("cpu_count", |_: &mut SystemInfo| cpu_count())
        .register_fn("hostname", |_: &mut SystemInfo| {
            uname().map(|u| u.0.nodename)
        })
        .register_fn("uname_info", |_: &mut SystemInfo| uname())
        .register_fn("kernel_stats", |_: &mut SystemInfo| {
            wit::read_kernel_stats().map(KernelStats).map_err(from_wit)
        })
        .register_fn("dmesg_info", |_: &mut SystemInfo, o: DmesgOptions| {
            dmesg(&o)
        })
        .register_fn("free", free)
        .register_fn("nproc", cpu_count)
        .register_fn("uname", uname)
        .register_fn("hostname", || uname().map(|u| u.0.nodename))
        .register_fn("dmesg", || dmesg(&DmesgOptions::default()));
}
