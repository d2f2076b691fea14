//! The script log: `info`/`warn`/`error`/`trace`/`debug` entries, timestamped and bounded by the
//! host (a ring of [`MAX_ENTRIES`] entries, messages cut at [`MAX_MESSAGE_BYTES`] on a character
//! boundary), returned as the result's `logs`.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::bindings::wit_log;
use crate::limits::Meter;
use crate::outcome::{Alarm, Metric, MetricUnit};
use crate::time::Timestamp;

/// Most log entries kept per run (Rex's ring size); older ones are evicted.
pub const MAX_ENTRIES: usize = 1000;
/// Longest message kept, in bytes (Rex's cap); longer ones end with [`TRUNCATION_SUFFIX`].
pub const MAX_MESSAGE_BYTES: usize = 2048;
pub const TRUNCATION_SUFFIX: &str = "...[truncate]";
const EVICTION_WARNING: &str =
    "Warning: Log buffer capacity exceeded. Some earlier log entries were removed to fit new logs.";

/// A log level, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
        })
    }
}

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "TRACE" => Ok(Self::Trace),
            "DEBUG" => Ok(Self::Debug),
            "INFO" => Ok(Self::Info),
            "WARN" => Ok(Self::Warn),
            "ERROR" => Ok(Self::Error),
            _ => Err(format!(
                "unknown log level `{s}`: expected TRACE, DEBUG, INFO, WARN or ERROR"
            )),
        }
    }
}

impl From<wit_log::Level> for LogLevel {
    fn from(l: wit_log::Level) -> Self {
        match l {
            wit_log::Level::Trace => Self::Trace,
            wit_log::Level::Debug => Self::Debug,
            wit_log::Level::Info => Self::Info,
            wit_log::Level::Warn => Self::Warn,
            wit_log::Level::Error => Self::Error,
        }
    }
}

/// One log entry, serialized as Rex does: `{"attributes": {timestamp, level, message, line_number}}`.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub attributes: LogAttributes,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogAttributes {
    /// `2026-11-21 23:22:34.390191904 UTC`.
    pub timestamp: String,
    pub level: LogLevel,
    pub message: String,
    /// The script line, as a string (Rex's shape).
    pub line_number: String,
}

/// The bounded log of one run.
#[derive(Debug)]
pub struct LogBuffer {
    min_level: LogLevel,
    entries: VecDeque<LogEntry>,
    evicted: bool,
}

/// Cuts `message` to at most [`MAX_MESSAGE_BYTES`] bytes on a character boundary (Rex panics
/// when the cut falls inside a character, see `docs/rex-compat.md`).
pub fn truncate_message(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message.to_string();
    }
    let cut = message.floor_char_boundary(MAX_MESSAGE_BYTES - TRUNCATION_SUFFIX.len());
    format!("{}{TRUNCATION_SUFFIX}", &message[..cut])
}

impl LogBuffer {
    pub fn new(min_level: LogLevel) -> Self {
        Self {
            min_level,
            entries: VecDeque::new(),
            evicted: false,
        }
    }

    pub fn push(&mut self, level: LogLevel, message: &str, line: u32) {
        if level < self.min_level {
            return;
        }
        if self.entries.len() == MAX_ENTRIES {
            self.entries.pop_front();
            self.evicted = true;
        }
        self.entries
            .push_back(entry(level, truncate_message(message), line));
    }

    /// The entries, led by a warning when some were evicted.
    pub fn into_entries(self) -> Vec<LogEntry> {
        let mut out = Vec::with_capacity(self.entries.len() + 1);
        if self.evicted {
            out.push(entry(LogLevel::Warn, EVICTION_WARNING.to_string(), 0));
        }
        out.extend(self.entries);
        out
    }
}

fn entry(level: LogLevel, message: String, line: u32) -> LogEntry {
    LogEntry {
        attributes: LogAttributes {
            timestamp: Timestamp::now().display_utc(),
            level,
            message,
            line_number: line.to_string(),
        },
    }
}

/// What the `log` host functions reach: the run's log, the metrics and alarms the script
/// published, and its meter (every entry is a host call).
pub(crate) struct LogView<'a> {
    pub(crate) log: &'a mut LogBuffer,
    pub(crate) published: &'a mut Published,
    pub(crate) meter: &'a mut Meter,
}

/// Most script metrics (distinct names) and alarms a run keeps.
const MAX_PUBLISHED: usize = 100;
/// Most dimensions of one metric.
const MAX_DIMENSIONS: usize = 16;
/// Longest metric name, alarm type, dimension key or value, in bytes.
const MAX_NAME_BYTES: usize = 256;

/// The metrics (by name: a later one replaces an earlier) and alarms a script published.
#[derive(Debug, Default)]
pub(crate) struct Published {
    pub(crate) metrics: std::collections::BTreeMap<String, Metric>,
    pub(crate) alarms: Vec<Alarm>,
}

fn check_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{what} `{}` must be 1 to {MAX_NAME_BYTES} bytes",
            name.escape_debug()
        ));
    }
    Ok(())
}

impl Published {
    fn metric(
        &mut self,
        name: String,
        value: f64,
        unit: MetricUnit,
        dimensions: Vec<(String, String)>,
    ) -> Result<(), String> {
        if name.to_ascii_lowercase().starts_with("rex") {
            return Err(format!(
                "Script metric validation failed: Invalid metric name '{name}': Script metrics cannot start with Rex"
            ));
        }
        check_name("metric name", &name)?;
        if !value.is_finite() {
            return Err(format!(
                "metric `{name}`: value {value} is not a finite number"
            ));
        }
        if dimensions.len() > MAX_DIMENSIONS {
            return Err(format!(
                "metric `{name}`: {} dimensions, at most {MAX_DIMENSIONS}",
                dimensions.len()
            ));
        }
        for (k, v) in &dimensions {
            check_name("dimension key", k)?;
            check_name("dimension value", v)?;
        }
        if !self.metrics.contains_key(&name) && self.metrics.len() >= MAX_PUBLISHED {
            return Err(format!(
                "metric `{name}`: a run publishes at most {MAX_PUBLISHED} metrics"
            ));
        }
        let metric = Metric {
            metric_name: name.clone(),
            metric_value: value,
            metric_unit: unit,
            metric_dimension: dimensions.into_iter().collect(),
            metric_timestamp: Timestamp::now().rfc3339(),
        };
        self.metrics.insert(name, metric);
        Ok(())
    }

    fn alarm(&mut self, alarm_type: String, details: Option<String>) -> Result<(), String> {
        check_name("alarm type", &alarm_type)?;
        if self.alarms.len() >= MAX_PUBLISHED {
            return Err(format!(
                "alarm `{alarm_type}`: a run publishes at most {MAX_PUBLISHED} alarms"
            ));
        }
        self.alarms.push(Alarm {
            alarm_type,
            alarm_details: details.map(|d| truncate_message(&d)),
        });
        Ok(())
    }
}

crate::bindings::capability_linker!(wit_log, LogView, "log");

impl wit_log::Host for LogView<'_> {
    fn emit(&mut self, level: wit_log::Level, message: String, line: u32) -> wasmtime::Result<()> {
        self.meter.host_call()?;
        self.log.push(level.into(), &message, line);
        Ok(())
    }

    fn publish_metric(
        &mut self,
        name: String,
        value: f64,
        unit: wit_log::MetricUnit,
        dimensions: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<(), String>> {
        self.meter.host_call()?;
        let unit = match unit {
            wit_log::MetricUnit::Undefined => MetricUnit::Undefined,
            wit_log::MetricUnit::Count => MetricUnit::Count,
            wit_log::MetricUnit::Time => MetricUnit::Time,
            wit_log::MetricUnit::Megabytes => MetricUnit::Megabytes,
            wit_log::MetricUnit::Percent => MetricUnit::Percent,
        };
        Ok(self.published.metric(name, value, unit, dimensions))
    }

    fn publish_alarm(
        &mut self,
        alarm_type: String,
        details: Option<String>,
    ) -> wasmtime::Result<Result<(), String>> {
        self.meter.host_call()?;
        Ok(self.published.alarm(alarm_type, details))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundary() {
        let long = format!("{}é{}", "a".repeat(2034), "b".repeat(100));
        let cut = truncate_message(&long);
        assert!(cut.len() <= MAX_MESSAGE_BYTES);
        assert!(cut.ends_with(TRUNCATION_SUFFIX));
    }

    #[test]
    fn evicts_oldest_and_warns() {
        let mut log = LogBuffer::new(LogLevel::Info);
        for i in 0..1100 {
            log.push(LogLevel::Info, &format!("m{i}"), 1);
        }
        log.push(LogLevel::Debug, "hidden", 1);
        let entries = log.into_entries();
        assert_eq!(entries.len(), 1001);
        assert_eq!(entries[0].attributes.level, LogLevel::Warn);
        assert_eq!(entries[1].attributes.message, "m100");
    }
}
