//! The run result, serialized exactly as Rex's `RunnerExecutionOutput` (see `docs/rex-compat.md`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::labels::Lineage;
use crate::log::LogEntry;
use crate::time::Timestamp;

/// Longest error message in a result (Rex's cap); longer ones end with `...`.
pub const MAX_ERROR_MESSAGE: usize = 1024;
const EMPTY_ERROR_MESSAGE: &str = "Error message could not be included into the result";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Error,
}

/// Rex's error types, plus wrex's limit errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ErrorType {
    /// Bad script arguments (depth, names).
    ValidationException,
    /// The script's uncaught error was a Cedar denial.
    AccessDeniedException,
    /// wrex itself failed: a bad policy, a guest trap.
    InternalException,
    /// The script failed to compile or raised an error.
    ScriptException,
    /// An input file could not be read or parsed.
    CommunicationException,
    /// The run hit its wall-clock deadline.
    TimeoutExceeded,
    /// The sandbox's memory cap was hit.
    MemoryExceeded,
    /// A count or size limit was hit (the message names it).
    LimitExceeded,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunError {
    pub error_type: ErrorType,
    pub message: String,
}

impl RunError {
    pub fn new(error_type: ErrorType, message: &str) -> Self {
        Self {
            error_type,
            message: truncate_error(message),
        }
    }
}

/// Rex's rule: empty → a fixed text; longer than 1024 → 1021 characters' worth + `...` (cut on
/// a character boundary).
fn truncate_error(message: &str) -> String {
    if message.is_empty() {
        return EMPTY_ERROR_MESSAGE.to_string();
    }
    if message.len() <= MAX_ERROR_MESSAGE {
        return message.to_string();
    }
    format!(
        "{}...",
        &message[..message.floor_char_boundary(MAX_ERROR_MESSAGE - 3)]
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct Alarm {
    pub alarm_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_details: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MetricUnit {
    Count,
    Time,
    Megabytes,
    Percent,
    Undefined,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub metric_name: String,
    pub metric_value: f64,
    pub metric_unit: MetricUnit,
    pub metric_dimension: BTreeMap<String, String>,
    pub metric_timestamp: String,
}

impl Metric {
    pub fn new(name: &str, value: f64, unit: MetricUnit, info: &str) -> Self {
        Self {
            metric_name: name.to_string(),
            metric_value: value,
            metric_unit: unit,
            metric_dimension: [("MetricInfo".to_string(), info.to_string())].into(),
            metric_timestamp: Timestamp::now().rfc3339(),
        }
    }

    pub fn count(name: &str, info: &str) -> Self {
        Self::new(name, 1.0, MetricUnit::Count, info)
    }
}

/// The outcome of one run, serialized as Rex's result JSON.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// Rhai's display string of the script's final value (`""` on error).
    pub output: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<Alarm>,
    /// Absent only for errors before the script ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<Metric>>,
    /// Absent only for errors before the script ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<LogEntry>>,
    /// The labels of the data the script read and wrote (wrex's addition; absent when it
    /// touched no labelled data, so the result is Rex's).
    #[serde(skip_serializing_if = "Lineage::is_empty")]
    pub lineage: Lineage,
}

impl RunOutcome {
    /// A failure before the script ran (bad input file, policy or arguments).
    pub fn early_error(error_type: ErrorType, message: &str, alarms: Vec<Alarm>) -> Self {
        Self {
            output: String::new(),
            status: Status::Error,
            error: Some(RunError::new(error_type, message)),
            alarms,
            metrics: None,
            logs: None,
            lineage: Lineage::default(),
        }
    }

    pub fn is_success(&self) -> bool {
        self.status == Status::Success
    }

    pub fn error_type(&self) -> Option<ErrorType> {
        self.error.as_ref().map(|e| e.error_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_capped() {
        assert_eq!(truncate_error(""), EMPTY_ERROR_MESSAGE);
        let long = "é".repeat(1000);
        let cut = truncate_error(&long);
        assert!(cut.len() <= MAX_ERROR_MESSAGE && cut.ends_with("..."));
    }
}
