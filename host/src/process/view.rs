//! The per-run context of the process capability and the view its host functions are
//! implemented on: validate → authorize each process → act.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

use super::ProcessError;
use super::cedar::action::{Interrupt, Kill, List, ListFds};
use super::procs::{self, Access, ListError, Machine, Seen};
use crate::authz::{Authorizer, Denied};
use crate::bindings::wit_process as wit;
use crate::fs::FsCtx;
use crate::fs::cedar::{FsResource, action as fs_action};
use crate::limits::Meter;

type Result<T> = std::result::Result<T, ProcessError>;

/// Most processes whose identity a run remembers from its listings (past it, it starts over).
const MAX_REMEMBERED: usize = procs::MAX_PROCESSES;

/// Most PIDs `monitor-cpu` takes, and most batches.
const MAX_MONITOR_PIDS: usize = 4096;
const MAX_MONITOR_BATCHES: u32 = 1000;

/// Shortest interval `monitor-cpu` samples over (a shorter one measures nothing).
const MIN_MONITOR_DELAY: Duration = Duration::from_millis(100);

/// The per-run state of the capability: which processes the run listed, by PID, with their
/// start times, so that a PID the script got from a listing still names that process when
/// the script signals it.
#[derive(Debug, Default)]
pub(crate) struct ProcessCtx {
    listed: HashMap<u32, u64>,
}

impl ProcessCtx {
    fn remember(&mut self, seen: &Seen) {
        if self.listed.len() >= MAX_REMEMBERED {
            self.listed.clear();
        }
        self.listed.insert(seen.info.pid, seen.start);
    }
}

/// What the capability's host functions can reach.
pub(crate) struct ProcessView<'a> {
    pub(crate) ctx: &'a mut ProcessCtx,
    pub(crate) fs: &'a FsCtx,
    pub(crate) authz: &'a Authorizer,
    pub(crate) meter: &'a mut Meter,
}

fn invalid(message: String) -> ProcessError {
    ProcessError::guest(wit::Error::InvalidArgument(message))
}

fn not_found(message: String) -> ProcessError {
    ProcessError::guest(wit::Error::NotFound(message))
}

fn listing_failed(e: ListError<wasmtime::Error>) -> ProcessError {
    match e {
        ListError::Proc(m) => ProcessError::guest(wit::Error::Io(m)),
        ListError::Stopped(trap) => ProcessError::Trap(trap),
    }
}

/// A PID from the script: positive and within the kernel's range.
fn checked_pid(pid: i64) -> Result<i32> {
    match i32::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(invalid(format!(
            "invalid PID {pid}: a PID is a positive integer below 2^31"
        ))),
    }
}

impl wit::Host for ProcessView<'_> {
    fn convert_error(&mut self, err: ProcessError) -> wasmtime::Result<wit::Error> {
        err.convert(self.authz)
    }

    fn list_processes(
        &mut self,
        include_threads: bool,
        load_namespace_info: bool,
    ) -> Result<Vec<wit::ProcessInfo>> {
        self.host_call()?;
        let mut machine = Machine::read();
        let mut out = Vec::new();
        for mut seen in self.permitted_list(&mut machine, include_threads)? {
            if load_namespace_info && let Some(proc) = machine.reopen(&seen) {
                seen.info.pid_namespace = procs::pid_namespace(&proc);
            }
            self.ctx.remember(&seen);
            out.push(seen.info);
        }
        Ok(out)
    }

    fn kill(&mut self, target: wit::KillTarget, signal: wit::Signal) -> Result<Vec<wit::Killed>> {
        self.host_call()?;
        let signal = match signal {
            wit::Signal::Term => Signal::TERM,
            wit::Signal::Quit => Signal::QUIT,
            wit::Signal::Hup => Signal::HUP,
            wit::Signal::Kill => Signal::KILL,
        };
        let mut machine = Machine::read();
        if let Some(pid) = target.pid {
            let pid = checked_pid(pid)?;
            let killed = self.signal_pid(&mut machine, pid, signal)?;
            return Ok(vec![killed]);
        }
        let fields = [&target.name, &target.username, &target.command];
        if fields.iter().all(|f| f.is_none()) {
            return Err(invalid(
                "KillOptions names no process: set a pid, a process_name, a username or a command"
                    .into(),
            ));
        }
        if fields.iter().any(|f| f.as_deref() == Some("")) {
            return Err(invalid(
                "KillOptions: process_name, username and command must not be empty".into(),
            ));
        }
        let matches = |field: &Option<String>, value: &str, exact: bool| match field {
            None => true,
            Some(want) if exact => value == want,
            Some(want) => value.contains(want.as_str()),
        };
        let clock = self.meter.clock().clone();
        let candidates = machine
            .all(false, || clock.check())
            .map_err(listing_failed)?;
        let mut killed = Vec::new();
        let mut first_denial = None;
        for seen in candidates {
            let info = &seen.info;
            if !(matches(&target.name, &info.name, target.exact_match)
                && matches(&target.username, &info.username, true)
                && matches(&target.command, &info.command, target.exact_match))
            {
                continue;
            }
            match self.authorize_signal(&seen, signal) {
                Ok(()) => {}
                Err(denied) => {
                    first_denial.get_or_insert(denied);
                    continue;
                }
            }
            let shown = if target.command.is_some() {
                info.command.clone()
            } else {
                info.name.clone()
            };
            // A process that exited meanwhile is not an error of the others.
            if let Ok(Some(())) = send(&machine, &seen, signal) {
                killed.push(wit::Killed {
                    name: shown,
                    pid: info.pid,
                });
            }
        }
        match (killed.is_empty(), first_denial) {
            (false, _) => Ok(killed),
            (true, Some(denied)) => Err(denied.into()),
            (true, None) => Err(not_found(
                "No matching processes found (no process the host can signal matches the KillOptions)"
                    .into(),
            )),
        }
    }

    fn processes_using(&mut self, path: String) -> Result<Vec<wit::FileUser>> {
        self.host_call()?;
        let target = self.resolve(&path)?;
        self.authorize_proc_dir()?;
        let mut machine = Machine::read();
        let mut out = Vec::new();
        for seen in self.permitted::<ListFds>(&mut machine)? {
            self.meter.clock().check()?;
            let Some(proc) = machine.reopen(&seen) else {
                continue;
            };
            let mut access: Vec<Access> = Vec::new();
            for used in procs::files_of(&proc) {
                if used.id == Some(target) && !access.contains(&used.access) {
                    access.push(used.access);
                }
            }
            if !access.is_empty() {
                out.push(wit::FileUser {
                    user: seen.info.username.clone(),
                    command: seen.info.command.clone(),
                    pid: seen.info.pid,
                    access: access
                        .iter()
                        .map(|a| a.text())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(out)
    }

    fn open_files(
        &mut self,
        path: Option<String>,
        include_subdir: bool,
        pid: Option<i64>,
    ) -> Result<Vec<wit::OpenFile>> {
        self.host_call()?;
        let under = match (&path, pid) {
            (_, Some(_)) => None,
            (Some(p), None) => Some(self.host_path(
                &crate::fs::path::normalize_absolute(p).map_err(|e| invalid(e.message()))?,
            )),
            (None, None) => {
                return Err(invalid(
                    "LsofOptions names nothing to look at: set a path or a pid".into(),
                ));
            }
        };
        self.authorize_proc_dir()?;
        let mut machine = Machine::read();
        let processes = match pid {
            Some(pid) => {
                let pid = checked_pid(pid)?;
                let Some((_, seen)) = machine.process(pid) else {
                    return Err(self.no_process(pid));
                };
                self.authz.authorize(ListFds, &seen.resource())?;
                vec![seen]
            }
            None => self.permitted::<ListFds>(&mut machine)?,
        };
        let mut out = Vec::new();
        for seen in processes {
            self.meter.clock().check()?;
            let Some(proc) = machine.reopen(&seen) else {
                continue;
            };
            for used in procs::files_of(&proc) {
                if let Some(dir) = &under
                    && !within(&used.path, dir, include_subdir)
                {
                    continue;
                }
                out.push(wit::OpenFile {
                    pid: seen.info.pid,
                    process_name: seen.info.name.clone(),
                    user: seen.info.username.clone(),
                    command: seen.info.command.clone(),
                    file_path: self.seen_path(used.path),
                    file_type: used.file_type.to_string(),
                    access: used.access.text().to_string(),
                });
            }
        }
        Ok(out)
    }

    fn monitor_cpu(
        &mut self,
        pids: Vec<u32>,
        batches: u32,
        delay_ms: u64,
        include_threads: bool,
    ) -> Result<Vec<Vec<wit::ProcessInfo>>> {
        self.host_call()?;
        if pids.len() > MAX_MONITOR_PIDS {
            return Err(invalid(format!(
                "MonitorProcessesCpuOptions: {} PIDs; at most {MAX_MONITOR_PIDS}",
                pids.len()
            )));
        }
        if batches == 0 || batches > MAX_MONITOR_BATCHES {
            return Err(invalid(format!(
                "MonitorProcessesCpuOptions: {batches} batches; between 1 and {MAX_MONITOR_BATCHES}"
            )));
        }
        let delay = Duration::from_millis(delay_ms).max(MIN_MONITOR_DELAY);
        let wanted = |seen: &Seen| pids.is_empty() || pids.contains(&seen.info.pid);
        let mut machine = Machine::read();
        let sample = |machine: &mut Machine, view: &Self| -> Result<HashMap<(u32, u64), u64>> {
            let clock = view.meter.clock().clone();
            Ok(machine
                .all(include_threads, || clock.check())
                .map_err(listing_failed)?
                .into_iter()
                .map(|s| ((s.info.pid, s.start), s.cpu_ticks))
                .collect())
        };
        let mut before = sample(&mut machine, self)?;
        let mut at = Instant::now();
        let mut out = Vec::new();
        for _ in 0..batches {
            self.sleep(delay)?;
            let mut machine = Machine::read();
            let elapsed = at.elapsed().as_secs_f64();
            at = Instant::now();
            let ticks = machine.ticks() as f64;
            let mut batch = Vec::new();
            let mut now = HashMap::new();
            for mut seen in self.permitted_list(&mut machine, include_threads)? {
                now.insert((seen.info.pid, seen.start), seen.cpu_ticks);
                if !wanted(&seen) {
                    continue;
                }
                if let Some(prev) = before.get(&(seen.info.pid, seen.start)) {
                    let used = seen.cpu_ticks.saturating_sub(*prev) as f64 / ticks;
                    seen.info.recent_cpu_usage = Some((used * 100.0 / elapsed) as f32);
                }
                self.ctx.remember(&seen);
                batch.push(seen.info);
            }
            before = now;
            out.push(batch);
        }
        Ok(out)
    }
}

impl ProcessView<'_> {
    /// Counts a host call against the run's limits.
    fn host_call(&mut self) -> wasmtime::Result<()> {
        self.authz.host_call_starts();
        self.meter.host_call()
    }

    /// Waits `delay`, checking the run's deadline and cancellation as it goes.
    fn sleep(&self, delay: Duration) -> Result<()> {
        let until = Instant::now() + delay;
        loop {
            self.meter.clock().check()?;
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }

    /// Every process (and thread) the policy lets the principal `list`.
    fn permitted_list(&self, machine: &mut Machine, threads: bool) -> Result<Vec<Seen>> {
        let clock = self.meter.clock().clone();
        let all = machine
            .all(threads, || clock.check())
            .map_err(listing_failed)?;
        Ok(only_permitted::<List>(self.authz, all))
    }

    /// Every process the policy lets the principal `A` on.
    fn permitted<A>(&self, machine: &mut Machine) -> Result<Vec<Seen>>
    where
        A: crate::authz::Action<Resource = super::cedar::Process> + Default,
    {
        let clock = self.meter.clock().clone();
        let all = machine
            .all(false, || clock.check())
            .map_err(listing_failed)?;
        Ok(only_permitted::<A>(self.authz, all))
    }

    /// `kill` (or `interrupt`, for `SIGHUP`) on the process.
    fn authorize_signal(&self, seen: &Seen, signal: Signal) -> std::result::Result<(), Denied> {
        let resource = seen.resource();
        if signal == Signal::HUP {
            self.authz.authorize(Interrupt, &resource).map(drop)
        } else {
            self.authz.authorize(Kill, &resource).map(drop)
        }
    }

    /// Signals process `pid`: it must exist, be the process this run listed under that PID
    /// (if it listed one), and be permitted.
    fn signal_pid(
        &mut self,
        machine: &mut Machine,
        pid: i32,
        signal: Signal,
    ) -> Result<wit::Killed> {
        let Some((_, seen)) = machine.process(pid) else {
            return Err(self.no_process(pid));
        };
        if let Some(start) = self.ctx.listed.get(&seen.info.pid)
            && *start != seen.start
        {
            return Err(not_found(format!(
                "process {pid} exited after this script listed it; its PID now names another process, which was not signalled"
            )));
        }
        self.authorize_signal(&seen, signal)?;
        match send(machine, &seen, signal) {
            Ok(Some(())) => Ok(wit::Killed {
                name: seen.info.name,
                pid: seen.info.pid,
            }),
            Ok(None) => Err(not_found(format!(
                "process {pid} exited before it could be signalled"
            ))),
            Err(e) => Err(ProcessError::guest(wit::Error::Io(format!(
                "cannot signal process {pid}: {e}"
            )))),
        }
    }

    /// The error for a PID that names no process the host may target: the host's own
    /// process is refused by the runtime (a denial no policy lifts), anything else is absent.
    fn no_process(&self, pid: i32) -> ProcessError {
        if crate::fs::is_host_process(&pid.to_string()) {
            let resource = super::cedar::Process {
                pid: pid.to_string(),
                name: String::new(),
                username: String::new(),
                command: String::new(),
            };
            // The runtime's guard refuses it whatever the policy says.
            if let Err(denied) = self.authz.authorize(Kill, &resource) {
                return denied.into();
            }
        }
        not_found(format!("Process not found: no process with PID {pid}"))
    }

    /// `open` and `read` on `/proc`, which Rex asks before it looks at processes' files.
    fn authorize_proc_dir(&self) -> Result<()> {
        let proc = FsResource::Dir("/proc".into());
        self.authz.authorize(fs_action::Open, &proc)?;
        self.authz.authorize(fs_action::Read, &proc)?;
        Ok(())
    }

    /// The device and inode of `path`, resolved from the run's `/` (never outside it):
    /// `stat` is checked on the path as named, then on where it resolves, before anything
    /// about it is observed or returned.
    fn resolve(&self, path: &str) -> Result<(u64, u64)> {
        use cap_std::fs::MetadataExt;
        let path = crate::fs::path::normalize_absolute(path).map_err(|e| invalid(e.message()))?;
        let named = if self
            .authz
            .permits(fs_action::Stat, &FsResource::Dir(path.clone()))
        {
            FsResource::Dir(path.clone())
        } else {
            FsResource::File(path.clone())
        };
        self.authz.authorize(fs_action::Stat, &named)?;
        let root = self.fs.root_dir();
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        let gone = |e: std::io::Error| {
            ProcessError::guest(if e.kind() == std::io::ErrorKind::NotFound {
                wit::Error::NotFound(format!("{e}: `{path}`"))
            } else {
                wit::Error::Io(format!("{e}: `{path}`"))
            })
        };
        let resolved = root.canonicalize(rel).map_err(gone)?;
        let meta = root.metadata(&resolved).map_err(gone)?;
        let resolved = format!("/{}", resolved.to_string_lossy());
        let resolved =
            crate::fs::path::normalize_absolute(&resolved).map_err(|e| invalid(e.message()))?;
        let at = FsResource::entry(meta.is_dir(), resolved);
        if at != named {
            self.authz.authorize(fs_action::Stat, &at)?;
        }
        Ok((meta.dev(), meta.ino()))
    }

    /// `path` (as the run sees it) as the host names it.
    fn host_path(&self, path: &str) -> String {
        match self.fs.host_root() {
            None => path.to_string(),
            Some(root) if path == "/" => root.to_string_lossy().into_owned(),
            Some(root) => format!("{}{path}", root.to_string_lossy()),
        }
    }

    /// A path the kernel reported, as the run sees it (unchanged when outside the run's `/`).
    fn seen_path(&self, path: String) -> String {
        match self.fs.host_root().and_then(|r| r.to_str()) {
            Some(root) if within(&path, root, true) => {
                let rest = &path[root.len()..];
                if rest.is_empty() {
                    "/".into()
                } else {
                    rest.to_string()
                }
            }
            _ => path,
        }
    }
}

/// Whether `path` is `dir` or directly in it (or, with `deep`, anywhere below it).
fn within(path: &str, dir: &str, deep: bool) -> bool {
    let dir = dir.trim_end_matches('/');
    let Some(rest) = path.strip_prefix(dir) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return false;
    };
    deep || !rest.contains('/')
}

/// Sends `signal` to the process `seen` describes through a pidfd: `Ok(None)` when it exited
/// (or its PID names another process now). The pidfd is opened first, then the process is
/// confirmed to be `seen` (same start time): a PID reused after that is not the pidfd's
/// process, and a signal to an exited pidfd goes nowhere.
fn send(machine: &Machine, seen: &Seen, signal: Signal) -> std::io::Result<Option<()>> {
    let Some(pid) = i32::try_from(seen.info.pid).ok().and_then(Pid::from_raw) else {
        return Ok(None);
    };
    let fd: OwnedFd = match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if machine.reopen(seen).is_none() {
        return Ok(None);
    }
    match pidfd_send_signal(&fd, signal) {
        Ok(()) => Ok(Some(())),
        Err(rustix::io::Errno::SRCH) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The processes of `all` the policy lets the principal `A` on; each refusal is recorded
/// (audit log, denial count) and the process left out, as Rex does.
pub(crate) fn only_permitted<A>(authz: &Authorizer, all: Vec<Seen>) -> Vec<Seen>
where
    A: crate::authz::Action<Resource = super::cedar::Process> + Default,
{
    let mut left_out = 0usize;
    let kept: Vec<Seen> = all
        .into_iter()
        .filter(|seen| {
            let ok = authz.authorize(A::default(), &seen.resource()).is_ok();
            left_out += usize::from(!ok);
            ok
        })
        .collect();
    if left_out > 0 {
        tracing::debug!(target: "wrex::process", action = A::ID, left_out, "processes the policy does not permit were left out");
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::within;

    #[test]
    fn within_a_directory_or_below_it() {
        assert!(within("/var/log/a", "/var/log", false));
        assert!(within("/var/log", "/var/log", false));
        assert!(!within("/var/log/x/a", "/var/log", false));
        assert!(within("/var/log/x/a", "/var/log", true));
        assert!(!within("/var/logs/a", "/var/log", true));
        assert!(within("/a", "/", false));
    }
}
