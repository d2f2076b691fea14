//! Input files (script, policy, arguments): bounded reads with Rex's error messages.

use std::fmt;
use std::path::Path;
use std::process::ExitCode;

use wrex::ErrorType;

use crate::output::early;

/// Why an input file was not loaded.
pub(crate) enum InputError {
    Read(String),
    TooLarge(String),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(m) | Self::TooLarge(m) => f.write_str(m),
        }
    }
}

/// Reads a UTF-8 input file of at most `max` bytes (0: no limit), without reading more than
/// that from a larger one.
pub(crate) fn read_input(what: &str, path: &Path, max: u64) -> Result<String, InputError> {
    let fail = |e: std::io::Error| {
        InputError::Read(format!(
            "Failed to load input files: Failed to read {what} file: {}: {e}",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    let limit = if max == 0 {
        u64::MAX
    } else {
        max.saturating_add(1)
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, limit), &mut bytes).map_err(fail)?;
    if max != 0 && bytes.len() as u64 > max {
        return Err(InputError::TooLarge(format!(
            "Limit exceeded: {what} file {} is larger than {max} bytes",
            path.display()
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        InputError::Read(format!(
            "Failed to load input files: Failed to read {what} file: {}: stream did not contain valid UTF-8",
            path.display()
        ))
    })
}

pub(crate) fn input_failed(e: InputError) -> ExitCode {
    let (kind, message) = input_failed_parts(e);
    early(kind, &message, vec![])
}

/// The error type and message of an input that was not loaded.
pub(crate) fn input_failed_parts(e: InputError) -> (ErrorType, String) {
    match e {
        InputError::Read(m) => (ErrorType::CommunicationException, m),
        InputError::TooLarge(m) => (ErrorType::LimitExceeded, m),
    }
}

/// Largest entities file read, in bytes.
pub(crate) const MAX_ENTITIES_BYTES: u64 = 64 << 20;

/// Reads and validates an entities file (`--entities`).
pub(crate) fn load_entities(path: &Path) -> Result<wrex::LabelFile, String> {
    let text = read_input("entities", path, MAX_ENTITIES_BYTES).map_err(|e| e.to_string())?;
    wrex::LabelFile::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Largest script-arguments file read, in bytes.
pub(crate) const MAX_ARGS_BYTES: u64 = 8 << 20;
