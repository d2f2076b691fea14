//! One run from the command line: load the inputs, run the job, print the result.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use wrex::outcome::{Alarm, Metric, MetricUnit};
use wrex::{ArgsError, ErrorType, Job, LogLevel, Policy, Runtime, RuntimeOptions, ScriptArgs};

use crate::flags::{Format, Inputs};
use crate::input::{MAX_ARGS_BYTES, input_failed, read_input};
use crate::monitor::Monitor;
use crate::output::{early, print_human, print_json};

pub(crate) fn run(inputs: Inputs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let limits = match inputs.common.limits.to_limits() {
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
    let policy = match Policy::parse_named(&policy_text, &inputs.policy.display().to_string()) {
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
    let options = RuntimeOptions {
        max_concurrent_runs: 1,
        max_memory: limits.memory,
    };
    let runtime = match Runtime::with_options(&options) {
        Ok(r) => r,
        Err(e) => return Ok(early(ErrorType::InternalException, &e.to_string(), vec![])),
    };
    let mut job = Job::new(script, policy)
        .args(args)
        .log_level(log_level)
        .limits(limits)
        .cancel_flag(inputs.cancel);
    if let Some(principal) = &common.principal {
        job = job.principal(principal.clone());
    }
    job = job.on_behalf_of(common.on_behalf_of.clone());
    if let Some(purpose) = &common.purpose {
        job = job.purpose(purpose.clone());
    }
    if let Some(path) = &common.entities {
        match crate::input::load_entities(path) {
            Ok(file) => job = job.entities(file).protect(path),
            Err(m) => return Ok(early(ErrorType::CommunicationException, &m, vec![])),
        }
    }
    for (label, bytes) in &common.budget {
        job = job.budget(label.clone(), *bytes);
    }
    job = job.xattr_labels(!common.no_xattr_labels);
    if common.permissive {
        job = job.report_only(common.permissive_allow_writes);
    }
    if let Some(path) = &common.audit {
        let key = match &common.audit_key {
            None => None,
            Some(key_path) => match read_input("audit key", key_path, 1024) {
                Ok(k) => {
                    job = job.protect(key_path);
                    Some(k)
                }
                Err(e) => return Ok(input_failed(e)),
            },
        };
        match wrex::audit::AuditLog::open_signed(path, key.as_deref()) {
            Ok(log) => job = job.audit(log).protect(path),
            Err(e) => return Ok(early(ErrorType::InternalException, &e.to_string(), vec![])),
        }
    }
    if let Some(root) = &common.root {
        job = job.root(root.clone());
    }
    job = job.redaction_dictionary(common.redaction_dictionary.clone());
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
    Ok(ExitCode::SUCCESS)
}
