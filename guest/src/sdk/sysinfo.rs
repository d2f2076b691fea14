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

/// Rex's `DmesgEntry`.
#[derive(Clone, Debug)]
pub struct DmesgEntry {
    timestamp_from_system_start: String,
    message: String,
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
    engine
        .register_type_with_name::<DmesgEntry>("DmesgEntry")
        .register_get("timestamp_from_system_start", |e: &mut DmesgEntry| {
            e.timestamp_from_system_start.clone()
        })
        .register_get("message", |e: &mut DmesgEntry| e.message.clone())
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
        .register_fn("dmesg_info", |_: &mut SystemInfo, o: DmesgOptions| {
            dmesg(&o)
        })
        .register_fn("free", free)
        .register_fn("nproc", cpu_count)
        .register_fn("uname", uname)
        .register_fn("hostname", || uname().map(|u| u.0.nodename))
        .register_fn("dmesg", || dmesg(&DmesgOptions::default()));
}
