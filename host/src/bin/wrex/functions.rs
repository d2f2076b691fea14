//! `wrex functions`: the script SDK, as the sandboxed interpreter registers it.

use std::io::Write;
use std::process::ExitCode;

pub(crate) fn print(json: bool) -> ExitCode {
    let signatures = match wrex::Runtime::new().and_then(|r| r.sdk_signatures()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let (functions, undescribed) = wrex::functions::describe(&signatures);
    for raw in &undescribed {
        tracing::warn!("no description for the SDK function `{raw}`");
    }
    let mut out = std::io::stdout().lock();
    let written = if json {
        serde_json::to_writer_pretty(&mut out, &functions)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        functions.iter().try_for_each(|f| {
            writeln!(
                out,
                "{}\n    {}\n    checks: {}",
                f.signature, f.description, f.checks
            )
        })
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`wrex functions | head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
