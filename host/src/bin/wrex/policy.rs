//! `wrex policy check FILE`, `wrex policy suggest LOG…` and `wrex explain`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wrex::Policy;

use crate::flags::Question;
use crate::input::read_input;

/// Reads and parses a policy file; prints why not and returns `None` if it cannot.
fn load(path: &Path) -> Option<Policy> {
    let text = match read_input("policy", path, wrex::authz::MAX_POLICY_BYTES) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    match Policy::parse_named(&text, &path.display().to_string()) {
        Ok(p) => Some(p),
        Err(e) => {
            println!("invalid: {e}");
            None
        }
    }
}

pub(crate) fn check(path: &Path) -> ExitCode {
    let Some(policy) = load(path) else {
        return ExitCode::from(1);
    };
    for id in policy.duplicate_ids() {
        println!(
            "warning: @id({id:?}) names more than one policy; denials and the audit log name policies by @id"
        );
    }
    println!(
        "valid: {}: {} policies, validated against wrex's schema",
        path.display(),
        policy.len()
    );
    ExitCode::SUCCESS
}

pub(crate) fn explain(q: &Question) -> ExitCode {
    let Some(policy) = load(&q.policy) else {
        return ExitCode::from(2);
    };
    let context = match q
        .context
        .as_deref()
        .map(serde_json::from_str::<serde_json::Value>)
    {
        None => wrex::authz::RequestContext::new(),
        Some(Ok(serde_json::Value::Object(m))) => m,
        Some(_) => {
            eprintln!("error: --context: expected a JSON object");
            return ExitCode::from(2);
        }
    };
    let principal = q.asker.principal.clone().unwrap_or_else(wrex::current_user);
    let entities = match &q.asker.entities {
        None => None,
        Some(path) => match crate::input::load_entities(path) {
            Ok(file) => Some(std::sync::Arc::new(file)),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let asker = wrex::explain::Asker {
        principal: principal.clone(),
        on_behalf_of: q.asker.on_behalf_of.clone(),
        purpose: q.asker.purpose.clone(),
        entities,
    };
    match wrex::explain::explain(&policy, &asker, &q.action, &q.resource, context) {
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Ok(answer) => {
            let verdict = if answer.allowed { "ALLOW" } else { "DENY" };
            println!(
                "{verdict}: User::{principal:?} {} {}: {}",
                q.action, q.resource, answer.reason
            );
            for e in &answer.errors {
                println!("error: {e}");
            }
            if answer.allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}

pub(crate) fn suggest(logs: &[PathBuf], siblings: usize) -> ExitCode {
    let mut texts = Vec::new();
    for path in logs {
        match std::fs::read(path) {
            Ok(b) => texts.push(b),
            Err(e) => {
                eprintln!("error: audit log `{}`: {e}", path.display());
                return ExitCode::from(1);
            }
        }
    }
    let slices: Vec<&[u8]> = texts.iter().map(Vec::as_slice).collect();
    match wrex::audit::suggest(&slices, siblings) {
        Ok(policy) => {
            print!("{policy}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
