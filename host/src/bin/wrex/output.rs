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

/// Text from a script made safe for a terminal: control characters (escape sequences that
/// move the cursor or set the window title, carriage returns that overwrite a line) are shown
/// escaped (`\u{1b}`); newlines and tabs are kept only where `multiline`.
pub(crate) fn terminal_safe(text: &str, multiline: bool) -> std::borrow::Cow<'_, str> {
    let keep = |c: char| multiline && (c == '\n' || c == '\t');
    if !text.chars().any(|c| c.is_control() && !keep(c)) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c.is_control() && !keep(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// The human form. Everything a script wrote passes through [`terminal_safe`]: a log entry
/// is one line, so a script cannot print a line that looks like wrex's own, and output comes
/// under its own heading when logs are shown.
pub(crate) fn print_human(outcome: &RunOutcome, verbose: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if verbose {
        for entry in outcome.logs.iter().flatten() {
            writeln!(
                out,
                "[{}] {}",
                entry.attributes.level,
                terminal_safe(&entry.attributes.message, false)
            )?;
        }
        writeln!(out, "--- output ---")?;
    }
    match &outcome.error {
        None if !outcome.output.is_empty() => {
            writeln!(out, "{}", terminal_safe(&outcome.output, true))?;
        }
        None => {}
        Some(e) => {
            out.flush()?;
            eprintln!("error: {}", terminal_safe(&e.message, false));
        }
    }
    // The labels of the data the script touched: whoever reads the output should know.
    let lineage = &outcome.lineage;
    if !lineage.is_empty() {
        let list = |labels: &std::collections::BTreeSet<String>| {
            let joined = labels.iter().cloned().collect::<Vec<_>>().join(", ");
            terminal_safe(if joined.is_empty() { "-" } else { &joined }, false).into_owned()
        };
        out.flush()?;
        eprintln!(
            "lineage: read {}; written {}",
            list(&lineage.read),
            list(&lineage.written)
        );
    }
    if verbose {
        writeln!(out, "--- metrics ---")?;
        for m in outcome.metrics.iter().flatten() {
            writeln!(out, "{}: {}", m.metric_name, m.metric_value)?;
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn control_characters_are_escaped_for_the_terminal() {
        let title = "\u{1b}]0;pwned\u{7}ok";
        assert_eq!(terminal_safe(title, true), "\\u{1b}]0;pwned\\u{7}ok");
        assert_eq!(terminal_safe("a\nb\tc", true), "a\nb\tc");
        assert_eq!(terminal_safe("a\n[ERROR] fake", false), "a\\n[ERROR] fake");
        assert_eq!(terminal_safe("over\rwrite", true), "over\\rwrite");
        assert_eq!(terminal_safe("plain é", false), "plain é");
    }
}
