//! A [`Job`]: one script run, with its policy, principal, limits and per-capability
//! configuration.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::args::ScriptArgs;
use crate::audit::AuditLog;
use crate::authz::{DecisionObserver, Enforcement, Policy};
use crate::fs::FsConfig;
use crate::labels::{LabelConfig, LabelFile};
use crate::limits::Limits;
use crate::log::LogLevel;

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
    /// The file-system capability's configuration: the run's root and redaction dictionary.
    pub fs: FsConfig,
    /// The parties the run acts for, the one it acts for directly first (e.g. a human, then
    /// the agent, then a sub-agent); policies see it as `context.on_behalf_of`.
    pub on_behalf_of: Vec<String>,
    /// The audit log every decision of the run is written to.
    pub audit: Option<Arc<AuditLog>>,
    /// Whether denials are applied or only reported (report-only mode).
    pub enforcement: Enforcement,
    /// What the run is for; policies see it as `context.purpose`, the audit log records it.
    pub purpose: Option<String>,
    /// Where the data labels of files and directories come from, and the labels' read
    /// budgets.
    pub labels: LabelConfig,
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
            fs: FsConfig::default(),
            on_behalf_of: Vec::new(),
            audit: None,
            enforcement: Enforcement::Enforce,
            purpose: None,
            labels: LabelConfig::default(),
        }
    }

    /// What the run is for (`context.purpose`, e.g. `incident-4711`).
    pub fn purpose(mut self, purpose: impl Into<String>) -> Self {
        self.purpose = Some(purpose.into());
        self
    }

    /// Data labels and read budgets from an entities file (see [`LabelFile::parse`]).
    pub fn entities(mut self, file: LabelFile) -> Self {
        self.labels.file = std::sync::Arc::new(file);
        self
    }

    /// At most `bytes` of data labelled `label` (`phi`, or `classification:phi`) may be
    /// read in the run; reading past it is denied, naming the label.
    pub fn budget(mut self, label: impl Into<String>, bytes: u64) -> Self {
        self.labels.budgets.insert(label.into(), bytes);
        self
    }

    /// Whether labels are read from `user.wrex.*` extended attributes (default: yes).
    pub fn xattr_labels(mut self, read: bool) -> Self {
        self.labels.xattrs = read;
        self
    }

    /// Report-only mode (Rex's permissive mode): denials are recorded as would-have-denied,
    /// with the policies that decided, and the operation proceeds; with `allow_writes`
    /// false, denials of actions that change something are still applied. The runtime's own
    /// state stays out of reach.
    pub fn report_only(mut self, allow_writes: bool) -> Self {
        self.enforcement = if allow_writes {
            Enforcement::ReportAll
        } else {
            Enforcement::ReportReads
        };
        self
    }

    /// The parties the run acts for, the first one first (`context.on_behalf_of`).
    pub fn on_behalf_of(mut self, chain: Vec<String>) -> Self {
        self.on_behalf_of = chain;
        self
    }

    /// Writes every decision of the run, and its start and end, to `log`.
    pub fn audit(mut self, log: Arc<AuditLog>) -> Self {
        self.audit = Some(log);
        self
    }

    /// Confines the run to `dir`, which becomes its `/` (see [`FsConfig::root`]).
    pub fn root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.fs.root = Some(dir.into());
        self
    }

    /// Reads redaction patterns from `path` (as the run sees it) instead of Rex's default.
    pub fn redaction_dictionary(mut self, path: impl Into<String>) -> Self {
        self.fs.redaction_dictionary = path.into();
        self
    }

    /// Puts the host path `path` (a file or a directory and everything below it) outside the
    /// script's reach whatever the policy says (see [`FsConfig::protected`]).
    pub fn protect(mut self, path: impl Into<PathBuf>) -> Self {
        self.fs.protected.push(path.into());
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

/// Most bytes of a run's purpose.
pub const MAX_PURPOSE_BYTES: usize = 256;

/// Why `purpose` is not acceptable as a run's purpose, if it is not: 1 to 256 bytes, no
/// control characters.
pub fn check_purpose(purpose: &str) -> Result<(), String> {
    if purpose.is_empty()
        || purpose.len() > MAX_PURPOSE_BYTES
        || purpose.chars().any(char::is_control)
    {
        Err(format!(
            "the purpose `{}` must be 1 to {MAX_PURPOSE_BYTES} bytes without control characters",
            purpose.escape_debug()
        ))
    } else {
        Ok(())
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
