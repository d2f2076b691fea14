//! The embedding API: a [`Runtime`] (engine + compiled guest, built once, shared across
//! threads) runs [`Job`]s, each in a fresh store with its own policy, principal and limits.

mod finish;
mod job;
mod preinit;
mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::Linker;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

pub use self::job::{Job, MAX_PURPOSE_BYTES, check_purpose, current_user};
pub(crate) use self::state::HostState;
use crate::args::{ArgValue, Scalar};
use crate::audit::{RunInfo, new_run_id, sha256_hex};
use crate::authz::{Authorizer, Policy, PolicyCache};
use crate::bindings::{ScriptPre, wit_runner};
use crate::fs::{FsCtx, RunLabels, RuntimeState};
use crate::limits::Exceeded;
use crate::outcome::{ErrorType, RunOutcome};

/// How a [`Runtime`] is built.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Runs that can be alive at once (the instance pool's size). One more concurrent run
    /// fails with an `INTERNAL_EXCEPTION` naming the pool.
    pub max_concurrent_runs: u32,
    /// The largest `Limits::memory` any job will ask for; each pool slot reserves this much
    /// address space (not memory).
    pub max_memory: usize,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            max_concurrent_runs: 1000,
            max_memory: 4 << 30,
        }
    }
}

/// Bytes of a used pool slot's linear memory kept resident and reset in place (a warm run of
/// a small script writes about half of this). Each slot that has run keeps up to this much
/// resident between runs.
const KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// Bytes of a used slot's tables kept resident and reset in place (the guest's function
/// table is about 60 KiB).
const KEEP_RESIDENT_TABLE_BYTES: usize = 128 << 10;

/// Whether the kernel has the `PAGEMAP_SCAN` ioctl (Linux 6.7 and later).
fn pagemap_scan_available() -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    kernel_at_least(&release, (6, 7))
}

/// Whether a kernel release string (`6.18.44-fc`, `5.15.0-91-generic`) is at least `want`.
fn kernel_at_least(release: &str, want: (u32, u32)) -> bool {
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    match (major, minor) {
        (Some(major), Some(minor)) => (major, minor) >= want,
        _ => false,
    }
}

/// How often the engine's epoch advances; the deadline's granularity.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Why a [`Runtime`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    #[error("failed to set up the WebAssembly engine: {0:#}")]
    Engine(wasmtime::Error),
    #[error("failed to load the guest component: {0:#}")]
    Guest(wasmtime::Error),
}

/// Engine + compiled, pre-linked guest. Build once; `Send + Sync`; [`Runtime::run`] from any
/// number of threads.
pub struct Runtime {
    engine: Engine,
    pre: ScriptPre<HostState>,
    ticker_stop: Arc<AtomicBool>,
    policies: PolicyCache,
    /// The runtime's own files (compiled-guest cache, binary), outside every script's reach.
    own_state: Vec<(std::path::PathBuf, String)>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn scalar(s: &Scalar) -> wit_runner::Scalar {
    match s {
        Scalar::String(v) => wit_runner::Scalar::StringValue(v.clone()),
        Scalar::Integer(v) => wit_runner::Scalar::IntegerValue(*v),
        Scalar::Long(v) => wit_runner::Scalar::LongValue(*v),
        Scalar::Double(v) => wit_runner::Scalar::DoubleValue(*v),
        Scalar::Boolean(v) => wit_runner::Scalar::BooleanValue(*v),
    }
}

fn argument(v: &ArgValue) -> wit_runner::Argument {
    match v {
        ArgValue::Scalar(s) => wit_runner::Argument::Scalar(scalar(s)),
        ArgValue::List(items) => {
            wit_runner::Argument::ListValue(items.iter().map(scalar).collect())
        }
        ArgValue::Map(entries) => wit_runner::Argument::MapValue(
            entries
                .iter()
                .map(|(k, s)| (k.clone(), scalar(s)))
                .collect(),
        ),
    }
}

impl Runtime {
    /// Builds the engine and loads the compiled guest (from the on-disk cache when possible),
    /// with [`RuntimeOptions::default`].
    pub fn new() -> Result<Self, RuntimeError> {
        Self::with_options(&RuntimeOptions::default())
    }

    /// Builds a runtime with explicit options.
    pub fn with_options(options: &RuntimeOptions) -> Result<Self, RuntimeError> {
        let engine = Self::engine(options)?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        // The linker holds wrex's own interfaces and nothing else: no WASI, no other authority.
        state::add_to_linker(&mut linker).map_err(RuntimeError::Engine)?;
        let component = crate::cache::guest_component(&engine, |bytes| {
            match preinit::preinitialize(&engine, &linker, bytes) {
                Ok(snapshot) => Ok(snapshot),
                Err(e) => {
                    // Still correct without the snapshot, only slower per run.
                    tracing::warn!("pre-initializing the guest failed, using it as built: {e:#}");
                    Ok(bytes.to_vec())
                }
            }
        })
        .map_err(RuntimeError::Guest)?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(ScriptPre::new)
            .map_err(RuntimeError::Guest)?;
        Self::start(engine, pre)
    }

    /// The engine a runtime with `options` runs on (no guest loaded yet).
    fn engine(options: &RuntimeOptions) -> Result<Engine, RuntimeError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Instances come from a pool of pre-reserved slots: a run's memory is reused (and
        // zeroed) instead of mapped afresh. The pool bounds concurrent runs.
        let mut pool = PoolingAllocationConfig::default();
        // The guest component holds a few core instances and tables besides its main module
        // (wit-component's adapter shims); the pool counts each.
        let runs = options.max_concurrent_runs.max(1);
        pool.total_component_instances(runs)
            .total_core_instances(runs.saturating_mul(4))
            .total_memories(runs.saturating_mul(2))
            .total_tables(runs.saturating_mul(4))
            .max_memory_size(options.max_memory);
        if pagemap_scan_available() {
            // A finished run's slot is reset by restoring only the pages it wrote (found with
            // Linux's PAGEMAP_SCAN), and those stay mapped: no `madvise` under the process's
            // address-space lock and no page faults for the next run in the slot. Beyond
            // these bytes, pages are decommitted as before. Without the ioctl wasmtime would
            // rewrite the lowest bytes whole at every reset, which was not measured to pay:
            // older kernels keep the plain reset. `the_pool_resets_a_slot_to_its_image`
            // checks that nothing a run wrote survives either way.
            pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
                .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES)
                .pagemap_scan(wasmtime::Enabled::Auto);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        Engine::new(&config).map_err(RuntimeError::Engine)
    }

    /// Starts the epoch ticker and assembles the runtime.
    fn start(engine: Engine, pre: ScriptPre<HostState>) -> Result<Self, RuntimeError> {
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&ticker_stop);
        let ticking = engine.clone();
        std::thread::Builder::new()
            .name("wrex-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    ticking.increment_epoch();
                }
            })
            .map_err(|e| RuntimeError::Engine(wasmtime::Error::new(e)))?;
        let mut own_state = Vec::new();
        if let Some(dir) = crate::cache::cache_dir() {
            own_state.push((dir, "the compiled-guest cache".to_string()));
        }
        if let Ok(exe) = std::env::current_exe() {
            own_state.push((exe, "the running wrex binary".to_string()));
        }
        Ok(Self {
            engine,
            pre,
            ticker_stop,
            policies: PolicyCache::new(),
            own_state,
        })
    }

    /// The policy for `text`, parsed, validated and indexed once per distinct text (cached by
    /// content in this runtime).
    pub fn policy(&self, text: &str) -> Result<Policy, crate::PolicyError> {
        self.policies.get_or_parse(text)
    }

    /// The signature of every function the guest's SDK registers with the interpreter, as
    /// Rhai writes them, asked of the guest itself (see [`crate::functions`]).
    pub fn sdk_signatures(&self) -> Result<Vec<String>, RuntimeError> {
        let fs = FsCtx::open(&crate::fs::FsConfig::default())
            .map_err(|e| RuntimeError::Guest(wasmtime::Error::new(e)))?;
        let authz = Authorizer::new(
            Policy::parse("")
                .map_err(|e| RuntimeError::Guest(wasmtime::Error::msg(e.to_string())))?,
            "wrex",
            None,
        );
        let state = HostState::new(
            authz,
            fs,
            crate::log::LogLevel::Info,
            crate::limits::Limits::default(),
            None,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.meter);
        // Ten seconds of epoch ticks: listing takes microseconds.
        store.set_epoch_deadline(1000);
        self.pre
            .instantiate(&mut store)
            .and_then(|guest| guest.wrex_sdk_runner().call_functions(&mut store))
            .map_err(RuntimeError::Guest)
    }

    /// Runs one job to completion. Every failure, including a guest trap, becomes an outcome;
    /// the runtime stays usable.
    pub fn run(&self, job: Job) -> RunOutcome {
        let started = Instant::now();
        let max_script = job.limits.max_script_bytes;
        if max_script != 0 && job.script.len() > max_script {
            let e = Exceeded::Limit("script size", max_script as u64);
            return RunOutcome::early_error(ErrorType::LimitExceeded, &e.to_string(), vec![]);
        }
        let guest_limits = job.limits.for_guest();
        let fs = match FsCtx::open(&job.fs) {
            Ok(fs) => fs,
            Err(e) => {
                let root = job.fs.root.as_deref().unwrap_or("/".as_ref());
                let what = if job.fs.root.is_some() {
                    "the tenant root"
                } else {
                    "the root directory"
                };
                let message = format!("failed to open {what} `{}`: {e}", root.display());
                return RunOutcome::early_error(ErrorType::InternalException, &message, vec![]);
            }
        };
        let mut protected: Vec<(std::path::PathBuf, String)> = job
            .fs
            .protected
            .iter()
            .map(|p| (p.clone(), "the runtime's own state".to_string()))
            .collect();
        protected.extend(self.own_state.iter().cloned());
        let guard = RuntimeState::new(job.fs.root.as_deref(), &protected);
        if let Some(purpose) = &job.purpose
            && let Err(e) = job::check_purpose(purpose)
        {
            return RunOutcome::early_error(ErrorType::ValidationException, &e, vec![]);
        }
        let labels = match RunLabels::new(&job.labels, Some(fs.root())) {
            Ok(labels) => labels.map(|l| Arc::new(l) as Arc<dyn crate::authz::LabelSource>),
            Err(e) => {
                let message = format!("failed to open the root directory for labels: {e}");
                return RunOutcome::early_error(ErrorType::InternalException, &message, vec![]);
            }
        };
        let audit = match &job.audit {
            None => None,
            Some(log) => match log.begin(RunInfo {
                run: new_run_id(),
                script_sha256: sha256_hex(job.script.as_bytes()),
                policy_sha256: job.policy.digest().to_string(),
                principal: format!("User::{:?}", job.principal),
                on_behalf_of: job.on_behalf_of.clone(),
                purpose: job.purpose.clone(),
            }) {
                Ok(run) => Some(run),
                Err(e) => {
                    return RunOutcome::early_error(
                        ErrorType::InternalException,
                        &e.to_string(),
                        vec![],
                    );
                }
            },
        };
        let state = HostState::new(
            Authorizer::new(job.policy, &job.principal, job.observer)
                .with_guard(Arc::new(guard))
                .with_on_behalf_of(&job.on_behalf_of)
                .with_enforcement(job.enforcement)
                .with_purpose(job.purpose)
                .with_labels(labels)
                .with_audit(audit.clone()),
            fs,
            job.log_level,
            job.limits,
            job.cancel,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.meter);
        // The deadline and cancellation are checked on every epoch tick.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            ctx.data_mut().meter.check_time()?;
            Ok(UpdateDeadline::Continue(1))
        });

        let args: Vec<(String, wit_runner::Argument)> = job
            .args
            .iter()
            .map(|(name, value)| (name.to_string(), argument(value)))
            .collect();
        let result = self.pre.instantiate(&mut store).and_then(|script| {
            script
                .wrex_sdk_runner()
                .call_run(&mut store, &job.script, &args, guest_limits)
        });
        let elapsed = started.elapsed();
        let state = store.into_data();
        let outcome = finish::finish(result, state, elapsed);
        if let Some(audit) = audit {
            let lineage = outcome.lineage.clone();
            let error_type = outcome
                .error_type()
                .and_then(|t| serde_json::to_value(t).ok())
                .and_then(|v| v.as_str().map(str::to_string));
            let status = if outcome.is_success() {
                "success"
            } else {
                "error"
            };
            if let Err(e) = audit.finish(status, error_type.as_deref(), &lineage) {
                tracing::error!(target: "wrex::audit", "{e}: the run's summary is missing");
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::component::Component;

    use super::*;
    use crate::limits::Limits;
    use crate::log::LogLevel;

    /// The guest can be pre-initialized (the runtime falls back to the plain guest, slower,
    /// if it cannot; this catches that regression).
    #[test]
    fn the_guest_preinitializes() {
        // An engine as a runtime's, without compiling the guest for it a second time.
        let engine = Runtime::engine(&RuntimeOptions::default()).unwrap();
        let mut linker: Linker<HostState> = Linker::new(&engine);
        state::add_to_linker(&mut linker).unwrap();
        let snapshot =
            preinit::preinitialize(&engine, &linker, crate::cache::guest_component_bytes())
                .unwrap();
        assert!(!snapshot.is_empty());
    }

    #[test]
    fn kernel_releases_are_compared_by_major_and_minor() {
        assert!(kernel_at_least("6.18.44-fc-v669\n", (6, 7)));
        assert!(kernel_at_least("6.7.0", (6, 7)));
        assert!(kernel_at_least("7.0.1", (6, 7)));
        assert!(!kernel_at_least("6.6.30-generic", (6, 7)));
        assert!(!kernel_at_least("5.15.0-91-generic", (6, 7)));
        assert!(!kernel_at_least("garbage", (6, 7)));
        assert!(!kernel_at_least("", (6, 7)));
    }

    /// A slot reused by the next instance holds its module's image again, whatever the last
    /// instance wrote: in its data segment, in zeroed memory, in memory it grew, below and
    /// above the bytes kept resident.
    #[test]
    fn the_pool_resets_a_slot_to_its_image() {
        let options = RuntimeOptions {
            max_concurrent_runs: 1,
            max_memory: 64 << 20,
        };
        let engine = Runtime::engine(&options).unwrap();
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/programs/scribble.wat"
        );
        let module = wasmtime::Module::new(&engine, wat::parse_file(path).unwrap()).unwrap();
        let page = 65_536;
        let grown = 40 * page;
        // The data segment, zeroed memory near the start, the last initial page, memory
        // grown by the instance (past `KEEP_RESIDENT_BYTES`).
        let spots = [
            0,
            5,
            100,
            page + 17,
            3 * page + 5,
            grown - 1,
            grown + page + 3,
        ];
        let linker = wasmtime::Linker::new(&engine);
        let mut bases = std::collections::HashSet::new();
        for round in 0..3 {
            let mut store = Store::new(&engine, ());
            store.set_epoch_deadline(1 << 30);
            let instance = linker.instantiate(&mut store, &module).unwrap();
            let peek = instance
                .get_typed_func::<u32, u32>(&mut store, "peek")
                .unwrap();
            let scribble = instance
                .get_typed_func::<u32, ()>(&mut store, "scribble")
                .unwrap();
            let size = instance
                .get_typed_func::<(), u32>(&mut store, "size")
                .unwrap();
            let memory = instance.get_memory(&mut store, "memory").unwrap();
            bases.insert(memory.data_ptr(&store) as usize);
            assert_eq!(size.call(&mut store, ()).unwrap(), 4, "round {round}");
            for &at in &spots[..5] {
                let want = if at < 5 {
                    u32::from(b"image"[at as usize])
                } else {
                    0
                };
                assert_eq!(
                    peek.call(&mut store, at).unwrap(),
                    want,
                    "round {round} at {at}"
                );
            }
            // Writes 0xAB at every spot, growing the memory to reach the last ones.
            for &at in &spots {
                scribble.call(&mut store, at).unwrap();
                assert_eq!(peek.call(&mut store, at).unwrap(), 0xAB);
            }
        }
        // Every round ran in the same slot: the test is about reuse.
        assert_eq!(bases.len(), 1);
    }

    /// A guest that passes a handle it was never given is trapped; the host process and the
    /// runtime are unaffected.
    #[test]
    fn a_guest_passing_a_bogus_handle_traps_and_the_host_is_fine() {
        let runtime = Runtime::new().unwrap();
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/programs/bogus_handle.wat"
        );
        let bytes = wat::parse_file(path).unwrap();
        let component = Component::new(&runtime.engine, &bytes).unwrap();
        let mut linker: Linker<HostState> = Linker::new(&runtime.engine);
        state::add_to_linker(&mut linker).unwrap();
        let authz = Authorizer::new(Policy::parse("").unwrap(), "tester", None);
        let fs = FsCtx::open(&crate::fs::FsConfig::default()).unwrap();
        let state = HostState::new(authz, fs, LogLevel::Info, Limits::default(), None);
        let mut store = Store::new(&runtime.engine, state);
        store.set_epoch_deadline(1_000);
        let instance = linker.instantiate(&mut store, &component).unwrap();
        let run = instance
            .get_typed_func::<(), ()>(&mut store, "run")
            .unwrap();
        let trap = run.call(&mut store, ()).unwrap_err();
        assert!(format!("{trap:?}").contains("handle"), "{trap:?}");

        let out = runtime.run(Job::new("40 + 2", Policy::parse("").unwrap()));
        assert_eq!(out.output, "42", "{out:?}");
    }
}
