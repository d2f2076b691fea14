//! A run's end: the guest's result, the host's limits and the authorizer's record of denials
//! become Rex's result (output, error type, alarms, metrics, logs).

use std::time::Duration;

use super::state::HostState;
use crate::bindings::wit_runner;
use crate::limits::Exceeded;
use crate::outcome::{Alarm, ErrorType, Metric, MetricUnit, RunError, RunOutcome, Status};

pub(super) fn finish(
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
    let (output, error) = match (result, state.meter.exceeded()) {
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
                // Believed only if the message is this host's own record of the denial the
                // guest names: a script cannot make a denial up or change what it names.
                wit_runner::FailureKind::AccessDenied if confirmed(&state, &f) => {
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
    // What the script published (MetricBuilder, AlarmBuilder), after the runner's own.
    let published = state.published;
    metrics.extend(published.metrics.into_values());
    alarms.extend(published.alarms);
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
        lineage: state.authz.lineage(),
    }
}

/// Whether an uncaught access denial is one this host answered: the failure names a denial
/// of the run, and its message is `<Source>: PermissionDenied: <the host's text of it>`,
/// optionally followed by the script position.
fn confirmed(state: &HostState, failure: &wit_runner::Failure) -> bool {
    let Some(denied) = failure.denial.and_then(|id| state.authz.denial(id)) else {
        return false;
    };
    let Some((source, rest)) = failure.message.split_once(": PermissionDenied: ") else {
        return false;
    };
    let Some(after) = rest.strip_prefix(&denied.message()) else {
        return false;
    };
    let is_position = |s: &str| {
        s.strip_prefix(" (line ")
            .and_then(|s| s.strip_suffix(')'))
            .is_some_and(|s| {
                s.split(", position ")
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
    };
    !source.is_empty()
        && source.bytes().all(|b| b.is_ascii_alphanumeric())
        && (after.is_empty() || is_position(after))
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
