//! The `wrex` command line: Rex's runner interface (`-s/-p/-a/-o/-v`) and `wrex run`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use wrex::outcome::{Alarm, Metric, MetricUnit};
use wrex::{
    ArgsError, ErrorType, Job, Limits, LogLevel, Policy, RunOutcome, Runtime, RuntimeOptions,
    ScriptArgs,
};

/// Run a Rhai script in a WebAssembly sandbox; every host operation it attempts is authorized
/// by a Cedar policy first.
#[derive(Parser, Debug)]
#[command(
    name = "wrex",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Rhai script to run (Rex's flag).
    #[arg(
        short = 's',
        long = "script-file",
        value_name = "FILE",
        required = true
    )]
    script_file: Option<PathBuf>,

    /// Cedar policy file (Rex's flag).
    #[arg(
        short = 'p',
        long = "policy-file",
        value_name = "FILE",
        required = true
    )]
    policy_file: Option<PathBuf>,

    /// Script arguments JSON file (Rex's flag).
    #[arg(short = 'a', long = "script-arguments-file", value_name = "FILE")]
    script_arguments_file: Option<PathBuf>,

    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand, Debug)]
enum Command {
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
        common: Common,
    },
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Output format.
    #[arg(short = 'o', long = "output", alias = "output-format", value_enum, default_value_t = Format::Json)]
    output: Format,

    /// With `human` output: print the logs before and the metrics after the output.
    #[arg(short = 'v', long)]
    verbose: bool,

    /// Cedar principal id (`User::"<id>"`); defaults to the OS user running wrex.
    #[arg(long, value_name = "NAME")]
    principal: Option<String>,

    /// Confine the script to DIR, which becomes its `/` (script paths and Cedar resources are
    /// resolved inside it).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,

    /// Redaction dictionary for `redacted_read` (one regular expression per line), as the
    /// script sees paths; reading it is authorized like any file.
    #[arg(
        long,
        value_name = "PATH",
        default_value = wrex::DEFAULT_REDACTION_DICTIONARY,
        value_parser = absolute_path
    )]
    redaction_dictionary: String,

    #[command(flatten)]
    limits: LimitArgs,
}

/// Resource limits (`docs/limits.md`); each defaults to `wrex::Limits::default()`. For the
/// count and size limits, 0 means unlimited.
#[derive(Args, Debug, Clone)]
struct LimitArgs {
    /// Wall-clock limit of the run, in seconds [default: 60].
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Linear-memory limit of the sandbox, in MiB [default: 256].
    #[arg(long, value_name = "MIB")]
    memory: Option<usize>,
    /// Rhai operations [default: 500000000].
    #[arg(long, value_name = "N")]
    max_operations: Option<u64>,
    /// Depth of script function calls [default: 64].
    #[arg(long, value_name = "N")]
    max_call_depth: Option<u32>,
    /// Nesting depth of expressions [default: 64].
    #[arg(long, value_name = "N")]
    max_expr_depth: Option<u32>,
    /// Length of one string, in bytes [default: 0, see docs/limits.md].
    #[arg(long, value_name = "BYTES")]
    max_string_size: Option<u32>,
    /// Elements of one array [default: 0, see docs/limits.md].
    #[arg(long, value_name = "N")]
    max_array_size: Option<u32>,
    /// Entries of one object map [default: 0, see docs/limits.md].
    #[arg(long, value_name = "N")]
    max_map_size: Option<u32>,
    /// Length of the result's output, in bytes [default: 16 MiB].
    #[arg(long, value_name = "BYTES")]
    max_output: Option<u32>,
    /// Calls from the script to the host (file operations, log entries) [default: 1000000].
    #[arg(long, value_name = "N")]
    max_host_calls: Option<u64>,
    /// Bytes read from files [default: 1 GiB].
    #[arg(long, value_name = "BYTES")]
    max_read: Option<u64>,
    /// Bytes written to files [default: 1 GiB].
    #[arg(long, value_name = "BYTES")]
    max_write: Option<u64>,
    /// Length of the script source, in bytes [default: 8 MiB].
    #[arg(long, value_name = "BYTES")]
    max_script_size: Option<usize>,
}

impl LimitArgs {
    fn to_limits(&self) -> Result<Limits, String> {
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
        })
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    PrettyJson,
    Human,
}

struct Inputs {
    cancel: Arc<AtomicBool>,
    script: PathBuf,
    policy: PathBuf,
    args: Option<PathBuf>,
    common: Common,
}

/// A CLI path that must be absolute (it names a file as the script sees paths).
fn absolute_path(value: &str) -> Result<String, String> {
    if value.starts_with('/') {
        Ok(value.to_string())
    } else {
        Err(format!("`{value}` is not an absolute path"))
    }
}

fn main() -> ExitCode {
    // SIGTERM and SIGINT stop the script within one 10 ms tick, and a result is still printed.
    // Installed first, so that a signal during start-up is not lost.
    let cancel = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&cancel)) {
            eprintln!("warning: could not install a handler for signal {signal}: {e}");
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WREX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let inputs = match cli.command {
        Some(Command::Run {
            script,
            policy,
            args,
            common,
        }) => Inputs {
            cancel,
            script,
            policy,
            args,
            common,
        },
        None => match (cli.script_file, cli.policy_file) {
            (Some(script), Some(policy)) => Inputs {
                cancel,
                script,
                policy,
                args: cli.script_arguments_file,
                common: cli.common,
            },
            // clap enforces both flags when there is no subcommand.
            _ => return ExitCode::from(2),
        },
    };
    run(inputs)
}

fn early(error_type: ErrorType, message: &str, alarms: Vec<Alarm>) -> ExitCode {
    // As Rex: errors before the script runs are compact JSON whatever the format, exit 1.
    let outcome = RunOutcome::early_error(error_type, message, alarms);
    match print_json(&outcome, false) {
        Ok(()) => ExitCode::from(1),
        Err(_) => ExitCode::from(1),
    }
}

/// Why an input file was not loaded.
enum InputError {
    Read(String),
    TooLarge(String),
}

/// Reads a UTF-8 input file of at most `max` bytes (0: no limit), without reading more than
/// that from a larger one.
fn read_input(what: &str, path: &PathBuf, max: u64) -> Result<String, InputError> {
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

fn input_failed(e: InputError) -> ExitCode {
    match e {
        InputError::Read(m) => early(ErrorType::CommunicationException, &m, vec![]),
        InputError::TooLarge(m) => early(ErrorType::LimitExceeded, &m, vec![]),
    }
}

/// Largest script-arguments file read, in bytes.
const MAX_ARGS_BYTES: u64 = 8 << 20;

fn run(inputs: Inputs) -> ExitCode {
    let started = Instant::now();
    let limits = match inputs.common.limits.to_limits() {
        Ok(l) => l,
        Err(m) => return early(ErrorType::ValidationException, &m, vec![]),
    };
    let script = match read_input("script", &inputs.script, limits.max_script_bytes as u64) {
        Ok(s) => s,
        Err(e) => return input_failed(e),
    };
    let policy_text = match read_input("policy", &inputs.policy, wrex::authz::MAX_POLICY_BYTES) {
        Ok(s) => s,
        Err(e) => return input_failed(e),
    };
    let args = match &inputs.args {
        None => ScriptArgs::new(),
        Some(path) => {
            let text = match read_input("script arguments", path, MAX_ARGS_BYTES) {
                Ok(s) => s,
                Err(e) => return input_failed(e),
            };
            match ScriptArgs::from_json(&text) {
                Ok(a) => a,
                Err(ArgsError::Malformed(m)) => {
                    let m = format!("Failed to load input files: {}: {m}", path.display());
                    return early(ErrorType::CommunicationException, &m, vec![]);
                }
                Err(ArgsError::Invalid(m)) => {
                    let alarm = Alarm {
                        alarm_type: "RexRunnerScriptArgumentValidationFailure".into(),
                        alarm_details: Some(m.clone()),
                    };
                    return early(ErrorType::ValidationException, &m, vec![alarm]);
                }
            }
        }
    };
    let policy = match Policy::parse_named(&policy_text, &inputs.policy.display().to_string()) {
        Ok(p) => p,
        Err(e) => {
            return early(
                ErrorType::InternalException,
                &format!("Failed to create Rhai engine: {e}"),
                vec![],
            );
        }
    };
    let common = &inputs.common;
    let log_level = match std::env::var("LOG_LEVEL") {
        Ok(level) => match level.parse::<LogLevel>() {
            Ok(l) => l,
            Err(m) => {
                return early(
                    ErrorType::ValidationException,
                    &format!("LOG_LEVEL: {m}"),
                    vec![],
                );
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
        Err(e) => return early(ErrorType::InternalException, &e.to_string(), vec![]),
    };
    let mut job = Job::new(script, policy)
        .args(args)
        .log_level(log_level)
        .limits(limits)
        .cancel_flag(inputs.cancel);
    if let Some(principal) = &common.principal {
        job = job.principal(principal.clone());
    }
    if let Some(root) = &common.root {
        job = job.root(root.clone());
    }
    job = job.redaction_dictionary(common.redaction_dictionary.clone());
    let mut outcome = runtime.run(job);
    if let Some(metrics) = outcome.metrics.as_mut() {
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
    match printed {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: failed to write the result: {e}");
            ExitCode::from(1)
        }
    }
}

fn print_json(outcome: &RunOutcome, pretty: bool) -> std::io::Result<()> {
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

fn print_human(outcome: &RunOutcome, verbose: bool) -> std::io::Result<()> {
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
