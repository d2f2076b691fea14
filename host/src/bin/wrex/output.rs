//! Output formats: Rex's result JSON (compact or pretty) and a human-readable form.

use std::io::Write;
use std::process::ExitCode;

use wrex::outcome::Alarm;
use wrex::{ErrorType, RunOutcome};

pub(crate) fn early(error_type: ErrorType, message: &str, alarms: Vec<Alarm>) -> ExitCode {
    // As Rex: errors before the script runs are compact JSON whatever the format, exit 1.
    let outcome = RunOutcome::early_error(error_type, message, alarms);
    match print_json(&outcome, false) {
        Ok(()) => ExitCode::from(1),
        Err(_) => ExitCode::from(1),
    }
}

pub(crate) fn print_json(outcome: &RunOutcome, pretty: bool) -> std::io::Result<()> {
    let bytes = if pretty {
        serde_json::to_vec_pretty(outcome)
    } else {
        serde_json::to_vec(outcome)
    }
    .map_err(std::io::Error::other)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.flush()
}

pub(crate) fn print_human(outcome: &RunOutcome, verbose: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if verbose {
        for entry in outcome.logs.iter().flatten() {
            writeln!(
                out,
                "[{}] {}",
                entry.attributes.level, entry.attributes.message
            )?;
        }
    }
    match &outcome.error {
        None if !outcome.output.is_empty() => writeln!(out, "{}", outcome.output)?,
        None => {}
        Some(e) => {
            out.flush()?;
            eprintln!("error: {}", e.message);
        }
    }
    if verbose {
        writeln!(out, "--- metrics ---")?;
        for m in outcome.metrics.iter().flatten() {
            writeln!(out, "{}: {}", m.metric_name, m.metric_value)?;
        }
    }
    out.flush()
}
