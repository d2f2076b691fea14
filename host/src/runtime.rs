//! The embedding API: a [`Runtime`] (engine + compiled guest, built once, shared across
//! threads) runs [`Job`]s, each in a fresh store with its own policy, principal and limits.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

use crate::args::{ArgValue, Scalar, ScriptArgs};
use crate::authz::{Authorizer, DecisionObserver, Policy, PolicyCache};
use crate::bindings::{Script, ScriptPre, wit_runner};
use crate::limits::{Exceeded, Limits, Meter};
use crate::log::{LogBuffer, LogLevel};
use crate::outcome::{Alarm, ErrorType, Metric, MetricUnit, RunError, RunOutcome, Status};

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

/// Rex's redaction dictionary path.
pub const DEFAULT_REDACTION_DICTIONARY: &str = "/etc/opt/rex/rex_redaction.config";

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

/// Per-run host state: what the guest's imports can reach, and nothing else.
pub(crate) struct HostState {
    pub(crate) table: ResourceTable,
    pub(crate) authz: Authorizer,
    pub(crate) log: LogBuffer,
    /// Denials answered in this run; an uncaught "access denied" from the guest is believed
    /// only if the host actually denied something.
    pub(crate) denials: u32,
    pub(crate) meter: Meter,
    /// The run's `/` when it has a tenant root; `None` for the host's `/`.
    pub(crate) root: Option<cap_std::fs::Dir>,
    /// Absolute path (as the run sees it) of the redaction dictionary used by `redacted_read`.
    pub(crate) redaction_dictionary: String,
}

impl HostState {
    pub(crate) fn new(
        authz: Authorizer,
        log_level: LogLevel,
        limits: Limits,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Self {
        Self {
            table: ResourceTable::new(),
            authz,
            log: LogBuffer::new(log_level),
            denials: 0,
            meter: Meter::new(limits, cancel),
            root: None,
            redaction_dictionary: DEFAULT_REDACTION_DICTIONARY.to_string(),
        }
    }
}

/// One script run: what to run, under which policy and principal, with which limits.
#[derive(Clone)]
pub struct Job {
    pub script: String,
    pub args: ScriptArgs,
    pub policy: Policy,
    /// The Cedar principal's id (`User::"<principal>"`).
    pub principal: String,
    /// Least severe script log level kept (Rex's `LOG_LEVEL`; default `INFO`).
    pub log_level: LogLevel,
    pub limits: Limits,
    /// Sees every authorization decision of the run.
    pub observer: Option<Arc<dyn DecisionObserver>>,
    /// When set to `true` (from any thread, e.g. a signal handler), the run stops within one
    /// epoch tick (10 ms) and reports a cancellation.
    pub cancel: Option<Arc<AtomicBool>>,
    /// A directory that becomes the run's `/`: every script path, and so every Cedar resource,
    /// is resolved inside it (`..` stops at it, absolute symlinks restart at it).
    pub root: Option<PathBuf>,
    /// The redaction dictionary for `redacted_read` (Rex's `/etc/opt/rex/rex_redaction.config`
    /// by default): one regular expression per line; a line of a redacted file is kept when
    /// one matches, and shown as `[REDACTED]` otherwise. The path is as the run sees it, and
    /// reading it is authorized like any file (`open` on its directory, `open` and `read`).
    pub redaction_dictionary: String,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("principal", &self.principal)
            .field("args", &self.args.len())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// A job for `script` under `policy`, as the current OS user, with default limits.
    pub fn new(script: impl Into<String>, policy: Policy) -> Self {
        Self {
            script: script.into(),
            args: ScriptArgs::new(),
            policy,
            principal: current_user(),
            log_level: LogLevel::Info,
            limits: Limits::default(),
            observer: None,
            cancel: None,
            root: None,
            redaction_dictionary: DEFAULT_REDACTION_DICTIONARY.to_string(),
        }
    }

    /// Confines the run to `dir`, which becomes its `/` (see [`Job::root`](Job#structfield.root)).
    pub fn root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.root = Some(dir.into());
        self
    }

    /// Reads redaction patterns from `path` (as the run sees it) instead of Rex's default.
    pub fn redaction_dictionary(mut self, path: impl Into<String>) -> Self {
        self.redaction_dictionary = path.into();
        self
    }

    pub fn cancel_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    pub fn args(mut self, args: ScriptArgs) -> Self {
        self.args = args;
        self
    }

    pub fn principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = principal.into();
        self
    }

    pub fn observer(mut self, observer: Arc<dyn DecisionObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.log_level = level;
        self
    }
}

/// The name of the effective OS user, as Rex's principal (`whoami`); `uid-<n>` when the user
/// has no name.
pub fn current_user() -> String {
    let uid = rustix::process::geteuid().as_raw();
    uzers::get_user_by_uid(uid)
        .map(|u| u.name().to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("uid-{uid}"))
}

/// Engine + compiled, pre-linked guest. Build once; `Send + Sync`; [`Runtime::run`] from any
/// number of threads.
pub struct Runtime {
    engine: Engine,
    pre: ScriptPre<HostState>,
    ticker_stop: Arc<AtomicBool>,
    policies: PolicyCache,
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
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(RuntimeError::Engine)?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        // The linker holds wrex's own interfaces and nothing else: no WASI, no other authority.
        Script::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(RuntimeError::Engine)?;
        let component = crate::cache::guest_component(&engine, |bytes| {
            match preinitialize(&engine, &linker, bytes) {
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
        Ok(Self {
            engine,
            pre,
            ticker_stop,
            policies: PolicyCache::new(),
        })
    }

    /// The policy for `text`, parsed, validated and indexed once per distinct text (cached by
    /// content in this runtime).
    pub fn policy(&self, text: &str) -> Result<Policy, crate::PolicyError> {
        self.policies.get_or_parse(text)
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
        let root = match &job.root {
            None => None,
            Some(dir) => {
                match cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority()) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        let message =
                            format!("failed to open the tenant root `{}`: {e}", dir.display());
                        return RunOutcome::early_error(
                            ErrorType::InternalException,
                            &message,
                            vec![],
                        );
                    }
                }
            }
        };
        let mut state = HostState::new(
            Authorizer::new(job.policy, &job.principal, job.observer),
            job.log_level,
            job.limits,
            job.cancel,
        );
        state.root = root;
        state.redaction_dictionary = job.redaction_dictionary;
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
        finish(result, state, elapsed)
    }
}

/// Runs the guest's `wizer-initialize` (which builds the Rhai engine and registers the SDK)
/// and snapshots the initialized instance into a new component with wasmtime-wizer: every run
/// then starts from a ready engine. The initializer calls no import.
fn preinitialize(
    engine: &Engine,
    linker: &Linker<HostState>,
    component: &[u8],
) -> wasmtime::Result<Vec<u8>> {
    let mut wizer = wasmtime_wizer::Wizer::new();
    // The export stays: the host's bindings check the world's exports.
    wizer.keep_init_func(true);
    let (cx, instrumented) = wizer.instrument_component(component)?;
    let component = Component::new(engine, &instrumented)?;
    let authz = Authorizer::new(Policy::parse("")?, "wizer", None);
    let state = HostState::new(authz, LogLevel::Info, Limits::default(), None);
    let mut store = Store::new(engine, state);
    store.set_epoch_deadline(1 << 40);
    let instance = linker.instantiate(&mut store, &component)?;
    let init = instance.get_typed_func::<(), ()>(&mut store, "wizer-initialize")?;
    init.call(&mut store, ())?;
    let mut access = SnapshotAccess {
        store: &mut store,
        instance,
        error: None,
    };
    let snapshot = block_on(wizer.snapshot_component(&cx, &mut access))?;
    if let Some(e) = access.error {
        return Err(e);
    }
    snapshot
}

/// Lets wizer read the initialized instance's state, synchronously.
struct SnapshotAccess<'a> {
    store: &'a mut Store<HostState>,
    instance: wasmtime::component::Instance,
    error: Option<wasmtime::Error>,
}

impl SnapshotAccess<'_> {
    fn call<R: wasmtime::component::Lift + 'static>(
        &mut self,
        instance: &str,
        func: &str,
    ) -> Option<R> {
        let result = (|| {
            let (_, inst) = self
                .instance
                .get_export(&mut *self.store, None, instance)
                .ok_or_else(|| wasmtime::format_err!("no export `{instance}`"))?;
            let (_, f) = self
                .instance
                .get_export(&mut *self.store, Some(&inst), func)
                .ok_or_else(|| wasmtime::format_err!("no export `{instance}#{func}`"))?;
            let f = self
                .instance
                .get_typed_func::<(), (R,)>(&mut *self.store, f)?;
            Ok::<R, wasmtime::Error>(f.call(&mut *self.store, ())?.0)
        })();
        match result {
            Ok(r) => Some(r),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }
}

impl wasmtime_wizer::ComponentInstanceState for SnapshotAccess<'_> {
    fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) -> impl std::future::Future<Output = ()> + Send {
        if let Some(list) = self.call::<wasmtime::component::WasmList<u8>>(instance, func) {
            contents(list.as_le_slice(&*self.store));
        }
        std::future::ready(())
    }

    fn call_func_ret_s32(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl std::future::Future<Output = i32> + Send {
        std::future::ready(self.call::<i32>(instance, func).unwrap_or(0))
    }

    fn call_func_ret_s64(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl std::future::Future<Output = i64> + Send {
        std::future::ready(self.call::<i64>(instance, func).unwrap_or(0))
    }

    fn call_func_ret_f32(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl std::future::Future<Output = u32> + Send {
        std::future::ready(self.call::<f32>(instance, func).map_or(0, f32::to_bits))
    }

    fn call_func_ret_f64(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl std::future::Future<Output = u64> + Send {
        std::future::ready(self.call::<f64>(instance, func).map_or(0, f64::to_bits))
    }
}

/// Drives a future whose every await point is immediately ready (wizer's snapshot over the
/// synchronous accessor above).
fn block_on<F: std::future::Future>(future: F) -> wasmtime::Result<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1_000 {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return Ok(v);
        }
    }
    wasmtime::bail!("the guest snapshot did not complete")
}

fn finish(
    result: wasmtime::Result<Result<String, wit_runner::Failure>>,
    state: HostState,
    elapsed: Duration,
) -> RunOutcome {
    let mut metrics = Vec::new();
    let mut alarms = Vec::new();
    let failure = |kind: ErrorType, message: String, alarms: &mut Vec<Alarm>| {
        alarms.push(alarm("RexRunnerScriptExecutionFailure", &message));
        (String::new(), Some(RunError::new(kind, &message)))
    };
    let (output, error) = match (result, &state.meter.exceeded) {
        // A host-side limit decides the outcome, whatever the guest returned or how it trapped.
        (_, Some(exceeded)) => {
            let kind = match exceeded {
                Exceeded::Timeout(_) => ErrorType::TimeoutExceeded,
                Exceeded::Memory(_) => ErrorType::MemoryExceeded,
                Exceeded::Limit(..) => ErrorType::LimitExceeded,
                Exceeded::Cancelled => ErrorType::ScriptException,
            };
            metrics.push(Metric::count(
                "RexRunnerScriptExecutionFailureCount",
                "FailureCount",
            ));
            failure(kind, exceeded.to_string(), &mut alarms)
        }
        (Ok(Ok(output)), None) => {
            metrics.push(Metric::count(
                "RexRunnerScriptExecutionSuccessCount",
                "SuccessCount",
            ));
            (output, None)
        }
        (Ok(Err(f)), None) => {
            let kind = match f.kind {
                wit_runner::FailureKind::Compile => {
                    alarms.push(alarm("RexRunnerScriptCompilationFailure", &f.message));
                    metrics.push(Metric::count(
                        "RexRunnerScriptCompilationFailureCount",
                        "FailureCount",
                    ));
                    ErrorType::ScriptException
                }
                wit_runner::FailureKind::LimitExceeded => ErrorType::LimitExceeded,
                // Believed only if this host denied something in this run.
                wit_runner::FailureKind::AccessDenied if state.denials > 0 => {
                    alarms.push(alarm("RexRunnerPrivilegeEscalation", &f.message));
                    metrics.push(Metric::count(
                        "RexRunnerPrivilegeEscalationCount",
                        "FailureCount",
                    ));
                    ErrorType::AccessDeniedException
                }
                _ => ErrorType::ScriptException,
            };
            metrics.push(Metric::count(
                "RexRunnerScriptExecutionFailureCount",
                "FailureCount",
            ));
            failure(kind, f.message, &mut alarms)
        }
        (Err(trap), None) => {
            let message = format!("the script guest failed: {trap:#}");
            alarms.push(alarm("RexRunnerInternalAlarm", &message));
            metrics.push(Metric::count(
                "RexRunnerScriptExecutionFailureCount",
                "FailureCount",
            ));
            failure(ErrorType::InternalException, message, &mut alarms)
        }
    };
    metrics.push(Metric::new(
        "RexRunnerScriptExecutionTime",
        elapsed.as_nanos() as f64,
        MetricUnit::Time,
        "Duration",
    ));
    RunOutcome {
        output,
        status: if error.is_none() {
            Status::Success
        } else {
            Status::Error
        },
        error,
        alarms,
        metrics: Some(metrics),
        logs: Some(state.log.into_entries()),
    }
}

fn alarm(kind: &str, message: &str) -> Alarm {
    let details = if kind == "RexRunnerScriptCompilationFailure" {
        format!("Failed to compile script: {message}")
    } else {
        format!("Failed to execute script: {message}")
    };
    Alarm {
        alarm_type: kind.to_string(),
        alarm_details: Some(details),
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::component::Component;

    use super::*;

    /// The guest can be pre-initialized (the runtime falls back to the plain guest, slower,
    /// if it cannot; this catches that regression).
    #[test]
    fn the_guest_preinitializes() {
        let runtime = Runtime::new().unwrap();
        let mut linker: Linker<HostState> = Linker::new(&runtime.engine);
        Script::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s).unwrap();
        let snapshot = preinitialize(
            &runtime.engine,
            &linker,
            crate::cache::guest_component_bytes(),
        )
        .unwrap();
        assert!(!snapshot.is_empty());
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
        Script::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s).unwrap();
        let authz = Authorizer::new(Policy::parse("").unwrap(), "tester", None);
        let state = HostState::new(authz, LogLevel::Info, Limits::default(), None);
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
