//! `wrex audit verify FILE [--key PUB]` (checks an audit log and says where it breaks) and
//! `wrex audit keygen FILE` (a signing key pair).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

/// Exit status for an intact log with runs that never ended.
const UNFINISHED: u8 = 3;

pub(crate) fn verify(path: &Path, key: Option<&Path>) -> ExitCode {
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        eprintln!("error: {what} `{}`: {e}", p.display());
        ExitCode::from(1)
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return fail("audit log", path, e),
    };
    let key = match key.map(std::fs::read_to_string).transpose() {
        Ok(k) => k,
        Err(e) => return fail("public key", key.unwrap_or(path), e),
    };
    match wrex::audit::verify(&bytes, key.as_deref()) {
        Err(broken) => {
            println!("BROKEN: {}: {broken}", path.display());
            ExitCode::from(1)
        }
        Ok(v) => {
            let signed = if key.is_some() {
                ", every summary signed by the key"
            } else {
                ""
            };
            println!(
                "intact: {}: {} records, {} complete runs{signed}",
                path.display(),
                v.records,
                v.complete_runs
            );
            if v.unfinished.is_empty() {
                return ExitCode::SUCCESS;
            }
            for (run, start) in &v.unfinished {
                println!(
                    "unfinished: run {run} (started at record {start}) has no end record: the process was killed, or the log was cut after it"
                );
            }
            ExitCode::from(UNFINISHED)
        }
    }
}

pub(crate) fn keygen(path: &Path) -> ExitCode {
    let (secret, public) = match wrex::audit::generate_key() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let public_path = path.with_extension(match path.extension() {
        Some(ext) => format!("{}.pub", ext.to_string_lossy()),
        None => "pub".to_string(),
    });
    let write = |p: &Path, text: &str, mode: u32| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(p)
            .and_then(|mut f| f.write_all(format!("{text}\n").as_bytes()))
    };
    for (p, text, mode) in [
        (path, &secret, 0o600),
        (public_path.as_path(), &public, 0o644),
    ] {
        if let Err(e) = write(p, text, mode) {
            eprintln!("error: `{}`: {e}", p.display());
            return ExitCode::from(1);
        }
    }
    println!("{public}");
    ExitCode::SUCCESS
}
