//! Command-line flags: Rex's runner interface (`-s/-p/-a/-o/-v`), `wrex run`, and wrex's own
//! flags (principal, root, redaction dictionary, limits).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use wrex::Limits;

/// Run a Rhai script in a WebAssembly sandbox; every host operation it attempts is authorized
/// by a Cedar policy first.
#[derive(Parser, Debug)]
#[command(
    name = "wrex",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    /// Rhai script to run (Rex's flag).
    #[arg(
        short = 's',
        long = "script-file",
        value_name = "FILE",
        required = true
    )]
    pub(crate) script_file: Option<PathBuf>,

    /// Cedar policy file (Rex's flag).
    #[arg(
        short = 'p',
        long = "policy-file",
        value_name = "FILE",
        required = true
    )]
    pub(crate) policy_file: Option<PathBuf>,

    /// Script arguments JSON file (Rex's flag).
    #[arg(short = 'a', long = "script-arguments-file", value_name = "FILE")]
    pub(crate) script_arguments_file: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) common: Common,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run a script.
    Run {
        /// Rhai script to run.
        script: PathBuf,
        /// Cedar policy file.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// Script arguments JSON file (Rex's format).
        #[arg(long, value_name = "FILE")]
        args: Option<PathBuf>,
        #[command(flatten)]
        common: Box<Common>,
    },
    /// Work with audit logs.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Work with policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Answer one authorization question without running a script: would the policy allow
    /// ACTION on RESOURCE, and by which policy (or why not)? Labels come from `--entities`
    /// only (no extended attributes are read: the question is about the policy). Exit
    /// status 0: allowed; 1: denied; 2: bad input.
    Explain(Question),
    /// Serve the Model Context Protocol: tools `run_script`, `list_functions` and `explain`
    /// over stdio (default) or streamable HTTP (`--http`), under one policy, limits, root and
    /// audit log fixed at start.
    Mcp(Box<McpArgs>),
    /// List the script SDK: every function with its signature, what it does, and the Cedar
    /// actions and resource types it checks (asked of the sandboxed interpreter itself).
    Functions {
        /// Print JSON (one object per function) instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `wrex mcp`'s flags.
#[derive(Args, Debug)]
pub(crate) struct McpArgs {
    /// Cedar policy file every run is authorized against.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: PathBuf,
    /// Serve streamable HTTP at ADDR (e.g. `127.0.0.1:8383`, path `/mcp`) instead of stdio.
    /// Only a loopback address, unless `--bearer-token-file` is given.
    #[arg(long, value_name = "ADDR")]
    pub(crate) http: Option<std::net::SocketAddr>,
    /// With `--http`: every request must carry `Authorization: Bearer <the file's contents>`.
    #[arg(long, value_name = "FILE", requires = "http")]
    pub(crate) bearer_token_file: Option<PathBuf>,
    /// Scripts run at once; a call beyond it is refused with a clear error [default: 4].
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) max_concurrent_runs: u32,
    #[command(flatten)]
    pub(crate) job: JobArgs,
}

/// `wrex explain`'s question.
#[derive(Args, Debug)]
pub(crate) struct Question {
    /// Cedar policy file.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: PathBuf,
    /// The action's UID, e.g. `file_system::Action::"read"`.
    #[arg(long)]
    pub(crate) action: String,
    /// The resource's UID, e.g. `file_system::File::"/var/log/syslog"`.
    #[arg(long)]
    pub(crate) resource: String,
    #[command(flatten)]
    pub(crate) asker: AskerArgs,
    /// The request context as a JSON object, e.g. `{"destination": {…}}` for `move`.
    #[arg(long, value_name = "JSON")]
    pub(crate) context: Option<String>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum PolicyCommand {
    /// Validate a policy file against wrex's schema: errors with line and column, warnings
    /// for duplicate `@id`s. Exit status 0: valid; 1: invalid.
    Check {
        /// The Cedar policy file.
        file: PathBuf,
    },
    /// Write a least-privilege policy from audit logs (e.g. of `--permissive` runs): a
    /// permit for every action each principal asked for, on exactly those resources, or on a
    /// directory where it asked for SIBLINGS or more of its entries. Printed to standard
    /// output, validated.
    Suggest {
        /// Audit logs to learn from.
        #[arg(required = true)]
        logs: Vec<PathBuf>,
        /// Entries of one directory above which one permit covers the directory.
        #[arg(long, default_value_t = 8, value_name = "N")]
        siblings: usize,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum AuditCommand {
    /// Check an audit log's hash chain and run summaries. Exit status 0: intact; 1: broken
    /// (the first bad record is named); 3: intact, but some runs have no end record (killed,
    /// or the log was cut after them).
    Verify {
        /// The audit log (JSON lines).
        file: PathBuf,
        /// Public key file (`wrex audit keygen` writes `<key>.pub`): every run's summary
        /// must carry a valid signature by it.
        #[arg(long, value_name = "PUB")]
        key: Option<PathBuf>,
    },
    /// Make an Ed25519 key pair for `--audit-key`: the secret key goes to FILE (mode 0600,
    /// never overwritten), the public key to FILE.pub and to standard output.
    Keygen {
        /// Where to write the secret key.
        file: PathBuf,
    },
}

#[derive(Args, Debug, Clone)]
pub(crate) struct Common {
    /// Output format.
    #[arg(short = 'o', long = "output", alias = "output-format", value_enum, default_value_t = Format::Json)]
    pub(crate) output: Format,

    /// With `human` output: print the logs before and the metrics after the output.
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,

    #[command(flatten)]
    pub(crate) job: JobArgs,
}

/// Who a run acts as and for, what for, and the labels of the data it touches (`wrex run`,
/// `wrex mcp`, `wrex explain`).
#[derive(Args, Debug, Clone)]
pub(crate) struct AskerArgs {
    /// Cedar principal id (`User::"<id>"`); defaults to the OS user running wrex.
    #[arg(long, value_name = "NAME")]
    pub(crate) principal: Option<String>,

    /// The parties the run acts for, the one it acts for directly first (e.g.
    /// `alice,triage-agent`); policies see `context.on_behalf_of.origin` (the first) and
    /// `.chain` (all), and the audit log records it.
    #[arg(long, value_name = "PARTY,…", value_delimiter = ',', value_parser = party)]
    pub(crate) on_behalf_of: Vec<String>,

    /// What the run is for (e.g. `incident-4711`): policies see `context.purpose`, and the
    /// audit log records it.
    #[arg(long, value_name = "TEXT", value_parser = purpose)]
    pub(crate) purpose: Option<String>,

    /// Data labels of files and directories, and read budgets of labels, from a Cedar
    /// entities file (JSON): `file_system::File`/`Dir` entities with `tags`, `data::Label`
    /// entities with `read_budget`. Policies see labels as tags (`resource.getTag(…)`).
    #[arg(long, value_name = "FILE")]
    pub(crate) entities: Option<PathBuf>,
}

/// How every run is set up: identity, purpose and labels, audit, root, limits (`wrex run`
/// and `wrex mcp` alike).
#[derive(Args, Debug, Clone)]
pub(crate) struct JobArgs {
    #[command(flatten)]
    pub(crate) asker: AskerArgs,

    /// At most SIZE bytes of data labelled LABEL (`phi`, or `classification:phi`) may be read
    /// in the run; reading past it is denied, naming the label. Repeatable; overrides the
    /// entities file's budget for the same label.
    #[arg(long, value_name = "LABEL=SIZE", value_parser = budget)]
    pub(crate) budget: Vec<(String, u64)>,

    /// Do not read data labels from `user.wrex.*` extended attributes (only `--entities`).
    #[arg(long)]
    pub(crate) no_xattr_labels: bool,

    /// Append every authorization decision of the run (and its start and end) to FILE, a
    /// hash-chained JSON-lines audit log (created mode 0600); see `wrex audit verify`.
    #[arg(long, value_name = "FILE")]
    pub(crate) audit: Option<PathBuf>,

    /// Sign each run's summary in the audit log with the Ed25519 secret key in FILE (from
    /// `wrex audit keygen`), so `wrex audit verify --key` can prove the log is this host's.
    #[arg(long, value_name = "FILE", requires = "audit")]
    pub(crate) audit_key: Option<PathBuf>,

    /// Report-only mode (Rex's permissive mode): a denial of an action that only looks (open,
    /// read, stat …) is recorded in the audit log as `would_deny`, with the policies that
    /// decided, and the operation proceeds; denials of actions that change something still
    /// apply. For writing a policy from what a script does (`wrex policy suggest`).
    #[arg(long, requires = "audit")]
    pub(crate) permissive: bool,

    /// With `--permissive`: let denied changes (write, delete, move, chmod, chown, execute,
    /// kill, systemd, sysctl) proceed too, recorded as `would_deny`.
    #[arg(long, requires = "permissive")]
    pub(crate) permissive_allow_writes: bool,

    /// Confine the script to DIR, which becomes its `/` (script paths and Cedar resources are
    /// resolved inside it).
    #[arg(long, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,

    /// Redaction dictionary for `redacted_read` (one regular expression per line), as the
    /// script sees paths; reading it is authorized like any file.
    #[arg(
        long,
        value_name = "PATH",
        default_value = wrex::DEFAULT_REDACTION_DICTIONARY,
        value_parser = absolute_path
    )]
    pub(crate) redaction_dictionary: String,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,
}

/// Resource limits (`docs/limits.md`); each defaults to `wrex::Limits::default()`. For the
/// count and size limits, 0 means unlimited.
#[derive(Args, Debug, Clone)]
pub(crate) struct LimitArgs {
    /// Wall-clock limit of the run, in seconds [default: 60].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) timeout: Option<f64>,
    /// Linear-memory limit of the sandbox, in MiB [default: 256].
    #[arg(long, value_name = "MIB")]
    pub(crate) memory: Option<usize>,
    /// Rhai operations [default: 500000000].
    #[arg(long, value_name = "N")]
    pub(crate) max_operations: Option<u64>,
    /// Depth of script function calls [default: 64].
    #[arg(long, value_name = "N")]
    pub(crate) max_call_depth: Option<u32>,
    /// Nesting depth of expressions [default: 64].
    #[arg(long, value_name = "N")]
    pub(crate) max_expr_depth: Option<u32>,
    /// Length of one string, in bytes [default: 0, see docs/limits.md].
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_string_size: Option<u32>,
    /// Elements of one array [default: 0, see docs/limits.md].
    #[arg(long, value_name = "N")]
    pub(crate) max_array_size: Option<u32>,
    /// Entries of one object map [default: 0, see docs/limits.md].
    #[arg(long, value_name = "N")]
    pub(crate) max_map_size: Option<u32>,
    /// Length of the result's output, in bytes [default: 16 MiB].
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_output: Option<u32>,
    /// Calls from the script to the host (file operations, log entries) [default: 1000000].
    #[arg(long, value_name = "N")]
    pub(crate) max_host_calls: Option<u64>,
    /// Bytes read from files [default: 1 GiB].
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_read: Option<u64>,
    /// Bytes written to files [default: 1 GiB].
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_write: Option<u64>,
    /// Length of the script source, in bytes [default: 8 MiB].
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_script_size: Option<usize>,
    /// Files, directories and symlinks a script holds open at once [default: 256].
    #[arg(long, value_name = "N")]
    pub(crate) max_handles: Option<u32>,
}

impl LimitArgs {
    pub(crate) fn to_limits(&self) -> Result<Limits, String> {
        let d = Limits::default();
        let timeout = match self.timeout {
            None => d.timeout,
            Some(t) if t.is_finite() && t > 0.0 && t <= 31_536_000.0 => Duration::from_secs_f64(t),
            Some(t) => {
                return Err(format!(
                    "--timeout {t}: expected a number of seconds above 0 and at most a year"
                ));
            }
        };
        let memory = match self.memory {
            None => d.memory,
            Some(m) if (1..=4096).contains(&m) => m << 20,
            Some(m) => {
                return Err(format!(
                    "--memory {m}: expected MiB between 1 and 4096 (wasm32's address space)"
                ));
            }
        };
        Ok(Limits {
            timeout,
            memory,
            max_operations: self.max_operations.unwrap_or(d.max_operations),
            max_call_depth: self.max_call_depth.unwrap_or(d.max_call_depth),
            max_expr_depth: self.max_expr_depth.unwrap_or(d.max_expr_depth),
            max_string_size: self.max_string_size.unwrap_or(d.max_string_size),
            max_array_size: self.max_array_size.unwrap_or(d.max_array_size),
            max_map_size: self.max_map_size.unwrap_or(d.max_map_size),
            max_output: self.max_output.unwrap_or(d.max_output),
            max_host_calls: self.max_host_calls.unwrap_or(d.max_host_calls),
            max_read_bytes: self.max_read.unwrap_or(d.max_read_bytes),
            max_write_bytes: self.max_write.unwrap_or(d.max_write_bytes),
            max_script_bytes: self.max_script_size.unwrap_or(d.max_script_bytes),
            max_handles: self.max_handles.unwrap_or(d.max_handles),
        })
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    PrettyJson,
    Human,
}

pub(crate) struct Inputs {
    pub(crate) cancel: Arc<AtomicBool>,
    pub(crate) script: PathBuf,
    pub(crate) policy: PathBuf,
    pub(crate) args: Option<PathBuf>,
    pub(crate) common: Common,
}

/// One party of `--on-behalf-of`: a non-empty name without control characters.
fn party(value: &str) -> Result<String, String> {
    if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
        Err(format!(
            "`{}` is not a party name (1 to 256 characters, no control characters)",
            value.escape_debug()
        ))
    } else {
        Ok(value.to_string())
    }
}

/// `--purpose`: 1 to 256 bytes, no control characters.
fn purpose(value: &str) -> Result<String, String> {
    wrex::check_purpose(value).map(|()| value.to_string())
}

/// `--budget LABEL=SIZE`.
fn budget(value: &str) -> Result<(String, u64), String> {
    wrex::labels::parse_budget(value)
}

/// A CLI path that must be absolute (it names a file as the script sees paths).
fn absolute_path(value: &str) -> Result<String, String> {
    if value.starts_with('/') {
        Ok(value.to_string())
    } else {
        Err(format!("`{value}` is not an absolute path"))
    }
}
