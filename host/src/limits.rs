//! Resource limits of a run, and the per-run meter that enforces the host-side ones.
//!
//! | limit | enforced by | error type |
//! |---|---|---|
//! | `timeout` | epoch interruption (every 10 ms) and every host call | `TIMEOUT_EXCEEDED` |
//! | `memory` | the store's resource limiter (linear-memory growth) | `MEMORY_EXCEEDED` |
//! | `max_operations`, `max_call_depth`, `max_expr_depth`, `max_string_size`, `max_array_size`, `max_map_size`, `max_output` | the Rhai engine in the guest | `LIMIT_EXCEEDED` |
//! | `max_host_calls`, `max_read_bytes`, `max_write_bytes`, `max_handles` | every host call | `LIMIT_EXCEEDED` |
//! | `max_script_bytes` | before the run | `LIMIT_EXCEEDED` |
//!
//! Host-side limits end the run with a trap, so a script cannot `catch` them; the guest's
//! Rhai limit errors are not catchable either.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::bindings::wit_runner;

/// Resource limits of one run. `0` means unlimited for the count and size limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Wall-clock deadline of the run.
    pub timeout: Duration,
    /// Cap on the sandbox's linear memory, in bytes.
    pub memory: usize,
    /// Rhai operations.
    pub max_operations: u64,
    /// Depth of script function calls.
    pub max_call_depth: u32,
    /// Nesting depth of expressions (top level; inside functions it is half).
    pub max_expr_depth: u32,
    /// Length of one string, in bytes (off by default, see [`Limits::default`]).
    pub max_string_size: u32,
    /// Elements of one array, nested arrays included (off by default).
    pub max_array_size: u32,
    /// Entries of one object map, nested maps included (off by default).
    pub max_map_size: u32,
    /// Length of the result's `output`, in bytes.
    pub max_output: u32,
    /// Calls from the guest to the host (file operations and log entries).
    pub max_host_calls: u64,
    /// Bytes read from files.
    pub max_read_bytes: u64,
    /// Bytes written to files.
    pub max_write_bytes: u64,
    /// Length of the script source, in bytes.
    pub max_script_bytes: usize,
    /// Handles (open files, directories, symlinks) a script holds at once. Each is a host
    /// descriptor, shared by every run of the process.
    pub max_handles: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            memory: 256 << 20,
            max_operations: 500_000_000,
            max_call_depth: 64,
            max_expr_depth: 64,
            // Off by default: when any of Rhai's data-size limits is set, Rhai recomputes the
            // size of a whole container after every mutation (an array `push` costs O(length),
            // so building an array of n elements costs O(n²): 200,000 pushes took 44 s). The
            // memory cap bounds data sizes instead; set these for finer errors.
            max_string_size: 0,
            max_array_size: 0,
            max_map_size: 0,
            max_output: 16 << 20,
            max_host_calls: 1_000_000,
            max_read_bytes: 1 << 30,
            max_write_bytes: 1 << 30,
            max_script_bytes: 8 << 20,
            max_handles: 256,
        }
    }
}

impl Limits {
    /// No limit at all except the ones without which a run cannot be bounded (a day of wall
    /// clock and 4 GiB of memory, wasm32's address space).
    pub fn unlimited() -> Self {
        Self {
            timeout: Duration::from_secs(86_400),
            memory: 4 << 30,
            max_operations: 0,
            max_call_depth: 0,
            max_expr_depth: 0,
            max_string_size: 0,
            max_array_size: 0,
            max_map_size: 0,
            max_output: 0,
            max_host_calls: 0,
            max_read_bytes: 0,
            max_write_bytes: 0,
            max_script_bytes: 0,
            max_handles: 0,
        }
    }

    pub(crate) fn for_guest(&self) -> wit_runner::Limits {
        wit_runner::Limits {
            max_operations: self.max_operations,
            max_call_depth: self.max_call_depth,
            max_expr_depth: self.max_expr_depth,
            max_function_expr_depth: self.max_expr_depth / 2,
            max_string_size: self.max_string_size,
            max_array_size: self.max_array_size,
            max_map_size: self.max_map_size,
            max_output: self.max_output,
        }
    }
}

/// Which limit ended a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exceeded {
    Timeout(Duration),
    Memory(usize),
    /// A count or size limit: its name and maximum.
    Limit(&'static str, u64),
    /// The run was cancelled from outside (e.g. SIGTERM to `wrex run`).
    Cancelled,
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(t) => write!(f, "Script terminated: timeout of {t:?} exceeded"),
            Self::Memory(m) => write!(f, "Script terminated: memory limit of {m} bytes exceeded"),
            Self::Limit(name, max) => write!(f, "Limit exceeded: {name} (the maximum is {max})"),
            Self::Cancelled => f.write_str("Script terminated: cancelled (SIGTERM or SIGINT)"),
        }
    }
}

/// The run's deadline and cancellation, shareable with host work that runs long (recursive
/// operations, copies, walks): it checks [`Clock::check`] as it goes, so a deadline or a
/// SIGTERM stops it between two entries, not after the whole operation.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    deadline: Instant,
    timeout: Duration,
    cancel: Option<Arc<AtomicBool>>,
    /// The first limit that ended the run (set once, by whoever saw it first).
    stopped: Arc<OnceLock<Exceeded>>,
}

impl Clock {
    fn new(timeout: Duration, cancel: Option<Arc<AtomicBool>>) -> Self {
        Self {
            deadline: Instant::now() + timeout,
            timeout,
            cancel,
            stopped: Arc::new(OnceLock::new()),
        }
    }

    /// Records `e` as what ended the run (unless something already did) and returns it as a
    /// trap.
    fn stop(&self, e: Exceeded) -> wasmtime::Error {
        let error = wasmtime::format_err!("{e}");
        let _ = self.stopped.set(e);
        error
    }

    /// Time left before the run's deadline.
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Fails once the run is cancelled or past its deadline. Cheap enough to call per entry.
    pub(crate) fn check(&self) -> wasmtime::Result<()> {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(self.stop(Exceeded::Cancelled));
        }
        if Instant::now() >= self.deadline {
            return Err(self.stop(Exceeded::Timeout(self.timeout)));
        }
        Ok(())
    }
}

/// How often [`Clock::block_on`] looks at the run's deadline and cancellation.
const TICK: Duration = Duration::from_millis(20);

/// Why [`Clock::block_on`] gave up on its work.
#[derive(Debug)]
pub(crate) enum Interrupted {
    /// The run's deadline passed or it was cancelled: the trap that ends the run.
    Stopped(wasmtime::Error),
    /// The work's own limit passed (the run goes on).
    TimedOut(Duration),
    /// The runtime could not start, or the work panicked.
    Failed(String),
}

impl Clock {
    /// Runs async host work (a bus call, an HTTP request, a DNS lookup) to its end, at most
    /// `max`, and no longer than the run's deadline or its cancellation. The work runs on a
    /// current-thread runtime of its own in a thread of its own (the caller may be inside
    /// another runtime); when it is given up, it is dropped, which closes its sockets.
    pub(crate) fn block_on<T, F>(&self, max: Duration, work: F) -> Result<T, Interrupted>
    where
        T: Send,
        F: std::future::Future<Output = T> + Send,
    {
        let limit = self.remaining().min(max);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| Interrupted::Failed(e.to_string()))?;
                    let out = runtime.block_on(async {
                        let watch = async {
                            let started = tokio::time::Instant::now();
                            loop {
                                tokio::time::sleep(TICK).await;
                                if let Err(trap) = self.check() {
                                    return Interrupted::Stopped(trap);
                                }
                                if started.elapsed() >= limit {
                                    return Interrupted::TimedOut(limit);
                                }
                            }
                        };
                        tokio::select! {
                            done = work => Ok(done),
                            stopped = watch => Err(stopped),
                        }
                    });
                    // Work given up may have left a blocking task behind (a `getaddrinfo`
                    // call cannot be interrupted): it finishes on its own, unwaited for.
                    runtime.shutdown_background();
                    out
                })
                .join()
                .unwrap_or_else(|_| Err(Interrupted::Failed("the host work panicked".into())))
        })
    }
}

/// Meters one run; lives in the store.
#[derive(Debug)]
pub(crate) struct Meter {
    limits: Limits,
    clock: Clock,
    host_calls: u64,
    read: u64,
    written: u64,
    handles: u64,
}

fn over(used: u64, max: u64) -> bool {
    max != 0 && used > max
}

impl Meter {
    pub(crate) fn new(limits: Limits, cancel: Option<Arc<AtomicBool>>) -> Self {
        Self {
            clock: Clock::new(limits.timeout, cancel),
            limits,
            host_calls: 0,
            read: 0,
            written: 0,
            handles: 0,
        }
    }

    fn fail(&mut self, e: Exceeded) -> wasmtime::Error {
        self.clock.stop(e)
    }

    /// The limit that ended the run, if one did.
    pub(crate) fn exceeded(&self) -> Option<&Exceeded> {
        self.clock.stopped.get()
    }

    /// The run's deadline and cancellation, for host work that runs long.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Checked every epoch tick and on every host call.
    pub(crate) fn check_time(&mut self) -> wasmtime::Result<()> {
        self.clock.check()
    }

    /// Counts one host call.
    pub(crate) fn host_call(&mut self) -> wasmtime::Result<()> {
        self.check_time()?;
        self.host_calls += 1;
        if over(self.host_calls, self.limits.max_host_calls) {
            return Err(self.fail(Exceeded::Limit("host calls", self.limits.max_host_calls)));
        }
        Ok(())
    }

    /// Counts a handle given to the guest.
    pub(crate) fn open_handle(&mut self) -> wasmtime::Result<()> {
        self.handles += 1;
        if over(self.handles, u64::from(self.limits.max_handles)) {
            self.handles -= 1;
            return Err(self.fail(Exceeded::Limit(
                "open handles",
                u64::from(self.limits.max_handles),
            )));
        }
        Ok(())
    }

    /// Counts a handle the guest dropped.
    pub(crate) fn close_handle(&mut self) {
        self.handles = self.handles.saturating_sub(1);
    }

    /// Bytes the run may still read (`u64::MAX` when reads are unlimited).
    pub(crate) fn read_allowance(&self) -> u64 {
        match self.limits.max_read_bytes {
            0 => u64::MAX,
            max => max.saturating_sub(self.read),
        }
    }

    pub(crate) fn charge_read(&mut self, bytes: usize) -> wasmtime::Result<()> {
        self.read = self.read.saturating_add(bytes as u64);
        if over(self.read, self.limits.max_read_bytes) {
            return Err(self.fail(Exceeded::Limit("bytes read", self.limits.max_read_bytes)));
        }
        Ok(())
    }

    pub(crate) fn charge_write(&mut self, bytes: usize) -> wasmtime::Result<()> {
        self.written = self.written.saturating_add(bytes as u64);
        if over(self.written, self.limits.max_write_bytes) {
            return Err(self.fail(Exceeded::Limit(
                "bytes written",
                self.limits.max_write_bytes,
            )));
        }
        Ok(())
    }
}

impl wasmtime::ResourceLimiter for Meter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.memory {
            return Err(self.fail(Exceeded::Memory(self.limits.memory)));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        const MAX_TABLE: usize = 100_000;
        if desired > MAX_TABLE {
            return Err(self.fail(Exceeded::Limit("table elements", MAX_TABLE as u64)));
        }
        Ok(true)
    }
}
