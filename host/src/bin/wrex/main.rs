//! The `wrex` command line: Rex's runner interface (`-s/-p/-a/-o/-v`) and `wrex run`.
//!
//! | module | what it holds |
//! |---|---|
//! | `audit` | `wrex audit verify` |
//! | `flags` | the flags, Rex's and wrex's own |
//! | `monitor` | Rex's process CPU and memory metrics of a run |
//! | `input` | bounded reads of the script, policy and arguments files |
//! | `run` | one run: inputs → job → result |
//! | `output` | Rex's result JSON and the human-readable form |
//! | `policy` | `wrex policy check`, `wrex explain` |

mod audit;
mod flags;
mod functions;
mod input;
mod mcp;
mod monitor;
mod output;
mod policy;
mod run;
mod setup;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;

use crate::flags::{AuditCommand, Cli, Command, Inputs, PolicyCommand};

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
        .with_ansi(colour_stderr())
        .init();
    let cli = Cli::parse();
    let inputs = match cli.command {
        Some(Command::Audit {
            command: AuditCommand::Verify { file, key },
        }) => return audit::verify(&file, key.as_deref()),
        Some(Command::Audit {
            command: AuditCommand::Keygen { file },
        }) => return audit::keygen(&file),
        Some(Command::Policy {
            command: PolicyCommand::Check { file },
        }) => return policy::check(&file),
        Some(Command::Policy {
            command: PolicyCommand::Suggest { logs, siblings },
        }) => return policy::suggest(&logs, siblings),
        Some(Command::Explain(question)) => return policy::explain(&question),
        Some(Command::Functions { json }) => return functions::print(json),
        Some(Command::Mcp(args)) => return mcp::serve(*args),
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
            common: *common,
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
    match run::run(inputs) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Colour on stderr only for a terminal, and never with `NO_COLOR` set (https://no-color.org):
/// a caller capturing wrex's diagnostics gets plain text.
fn colour_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
