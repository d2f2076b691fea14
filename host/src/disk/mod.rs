//! The disk capability (`wrex:sdk/disk`): mounted file systems (`df`) and `unmount`, with
//! Rex's `file_system` checks.
//!
//! The capability's ambient authority is `/proc/mounts`, `statvfs` of mount points and
//! `umount2`, each used only after its check.

mod blocks;

use std::collections::BTreeMap;

use crate::authz::Authorizer;
use crate::bindings::wit_disk as wit;
use crate::error::{HostError, guest_error};
use crate::fs::cedar::FsResource;
use crate::fs::cedar::action::{Read, Stat, Unmount};
use crate::limits::Meter;

/// The error type of the disk host functions.
pub(crate) type DiskError = HostError<wit::Error>;

type Result<T> = std::result::Result<T, DiskError>;

guest_error!(wit::Error {
    InvalidArgument,
    Io
});

/// File systems with no storage of their own, which `df` leaves out.
const PSEUDO: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "proc",
    "pstore",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "sysfs",
    "tracefs",
];

/// Network file systems (not `local`).
const REMOTE: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "9p",
    "afs",
];

/// What the capability's host functions can reach.
pub(crate) struct DiskView<'a> {
    pub(crate) authz: &'a Authorizer,
    pub(crate) meter: &'a mut Meter,
}

fn invalid(message: String) -> DiskError {
    DiskError::guest(wit::Error::InvalidArgument(message))
}

fn io(what: &str, e: impl std::fmt::Display) -> DiskError {
    DiskError::guest(wit::Error::Io(format!("{what}: {e}")))
}

fn normalized(path: &str) -> Result<String> {
    crate::fs::path::normalize_absolute(path).map_err(|e| invalid(e.message()))
}

/// Whether `path` is `dir` or below it.
fn at_or_below(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl DiskView<'_> {
    fn host_call(&mut self) -> wasmtime::Result<()> {
        self.authz.host_call_starts();
        self.meter.host_call()
    }
}

impl wit::Host for DiskView<'_> {
    fn convert_error(&mut self, err: DiskError) -> wasmtime::Result<wit::Error> {
        err.convert(self.authz)
    }

    fn io_counters(&mut self) -> Result<(Vec<wit::DiskCounters>, f64)> {
        self.host_call()?;
        self.authz
            .authorize(Read, &FsResource::File("/proc/diskstats".into()))?;
        let disks = procfs::diskstats().map_err(|e| io("/proc/diskstats", e))?;
        let uptime = <procfs::Uptime as procfs::Current>::current()
            .map_err(|e| io("/proc/uptime", e))?
            .uptime;
        let counters = disks
            .into_iter()
            .map(|d| wit::DiskCounters {
                name: d.name,
                reads: d.reads,
                reads_merged: d.merged,
                sectors_read: d.sectors_read,
                time_reading: d.time_reading,
                writes: d.writes,
                writes_merged: d.writes_merged,
                sectors_written: d.sectors_written,
                time_writing: d.time_writing,
                time_in_progress: d.time_in_progress,
                weighted_time_in_progress: d.weighted_time_in_progress,
            })
            .collect();
        Ok((counters, uptime))
    }

    fn block_devices(&mut self) -> Result<Vec<wit::BlockDevice>> {
        self.host_call()?;
        for file in ["/proc/partitions", "/proc/mounts", "/proc/swaps"] {
            self.authz.authorize(Read, &FsResource::File(file.into()))?;
        }
        for dir in ["/sys/dev/block", "/dev/disk/by-id"] {
            self.authz.authorize(Read, &FsResource::Dir(dir.into()))?;
        }
        let clock = self.meter.clock().clone();
        blocks::devices(|| clock.check()).map_err(|e| match e {
            blocks::Error::Io(m) => DiskError::guest(wit::Error::Io(m)),
            blocks::Error::Stopped(trap) => DiskError::Trap(trap),
        })
    }

    fn filesystems(&mut self, targets: Vec<String>, local: bool) -> Result<Vec<wit::Filesystem>> {
        self.host_call()?;
        let targets = targets
            .iter()
            .map(|t| normalized(t))
            .collect::<Result<Vec<_>>>()?;
        self.authz
            .authorize(Read, &FsResource::File("/proc/mounts".into()))?;
        self.authz
            .authorize(Read, &FsResource::File("/proc/diskstats".into()))?;
        let mounts = procfs::mounts().map_err(|e| io("/proc/mounts", e))?;
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for m in mounts {
            self.meter.clock().check()?;
            let kind = m.fs_vfstype.as_str();
            if PSEUDO.contains(&kind) || (local && REMOTE.contains(&kind)) {
                continue;
            }
            if !targets.is_empty() && !targets.iter().any(|t| at_or_below(&m.fs_file, t)) {
                continue;
            }
            // The last mount on a point hides the ones below it.
            if !seen.insert(m.fs_file.clone()) {
                out.retain(|f: &wit::Filesystem| f.mount_point != m.fs_file);
            }
            let Ok(point) = normalized(&m.fs_file) else {
                continue;
            };
            self.authz
                .authorize(Stat, &FsResource::Dir(point.clone()))?;
            let st = match rustix::fs::statvfs(point.as_str()) {
                Ok(st) => st,
                // As `df`: a mount point the host cannot reach is left out.
                Err(rustix::io::Errno::ACCESS | rustix::io::Errno::NOENT) => continue,
                Err(e) => return Err(io(&point, e)),
            };
            if st.f_blocks == 0 {
                continue;
            }
            let options: BTreeMap<String, Option<String>> = m.fs_mntops.into_iter().collect();
            out.push(wit::Filesystem {
                device: m.fs_spec,
                kind: m.fs_vfstype,
                mount_point: point,
                options: options
                    .into_iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!("{k}={v}"),
                        None => k,
                    })
                    .collect(),
                total: st.f_blocks.saturating_mul(st.f_frsize),
                available: st.f_bavail.saturating_mul(st.f_frsize),
                free: st.f_bfree.saturating_mul(st.f_frsize),
                inodes: st.f_files,
                inodes_free: st.f_ffree,
            });
        }
        Ok(out)
    }

    fn unmount(&mut self, path: String) -> Result<()> {
        self.host_call()?;
        let path = normalized(&path)?;
        self.authz
            .authorize(Unmount, &FsResource::Dir(path.clone()))?;
        // The label walk may hold the mount point open, which would make it busy.
        self.authz.forget_labels();
        rustix::mount::unmount(path.as_str(), rustix::mount::UnmountFlags::empty())
            .map_err(|e| io(&format!("cannot unmount `{path}`"), e))
    }
}

crate::bindings::capability_linker!(wit, DiskView, "disk");
