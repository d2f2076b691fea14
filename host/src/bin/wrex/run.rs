//! One run from the command line: load the inputs, run the job, print the result.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use wrex::outcome::{Alarm, Metric, MetricUnit};
use wrex::{ArgsError, ErrorType, LogLevel, Policy, Runtime, RuntimeOptions, ScriptArgs};

use crate::flags::{Format, Inputs};
use crate::input::{MAX_ARGS_BYTES, input_failed, read_input};
use crate::monitor::Monitor;
use crate::output::{early, print_human, print_json};
use crate::setup::Setup;

pub(crate) fn run(inputs: Inputs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let limits = match inputs.common.job.limits.to_limits() {
        Ok(l) => l,
        Err(m) => return Ok(early(ErrorType::ValidationException, &m, vec![])),
    };
    let script = match read_input("script", &inputs.script, limits.max_script_bytes as u64) {
        Ok(s) => s,
        Err(e) => return Ok(input_failed(e)),
    };
    let policy_text = match read_input("policy", &inputs.policy, wrex::authz::MAX_POLICY_BYTES) {
        Ok(s) => s,
        Err(e) => return Ok(input_failed(e)),
    };
    let args = match &inputs.args {
        None => ScriptArgs::new(),
        Some(path) => {
            let text = match read_input("script arguments", path, MAX_ARGS_BYTES) {
                Ok(s) => s,
                Err(e) => return Ok(input_failed(e)),
            };
            match ScriptArgs::from_json(&text) {
                Ok(a) => a,
                Err(ArgsError::Malformed(m)) => {
                    let m = format!("Failed to load input files: {}: {m}", path.display());
                    return Ok(early(ErrorType::CommunicationException, &m, vec![]));
                }
                Err(ArgsError::Invalid(m)) => {
                    let alarm = Alarm {
                        alarm_type: "RexRunnerScriptArgumentValidationFailure".into(),
                        alarm_details: Some(m.clone()),
                    };
                    return Ok(early(ErrorType::ValidationException, &m, vec![alarm]));
                }
            }
        }
    };
    // Parsing the schema and the policy (2–3 ms, mostly Cedar's parser) and loading the
    // compiled guest (about 2 ms) do not depend on each other: do them at once.
    let policy_name = inputs.policy.display().to_string();
    let parsing = std::thread::Builder::new()
        .name("wrex-policy".into())
        .spawn(move || Policy::parse_named(&policy_text, &policy_name))
        .context("failed to start a thread")?;
    let options = RuntimeOptions {
        max_concurrent_runs: 1,
        max_memory: limits.memory,
    };
    let runtime = Runtime::with_options(&options);
    let parsed = parsing
        .join()
        .map_err(|_| anyhow::anyhow!("parsing the policy panicked"))?;
    let policy = match parsed {
        Ok(p) => p,
        Err(e) => {
            return Ok(early(
                ErrorType::InternalException,
                &format!("Failed to create Rhai engine: {e}"),
                vec![],
            ));
        }
    };
    for id in policy.duplicate_ids() {
        tracing::warn!(
            "policy {}: @id({id:?}) names more than one policy; denials and the audit log name policies by @id",
            inputs.policy.display()
        );
    }
    let common = &inputs.common;
    let log_level = match std::env::var("LOG_LEVEL") {
        Ok(level) => match level.parse::<LogLevel>() {
            Ok(l) => l,
            Err(m) => {
                return Ok(early(
                    ErrorType::ValidationException,
                    &format!("LOG_LEVEL: {m}"),
                    vec![],
                ));
            }
        },
        Err(_) => LogLevel::Info,
    };
    // One run, so a pool of one slot, sized to this run's memory limit.
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => return Ok(early(ErrorType::InternalException, &e.to_string(), vec![])),
    };
    let setup = match Setup::new(&common.job, limits) {
        Ok(s) => s,
        Err((kind, message)) => return Ok(early(kind, &message, vec![])),
    };
    let mut job = setup
        .job(script, policy)
        .args(args)
        .log_level(log_level)
        .cancel_flag(inputs.cancel);
    // The files this run was given are the runtime's, not the script's to change.
    job = job.protect(&inputs.policy).protect(&inputs.script);
    if let Some(args) = &inputs.args {
        job = job.protect(args);
    }
    let monitor = Monitor::start();
    let mut outcome = runtime.run(job);
    let process_metrics = monitor.finish();
    if let Some(metrics) = outcome.metrics.as_mut() {
        metrics.extend(process_metrics);
        metrics.push(Metric::new(
            "RexRunnerTotalExecutionTime",
            started.elapsed().as_nanos() as f64,
            MetricUnit::Time,
            "Duration",
        ));
    }
    let printed = match common.output {
        Format::Json => print_json(&outcome, false),
        Format::PrettyJson => print_json(&outcome, true),
        Format::Human => print_human(&outcome, common.verbose),
    };
    printed.context("failed to write the result")?;
    // The process ends here: unmapping the compiled guest and the pool one by one would only
    // delay its exit (the kernel frees them at once).
    std::mem::forget(runtime);
    Ok(ExitCode::SUCCESS)
}
