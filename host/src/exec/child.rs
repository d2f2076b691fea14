//! Starting the program and watching it: one thread polls the child's pidfd and its two
//! pipes, so output above a pipe's 64 KiB never blocks it, and the deadline is checked every
//! few milliseconds.

// `unsafe` here: the forked child, before `exec`, marks every descriptor above stderr
// close-on-exec (`close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`), so that the program inherits no
// descriptor of the host, including ones the host itself inherited without close-on-exec
// (a jobserver pipe, a caller's socket), and sets `no_new_privs`, so that set-id bits and
// file capabilities cannot make the program more than the user the request named. `pre_exec`
// is `unsafe` because the closure runs between `fork` and `exec`; it makes only
// async-signal-safe system calls and allocates nothing.
#![allow(unsafe_code)]

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::process::{
    Pid, PidfdFlags, Signal, WaitId, WaitIdOptions, kill_process_group, pidfd_open, waitid,
};

/// How long a program gets between `SIGTERM` and `SIGKILL` when its timeout passes.
const GRACE: Duration = Duration::from_secs(1);

/// How long the pipes are still drained after the program and its group are gone (a
/// descendant that left the group may hold them open).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

/// How often the run's deadline and cancellation are checked while the program runs.
const TICK: Duration = Duration::from_millis(20);

/// What to start.
pub(crate) struct Spawn<'a> {
    /// The program's descriptor, executed as `/proc/self/fd/<n>`.
    pub(crate) program: BorrowedFd<'a>,
    /// `argv[0]`: the program's path.
    pub(crate) arg0: &'a str,
    pub(crate) args: Vec<&'a str>,
    pub(crate) env: &'a [(String, String)],
    /// The working directory's descriptor.
    pub(crate) cwd: BorrowedFd<'a>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
}

/// One stream's capture: at most `cap` bytes kept.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    pub(crate) bytes: Vec<u8>,
    pub(crate) truncated: bool,
    /// Bytes read, kept or not.
    pub(crate) read: u64,
}

/// How the program ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// It exited (or was killed by a signal: minus the signal).
    Exited(i32),
    /// Its timeout passed and it was killed.
    TimedOut,
    /// The run must end (`stop` failed): the program was killed.
    Stopped(wasmtime::Error),
}

fn fd_path(fd: BorrowedFd<'_>) -> String {
    use std::os::fd::AsRawFd;
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Starts the program in its own process group, with nothing of the host but what `spawn`
/// names: stdin `/dev/null`, stdout and stderr pipes, the given environment only.
pub(crate) fn start(spawn: &Spawn<'_>) -> std::io::Result<Child> {
    let mut command = Command::new(fd_path(spawn.program));
    command
        .arg0(spawn.arg0)
        .args(&spawn.args)
        .env_clear()
        .envs(spawn.env.iter().map(|(k, v)| (k, v)))
        .current_dir(fd_path(spawn.cwd))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(gid) = spawn.gid {
        command.gid(gid);
    }
    if let Some(uid) = spawn.uid {
        // As root, std also clears the supplementary groups before `setuid`.
        command.uid(uid);
    }
    // SAFETY: the closure runs in the forked child; it calls only `close_range` or `fcntl`
    // (async-signal-safe), touches no lock and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            mark_descriptors_cloexec()?;
            no_new_privileges()
        });
    }
    command.spawn()
}

/// In the forked child: every descriptor above 2 close-on-exec. The ones std uses to report
/// an `exec` failure are close-on-exec already; nothing is closed here.
fn mark_descriptors_cloexec() -> std::io::Result<()> {
    // SAFETY: a system call on integers; no memory is passed.
    let marked = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        )
    };
    if marked == 0 {
        return Ok(());
    }
    // Kernels before 5.11: each descriptor up to the process's limit.
    // SAFETY: `sysconf` and `fcntl` on integers; a descriptor that is not open fails alone.
    let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(3, 1 << 20) as libc::c_int;
    for fd in 3..max {
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    Ok(())
}

/// In the forked child: `PR_SET_NO_NEW_PRIVS`, so that `exec` grants nothing (a set-user-id
/// program runs as the caller, file capabilities are ignored). The policy authorized the
/// program to run as `context.user`; it must not become someone else.
fn no_new_privileges() -> std::io::Result<()> {
    // SAFETY: `prctl` with integer arguments only.
    let set = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if set == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Watches `child` until it ends, its `timeout` passes, or `stop` fails (the run's deadline
/// or cancellation); keeps at most `cap` bytes of each output stream, telling `charge` of
/// every byte read (it may fail, which stops the run too). Every way out kills the child's
/// whole process group and reaps the child.
pub(crate) fn watch(
    mut child: Child,
    timeout: Duration,
    cap: u64,
    mut stop: impl FnMut() -> wasmtime::Result<()>,
    mut charge: impl FnMut(usize) -> wasmtime::Result<()>,
) -> std::io::Result<(Ended, Captured, Captured)> {
    let pid = Pid::from_raw(child.id() as i32)
        .ok_or_else(|| std::io::Error::other("the child has no valid PID"))?;
    // The child is not reaped before `reap` below, so its PID (and group id) stay its own.
    let pidfd: OwnedFd = pidfd_open(pid, PidfdFlags::empty())?;
    // Both pipes as plain files, so one loop reads either.
    let mut stdout = child
        .stdout
        .take()
        .map(|p| std::fs::File::from(OwnedFd::from(p)));
    let mut stderr = child
        .stderr
        .take()
        .map(|p| std::fs::File::from(OwnedFd::from(p)));
    let (mut out, mut err) = (Captured::default(), Captured::default());
    let started = Instant::now();
    let mut ended: Option<Ended> = None;
    let mut exited_at: Option<Instant> = None;
    let mut term_sent: Option<Instant> = None;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if exited_at.is_none() && exited(&pidfd)? {
            // The leader is a zombie until reaped: its group id still names its group, whose
            // leftovers are killed now.
            let _ = kill_process_group(pid, Signal::KILL);
            exited_at = Some(Instant::now());
        }
        let drained = stdout.is_none() && stderr.is_none();
        if let Some(at) = exited_at
            && (drained || at.elapsed() >= DRAIN_AFTER_EXIT)
        {
            break;
        }
        if ended.is_none() {
            if let Err(trap) = stop() {
                let _ = kill_process_group(pid, Signal::KILL);
                ended = Some(Ended::Stopped(trap));
            } else if started.elapsed() >= timeout {
                match term_sent {
                    None => {
                        let _ = kill_process_group(pid, Signal::TERM);
                        term_sent = Some(Instant::now());
                    }
                    Some(at) if at.elapsed() >= GRACE => {
                        let _ = kill_process_group(pid, Signal::KILL);
                        ended = Some(Ended::TimedOut);
                    }
                    Some(_) => {}
                }
            }
        }
        let mut fds = Vec::with_capacity(3);
        fds.push(PollFd::new(&pidfd, PollFlags::IN));
        if let Some(s) = &stdout {
            fds.push(PollFd::new(s, PollFlags::IN));
        }
        if let Some(s) = &stderr {
            fds.push(PollFd::new(s, PollFlags::IN));
        }
        let tick = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: TICK.as_nanos() as i64,
        };
        match poll(&mut fds, Some(&tick)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        for (pipe, captured) in [(&mut stdout, &mut out), (&mut stderr, &mut err)] {
            let Some(p) = pipe else { continue };
            if !readable(p.as_fd())? {
                continue;
            }
            match p.read(&mut buf) {
                Ok(0) => *pipe = None,
                Ok(n) => {
                    captured.read += n as u64;
                    let room = cap.saturating_sub(captured.bytes.len() as u64) as usize;
                    let keep = n.min(room);
                    captured.bytes.extend_from_slice(&buf[..keep]);
                    captured.truncated |= keep < n;
                    if let Err(trap) = charge(keep) {
                        let _ = kill_process_group(pid, Signal::KILL);
                        ended.get_or_insert(Ended::Stopped(trap));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    let status = child.wait()?;
    let code = status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0));
    // A program that exited on the timeout's SIGTERM still timed out.
    let ended = ended.unwrap_or(if term_sent.is_some() {
        Ended::TimedOut
    } else {
        Ended::Exited(code)
    });
    Ok((ended, out, err))
}

/// Whether the process behind `pidfd` has exited (without reaping it).
fn exited(pidfd: &OwnedFd) -> std::io::Result<bool> {
    let how = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
    Ok(waitid(WaitId::PidFd(pidfd.as_fd()), how)?.is_some())
}

/// Whether a read of `fd` would not block (data, end of file or an error to report).
fn readable(fd: BorrowedFd<'_>) -> std::io::Result<bool> {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let zero = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&zero)) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
