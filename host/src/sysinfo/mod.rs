//! The system-information capability (`wrex:sdk/sysinfo`, Cedar namespace `sysinfo`, and
//! `file_system` `read` on the files Rex reads): kernel and host name, CPUs, memory and swap,
//! the kernel log.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the view and the WIT functions: authorize → read |
//! | `cedar.rs` | the `list` action and the `Sysinfo` resource |
//!
//! The capability's ambient authority is `uname(2)`, `/proc/meminfo` and `/dev/kmsg`, each
//! read only after its check.

pub mod cedar;

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

use procfs::Current;

use self::cedar::{List, Sysinfo};
use crate::authz::Authorizer;
use crate::bindings::wit_sysinfo as wit;
use crate::error::{HostError, guest_error};
use crate::fs::cedar::{FsResource, action::Read as FsRead};
use crate::limits::Meter;

/// The error type of the system-information host functions.
pub(crate) type SysinfoError = HostError<wit::Error>;

type Result<T> = std::result::Result<T, SysinfoError>;

guest_error!(wit::Error { Unavailable, Io });

/// Most bytes of kernel log one call returns (the kernel's buffer is usually far smaller).
pub const MAX_KERNEL_LOG: usize = 16 << 20;

/// What the capability's host functions can reach.
pub(crate) struct SysinfoView<'a> {
    pub(crate) authz: &'a Authorizer,
    pub(crate) meter: &'a mut Meter,
}

fn io(what: &str, e: impl std::fmt::Display) -> SysinfoError {
    SysinfoError::guest(wit::Error::Io(format!("{what}: {e}")))
}

impl SysinfoView<'_> {
    fn host_call(&mut self) -> wasmtime::Result<()> {
        self.authz.host_call_starts();
        self.meter.host_call()
    }
}

impl wit::Host for SysinfoView<'_> {
    fn convert_error(&mut self, err: SysinfoError) -> wasmtime::Result<wit::Error> {
        err.convert(self.authz)
    }

    fn uname(&mut self) -> Result<wit::UnameInfo> {
        self.host_call()?;
        self.authz.authorize(List, &Sysinfo)?;
        let u = rustix::system::uname();
        let text = |s: &std::ffi::CStr| s.to_string_lossy().into_owned();
        Ok(wit::UnameInfo {
            kernel_name: text(u.sysname()),
            nodename: text(u.nodename()),
            kernel_release: text(u.release()),
            kernel_version: text(u.version()),
            machine: text(u.machine()),
        })
    }

    fn cpu_count(&mut self) -> Result<u32> {
        self.host_call()?;
        self.authz.authorize(List, &Sysinfo)?;
        let n = std::thread::available_parallelism().map_err(|e| io("the CPU count", e))?;
        Ok(u32::try_from(n.get()).unwrap_or(u32::MAX))
    }

    fn memory_info(&mut self) -> Result<wit::Memory> {
        self.host_call()?;
        self.authz
            .authorize(FsRead, &FsResource::File("/proc/meminfo".into()))?;
        let m = procfs::Meminfo::current().map_err(|e| io("/proc/meminfo", e))?;
        Ok(wit::Memory {
            total: m.mem_total,
            free: m.mem_free,
            available: m.mem_available.unwrap_or(m.mem_free),
            buffers: m.buffers,
            cached: m.cached,
            shared: m.shmem.unwrap_or(0),
            swap_total: m.swap_total,
            swap_free: m.swap_free,
        })
    }

    fn page_size(&mut self) -> wasmtime::Result<u64> {
        self.host_call()?;
        Ok(procfs::page_size())
    }

    fn read_kernel_stats(&mut self) -> Result<wit::KernelStats> {
        self.host_call()?;
        self.authz
            .authorize(FsRead, &FsResource::File("/proc/stat".into()))?;
        let k = <procfs::KernelStats as procfs::CurrentSI>::current()
            .map_err(|e| io("/proc/stat", e))?;
        let time = |c: &procfs::CpuTime| wit::CpuTime {
            user: c.user,
            nice: c.nice,
            system: c.system,
            idle: c.idle,
            iowait: c.iowait.unwrap_or(0),
            irq: c.irq.unwrap_or(0),
            softirq: c.softirq.unwrap_or(0),
            steal: c.steal.unwrap_or(0),
            guest: c.guest.unwrap_or(0),
            guest_nice: c.guest_nice.unwrap_or(0),
        };
        Ok(wit::KernelStats {
            total: time(&k.total),
            per_cpu: k.cpu_time.iter().map(time).collect(),
            ticks_per_second: procfs::ticks_per_second(),
            context_switches: k.ctxt,
            boot_time: k.btime,
            forks: k.processes,
            procs_running: k.procs_running.unwrap_or(0),
            procs_blocked: k.procs_blocked.unwrap_or(0),
        })
    }

    fn read_kernel_log(&mut self) -> Result<wit::KernelLog> {
        self.host_call()?;
        self.authz
            .authorize(FsRead, &FsResource::File("/dev/kmsg".into()))?;
        let boot_time = procfs::boot_time_secs().map_err(|e| io("the boot time", e))?;
        let mut kmsg = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open("/dev/kmsg")
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::PermissionDenied => SysinfoError::guest(
                    wit::Error::Unavailable(format!("the kernel refused to open /dev/kmsg: {e}")),
                ),
                _ => io("/dev/kmsg", e),
            })?;
        let mut messages = Vec::new();
        let mut total = 0usize;
        // One record per read (the kernel's records are at most 8 KiB with their header).
        let mut buf = vec![0u8; 16 << 10];
        loop {
            match kmsg.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    total += n;
                    if total > MAX_KERNEL_LOG {
                        break;
                    }
                    if let Some(m) = parse_record(&buf[..n]) {
                        messages.push(m);
                    }
                }
                // A record overwritten while reading: the next read goes on after it.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PIPE.raw_os_error()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io("/dev/kmsg", e)),
            }
            self.meter.clock().check()?;
        }
        Ok(wit::KernelLog {
            boot_time: i64::try_from(boot_time).unwrap_or(i64::MAX),
            messages,
        })
    }
}

/// One `/dev/kmsg` record: `<prefix>,<seq>,<usec>,<flags>[,…];<text>\n` then continuation
/// lines (` KEY=value`), which are left out. The level is the prefix's low 3 bits.
fn parse_record(record: &[u8]) -> Option<wit::KernelMessage> {
    let text = String::from_utf8_lossy(record);
    let (header, rest) = text.split_once(';')?;
    let mut fields = header.split(',');
    let prefix: u32 = fields.next()?.parse().ok()?;
    let _sequence = fields.next()?;
    let timestamp_us: u64 = fields.next()?.parse().ok()?;
    let message = rest.split('\n').next().unwrap_or_default();
    Some(wit::KernelMessage {
        timestamp_us,
        level: (prefix & 7) as u8,
        message: unescape(message),
    })
}

/// The kernel escapes non-printable bytes as `\xNN`; the text is shown as it was written.
fn unescape(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && bytes.get(i + 1) == Some(&b'x')
            && let Some(hex) = text.get(i + 2..i + 4)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

crate::bindings::capability_linker!(wit, SysinfoView, "sysinfo");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_records_are_parsed() {
        let m =
            parse_record(b"6,339,5140900,-;NET: Registered \\x22PF_INET6\\x22\n SUBSYSTEM=net\n")
                .unwrap();
        assert_eq!(m.timestamp_us, 5_140_900);
        assert_eq!(m.level, 6);
        assert_eq!(m.message, "NET: Registered \"PF_INET6\"");
        // Facility bits above the level are dropped.
        assert_eq!(parse_record(b"27,1,2,-;x\n").unwrap().level, 3);
        assert!(parse_record(b"garbage").is_none());
        assert!(parse_record(b"a,b,c;x").is_none());
    }
}
