//! The `wrex` command line: Rex's runner interface (`-s/-p/-a/-o/-v`) and `wrex run`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use wrex::outcome::{Alarm, Metric, MetricUnit};
use wrex::{ArgsError, ErrorType, Job, Limits, LogLevel, Policy, RunOutcome, Runtime, ScriptArgs};

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

    /// Wall-clock limit for the script, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    timeout: f64,

    /// Linear-memory limit for the script's sandbox, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    memory: usize,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    PrettyJson,
    Human,
}

struct Inputs {
    script: PathBuf,
    policy: PathBuf,
    args: Option<PathBuf>,
    common: Common,
}

fn main() -> ExitCode {
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
            script,
            policy,
            args,
            common,
        },
        None => match (cli.script_file, cli.policy_file) {
            (Some(script), Some(policy)) => Inputs {
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

fn read_input(what: &str, path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| {
        format!(
            "Failed to load input files: Failed to read {what} file: {}: {e}",
            path.display()
        )
    })
}

fn run(inputs: Inputs) -> ExitCode {
    let started = Instant::now();
    let script = match read_input("script", &inputs.script) {
        Ok(s) => s,
        Err(m) => return early(ErrorType::CommunicationException, &m, vec![]),
    };
    let policy_text = match read_input("policy", &inputs.policy) {
        Ok(s) => s,
        Err(m) => return early(ErrorType::CommunicationException, &m, vec![]),
    };
    let args = match &inputs.args {
        None => ScriptArgs::new(),
        Some(path) => {
            let text = match read_input("script arguments", path) {
                Ok(s) => s,
                Err(m) => return early(ErrorType::CommunicationException, &m, vec![]),
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
    if !(common.timeout.is_finite() && common.timeout > 0.0) {
        return early(
            ErrorType::ValidationException,
            "--timeout must be a positive number of seconds",
            vec![],
        );
    }
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
    let runtime = match Runtime::new() {
        Ok(r) => r,
        Err(e) => return early(ErrorType::InternalException, &e.to_string(), vec![]),
    };
    let mut job = Job::new(script, policy)
        .args(args)
        .log_level(log_level)
        .limits(Limits {
            timeout: Duration::from_secs_f64(common.timeout),
            memory: common.memory.saturating_mul(1 << 20),
        });
    if let Some(principal) = &common.principal {
        job = job.principal(principal.clone());
    }
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
