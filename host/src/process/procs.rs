//! Reading processes from `/proc` (through `procfs`): what a listing shows of each, and
//! what identifies it over time (its start time, which a reused PID does not share).
//!
//! Everything here observes; nothing authorizes. The callers authorize each process before
//! anything read here reaches the guest.

use std::collections::HashMap;
use std::path::Path;

use procfs::Current;
use procfs::process::{FDTarget, MMapPath, Process as Proc};

use super::cedar::Process;
use crate::bindings::wit_process as wit;

/// Most processes (and threads) one listing reads: past it the listing is cut, so that a
/// fork bomb on the host cannot make one host call unbounded.
pub(crate) const MAX_PROCESSES: usize = 65_536;

/// One process as a listing shows it, with its identity.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) info: wit::ProcessInfo,
    /// Clock ticks after boot when it started: with the PID, what names this process and no
    /// later one.
    pub(crate) start: u64,
    /// CPU time used so far (user and system), in clock ticks.
    pub(crate) cpu_ticks: u64,
}

impl Seen {
    /// The process as a Cedar resource.
    pub(crate) fn resource(&self) -> Process {
        Process {
            pid: self.info.pid.to_string(),
            name: self.info.name.clone(),
            username: self.info.username.clone(),
            command: self.info.command.clone(),
        }
    }
}

/// What a listing needs of the machine, read once per listing: the memory size, the clock
/// tick, the uptime, and the names of the users seen so far.
#[derive(Debug)]
pub(crate) struct Machine {
    mem_total: u64,
    ticks: u64,
    page_size: u64,
    uptime: f64,
    users: HashMap<u32, String>,
    /// The host's own PID: never listed, never a target.
    pub(crate) own_pid: i32,
}

impl Machine {
    /// Clock ticks per second.
    pub(crate) fn ticks(&self) -> u64 {
        self.ticks
    }
}

impl Machine {
    pub(crate) fn read() -> Self {
        Self {
            mem_total: procfs::Meminfo::current().map_or(0, |m| m.mem_total),
            ticks: procfs::ticks_per_second().max(1),
            page_size: procfs::page_size(),
            uptime: procfs::Uptime::current().map_or(0.0, |u| u.uptime),
            users: HashMap::new(),
            own_pid: std::process::id() as i32,
        }
    }

    /// The name of user `uid` (empty when it has none, as Rex).
    pub(crate) fn username(&mut self, uid: u32) -> String {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                uzers::get_user_by_uid(uid)
                    .map(|u| u.name().to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .clone()
    }

    /// What a listing shows of a process (or thread) from its `stat`, its owner's uid and its
    /// `command`; `None` when its PID is not one.
    fn seen(
        &mut self,
        stat: &procfs::process::Stat,
        uid: Option<u32>,
        command: String,
        thread_of: Option<i32>,
    ) -> Option<Seen> {
        let pid = u32::try_from(stat.pid).ok()?;
        let username = uid.map(|u| self.username(u)).unwrap_or_default();
        let memory_usage = stat.rss.saturating_mul(self.page_size);
        let started = stat.starttime as f64 / self.ticks as f64;
        let alive = (self.uptime - started).max(0.0);
        let cpu = (stat.utime + stat.stime) as f64 / self.ticks as f64;
        let ppid = thread_of.or((stat.ppid > 0).then_some(stat.ppid));
        Some(Seen {
            info: wit::ProcessInfo {
                pid,
                ppid: ppid.and_then(|p| u32::try_from(p).ok()),
                uid,
                name: stat.comm.clone(),
                username,
                command,
                state: state_name(stat.state).to_string(),
                memory_usage,
                memory_percent: if self.mem_total == 0 {
                    0.0
                } else {
                    memory_usage as f64 * 100.0 / self.mem_total as f64
                },
                recent_cpu_usage: None,
                historical_cpu_usage: if alive > 0.0 {
                    (cpu * 100.0 / alive) as f32
                } else {
                    0.0
                },
                pid_namespace: None,
            },
            start: stat.starttime,
            cpu_ticks: stat.utime + stat.stime,
        })
    }

    /// One process by PID (the host's own is `None`, as is one that does not exist).
    pub(crate) fn process(&mut self, pid: i32) -> Option<(Proc, Seen)> {
        if crate::fs::is_host_process(&pid.to_string()) {
            return None;
        }
        let proc = Proc::new(pid).ok()?;
        let seen = self.of(&proc)?;
        Some((proc, seen))
    }

    /// What a listing shows of `proc`.
    pub(crate) fn of(&mut self, proc: &Proc) -> Option<Seen> {
        let stat = proc.stat().ok()?;
        let uid = proc.uid().ok();
        let command = command_of(&proc.cmdline().unwrap_or_default());
        self.seen(&stat, uid, command, None)
    }

    /// Every process but the host's own (and with `threads`, every thread but each process's
    /// main one, which is the process itself), at most [`MAX_PROCESSES`]. `stop` is asked
    /// between two processes and ends the walk with its error (the run's deadline). Nothing
    /// is held open: [`Self::reopen`] opens one again.
    pub(crate) fn all<E>(
        &mut self,
        threads: bool,
        mut stop: impl FnMut() -> Result<(), E>,
    ) -> Result<Vec<Seen>, ListError<E>> {
        let mut out = Vec::new();
        let all = procfs::process::all_processes()
            .map_err(|e| ListError::Proc(format!("cannot list the processes in /proc: {e}")))?;
        for proc in all.flatten() {
            stop().map_err(ListError::Stopped)?;
            if out.len() >= MAX_PROCESSES {
                break;
            }
            if proc.pid() == self.own_pid {
                continue;
            }
            let Some(seen) = self.of(&proc) else { continue };
            if threads && let Ok(tasks) = proc.tasks() {
                // A thread's user and command are its process's.
                let uid = seen.info.uid;
                for task in tasks.flatten() {
                    if task.tid == task.pid || out.len() >= MAX_PROCESSES {
                        continue;
                    }
                    if let Ok(stat) = task.stat()
                        && let Some(t) =
                            self.seen(&stat, uid, seen.info.command.clone(), Some(task.pid))
                    {
                        out.push(t);
                    }
                }
            }
            out.push(seen);
        }
        Ok(out)
    }

    /// Opens the process `seen` describes again; `None` if it exited (or its PID now names
    /// another process).
    pub(crate) fn reopen(&self, seen: &Seen) -> Option<Proc> {
        let proc = Proc::new(i32::try_from(seen.info.pid).ok()?).ok()?;
        (proc.stat().ok()?.starttime == seen.start).then_some(proc)
    }
}

/// Why a listing failed.
#[derive(Debug)]
pub(crate) enum ListError<E> {
    /// `/proc` could not be read.
    Proc(String),
    /// The caller's `stop` said so.
    Stopped(E),
}

/// The process's PID namespace (`None` when it cannot be read: it needs `CAP_SYS_PTRACE` on
/// other users' processes).
pub(crate) fn pid_namespace(proc: &Proc) -> Option<wit::PidNamespace> {
    let namespaces = proc.namespaces().ok()?;
    let ns = namespaces.0.get(std::ffi::OsStr::new("pid"))?;
    let child = proc
        .status()
        .ok()
        .and_then(|s| s.nspid)
        .and_then(|ids| ids.last().copied())
        .unwrap_or(proc.pid());
    Some(wit::PidNamespace {
        namespace_id: ns.identifier,
        child_ns_pid: u32::try_from(child).ok()?,
    })
}

/// Rex's `command`: the command line with the directory taken off its first word.
fn command_of(cmdline: &[String]) -> String {
    let mut words = cmdline.iter();
    let Some(first) = words.next() else {
        return String::new();
    };
    let program = first.rsplit('/').next().unwrap_or(first);
    std::iter::once(program)
        .chain(words.map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The process state as Rex names it (`sysinfo`'s `ProcessStatus` names).
fn state_name(state: char) -> &'static str {
    match state {
        'R' => "Run",
        'S' => "Sleep",
        'D' => "UninterruptibleDiskSleep",
        'Z' => "Zombie",
        'T' => "Stop",
        't' => "Tracing",
        'X' | 'x' => "Dead",
        'K' => "Wakekill",
        'W' => "Waking",
        'P' => "Parked",
        'I' => "Idle",
        _ => "Unknown",
    }
}

/// How a process uses a file (Rex's `AccessType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Descriptor,
    Root,
    Cwd,
    Exe,
    Mapped,
}

impl Access {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Self::Descriptor => "File descriptor",
            Self::Root => "Root directory",
            Self::Cwd => "Working directory",
            Self::Exe => "Executable",
            Self::Mapped => "Memory mapped",
        }
    }
}

/// One file a process uses: its path (as the kernel names it), type (`REG`, `DIR` …), how it
/// is used, and its device and inode (`None` when it has no inode on a file system).
#[derive(Debug, Clone)]
pub(crate) struct Used {
    pub(crate) path: String,
    pub(crate) file_type: &'static str,
    pub(crate) access: Access,
    pub(crate) id: Option<(u64, u64)>,
}

/// The `lsof` type of a mode.
fn type_of(mode: u32) -> &'static str {
    match mode & libc_mode::S_IFMT {
        libc_mode::S_IFDIR => "DIR",
        libc_mode::S_IFREG => "REG",
        libc_mode::S_IFLNK => "LNK",
        libc_mode::S_IFSOCK => "SOCK",
        libc_mode::S_IFCHR => "CHR",
        libc_mode::S_IFBLK => "BLK",
        libc_mode::S_IFIFO => "FIFO",
        _ => "UNK",
    }
}

/// The file-type bits of `st_mode` (POSIX values, the same on every Linux architecture).
mod libc_mode {
    pub const S_IFMT: u32 = 0o170_000;
    pub const S_IFSOCK: u32 = 0o140_000;
    pub const S_IFLNK: u32 = 0o120_000;
    pub const S_IFREG: u32 = 0o100_000;
    pub const S_IFBLK: u32 = 0o060_000;
    pub const S_IFDIR: u32 = 0o040_000;
    pub const S_IFCHR: u32 = 0o020_000;
    pub const S_IFIFO: u32 = 0o010_000;
}

/// Most files one process is reported with (descriptors and mappings).
const MAX_FILES_PER_PROCESS: usize = 16_384;

/// The files `proc` uses: its descriptors, working and root directories, executable and
/// mapped files (each mapped file once).
pub(crate) fn files_of(proc: &Proc) -> Vec<Used> {
    let pid = proc.pid();
    let base = format!("/proc/{pid}");
    let stat_of = |rel: &str| std::fs::metadata(Path::new(&base).join(rel)).ok();
    let mut out = Vec::new();
    let mut link = |rel: String, access: Access, shown: Option<String>| {
        let Ok(target) = std::fs::read_link(Path::new(&base).join(&rel)) else {
            return;
        };
        let meta = stat_of(&rel);
        use std::os::unix::fs::MetadataExt;
        let path = shown.unwrap_or_else(|| target.to_string_lossy().into_owned());
        let file_type = match &meta {
            Some(m) => type_of(m.mode()),
            None if path.starts_with("anon_inode:") => "ANON_INODE",
            None => "UNK",
        };
        let file_type = if path.starts_with("anon_inode:") {
            "ANON_INODE"
        } else {
            file_type
        };
        out.push(Used {
            path,
            file_type,
            access,
            id: meta.map(|m| (m.dev(), m.ino())),
        });
    };
    link("cwd".into(), Access::Cwd, None);
    link("root".into(), Access::Root, None);
    link("exe".into(), Access::Exe, None);
    if let Ok(fds) = proc.fd() {
        for fd in fds.flatten().take(MAX_FILES_PER_PROCESS) {
            let shown = match &fd.target {
                FDTarget::Path(p) => p.to_string_lossy().into_owned(),
                FDTarget::Socket(i) => format!("socket:[{i}]"),
                FDTarget::Net(i) => format!("net:[{i}]"),
                FDTarget::Pipe(i) => format!("pipe:[{i}]"),
                FDTarget::AnonInode(a) => format!("anon_inode:{a}"),
                FDTarget::MemFD(m) => format!("/memfd:{m}"),
                FDTarget::Other(kind, i) => format!("{kind}:[{i}]"),
                FDTarget::Unknown(kind, data) => format!("{kind}:{data}"),
            };
            link(format!("fd/{}", fd.fd), Access::Descriptor, Some(shown));
        }
    }
    if let Ok(maps) = proc.maps() {
        let mut seen = std::collections::HashSet::new();
        for map in maps.0.iter().take(MAX_FILES_PER_PROCESS) {
            if let MMapPath::Path(p) = &map.pathname
                && map.inode != 0
                && seen.insert(map.inode)
            {
                let meta = std::fs::metadata(p).ok();
                use std::os::unix::fs::MetadataExt;
                out.push(Used {
                    path: p.to_string_lossy().into_owned(),
                    file_type: "REG",
                    access: Access::Mapped,
                    // The mapping's own device numbers are in a different encoding from
                    // `st_dev`; the file's inode with the path's device is what matches.
                    id: meta
                        .filter(|m| m.ino() == map.inode)
                        .map(|m| (m.dev(), m.ino())),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_loses_its_directory_only() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(command_of(&words(&["/usr/bin/sleep", "30"])), "sleep 30");
        assert_eq!(command_of(&words(&["sleep", "/tmp/x"])), "sleep /tmp/x");
        assert_eq!(command_of(&[]), "");
    }

    #[test]
    fn the_host_process_is_never_listed() {
        let mut machine = Machine::read();
        let all = machine.all(true, || Ok::<_, ()>(())).unwrap();
        assert!(!all.is_empty());
        assert!(all.iter().all(|s| s.info.pid != std::process::id()));
        assert!(machine.process(std::process::id() as i32).is_none());
        // The test harness's parent (cargo, a shell) is a process like any other.
        let parent = std::os::unix::process::parent_id() as i32;
        assert!(machine.process(parent).is_some());
    }
}
