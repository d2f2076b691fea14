//! The audit log and identity: every decision recorded, hash-chained and durable; tampering
//! detected, naming the first bad record; signed summaries; a killed run's log still
//! verifies; concurrent runs share one chain; `on_behalf_of` reaches policies.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use wrex::audit::{AuditLog, verify};
use wrex::{Job, ScriptArgs};

use crate::util::{Sandbox, assert_success, runtime, script};

/// Runs `read_and_denied` in `sb`, recording to `log`, on behalf of `chain`.
fn audited_run(sb: &Sandbox, log: &Arc<AuditLog>, chain: &[&str]) -> wrex::RunOutcome {
    let mut args = ScriptArgs::new();
    args.insert("root", sb.root.as_str()).unwrap();
    let job = Job::new(script("read_and_denied"), sb.policy("rw"))
        .args(args)
        .principal("tester")
        .on_behalf_of(chain.iter().map(|s| s.to_string()).collect())
        .audit(Arc::clone(log));
    runtime().run(job)
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn every_decision_is_recorded_with_who_and_why() {
    let sb = Sandbox::new();
    let path = sb.path("audit.jsonl");
    let log = AuditLog::open(&path).unwrap();
    let out = audited_run(&sb, &log, &["alice", "triage-agent"]);
    assert_success(&out);
    let recs = records(&path);
    let kinds: Vec<&str> = recs.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run_start"));
    assert_eq!(kinds.last(), Some(&"run_end"));
    let decisions: Vec<&Value> = recs.iter().filter(|r| r["type"] == "decision").collect();
    let denied: Vec<&&Value> = decisions
        .iter()
        .filter(|r| r["decision"] == "deny")
        .collect();
    assert_eq!(denied.len(), 1, "{decisions:#?}");
    assert!(denied[0]["resource"].as_str().unwrap().contains("/outside"));
    let allowed = decisions.iter().find(|r| r["decision"] == "allow").unwrap();
    assert_eq!(allowed["principal"], "User::\"tester\"");
    assert_eq!(
        allowed["on_behalf_of"],
        serde_json::json!(["alice", "triage-agent"])
    );
    assert_eq!(allowed["context"]["on_behalf_of"]["origin"], "alice");
    assert_eq!(allowed["policy_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        allowed["script_sha256"],
        wrex::audit::sha256_hex(script("read_and_denied").as_bytes())
    );
    assert!(!allowed["policies"].as_array().unwrap().is_empty());
    // Each host call's decisions get the call's outcome: the denied read failed, the
    // allowed ones succeeded.
    let outcomes: Vec<&Value> = recs.iter().filter(|r| r["type"] == "outcome").collect();
    assert!(
        outcomes.iter().any(|o| o["result"] == "ok"),
        "{outcomes:#?}"
    );
    let failed = outcomes.iter().find(|o| o["result"] == "error").unwrap();
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("Permission denied")
    );
    let denied_seq = denied[0]["seq"].as_u64().unwrap();
    assert!(
        failed["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == denied_seq)
    );
    let end = recs.last().unwrap();
    assert_eq!(end["decisions"], decisions.len());
    assert_eq!(end["denied"], 1);
    assert_eq!(end["status"], "success");
    let v = verify(&std::fs::read(&path).unwrap(), None).unwrap();
    assert_eq!((v.records, v.complete_runs), (recs.len() as u64, 1));
}

/// Edit, delete, reorder, truncate: each is found, at the first bad record.
#[test]
fn tampering_is_detected_at_the_first_bad_record() {
    let sb = Sandbox::new();
    let path = sb.path("audit.jsonl");
    let log = AuditLog::open(&path).unwrap();
    audited_run(&sb, &log, &[]);
    audited_run(&sb, &log, &[]);
    let good = lines(&path);
    assert!(good.len() >= 8, "{good:#?}");
    let broken_at = |lines: &[String]| verify(lines.concat().as_bytes(), None).unwrap_err();

    let k = good
        .iter()
        .position(|l| l.contains("\"decision\":\"allow\""))
        .unwrap();
    let mut edited = good.clone();
    edited[k] = edited[k].replace("\"allow\"", "\"deny\"");
    let b = broken_at(&edited);
    assert_eq!(b.record, k as u64 + 2, "{b}");
    assert!(
        b.problem.contains(&format!("record {} was changed", k + 1)),
        "{b}"
    );

    let mut deleted = good.clone();
    deleted.remove(3);
    assert_eq!(broken_at(&deleted).record, 4);

    let mut reordered = good.clone();
    reordered.swap(4, 5);
    assert_eq!(broken_at(&reordered).record, 5);

    let whole = good.concat();
    let cut = &whole.as_bytes()[..whole.len() - 10];
    let b = verify(cut, None).unwrap_err();
    assert_eq!(b.record, good.len() as u64);
    assert!(b.problem.contains("incomplete"), "{b}");

    // Whole records cut from the end: the chain holds, but a run is left without its end.
    let v = verify(good[..good.len() - 1].concat().as_bytes(), None).unwrap();
    assert_eq!(v.unfinished.len(), 1, "{v:?}");

    // A summary whose counts were changed along with every hash after it.
    let forged = rechain(&good, |i, r| {
        if i == good.len() - 1 {
            r["denied"] = Value::from(0);
        }
    });
    assert!(broken_at(&forged).problem.contains("summary counts"));
}

/// `lines` with `change` applied to each record and the chain (`prev`) recomputed: what an
/// attacker without the signing key can do.
fn rechain(lines: &[String], change: impl Fn(usize, &mut Value)) -> Vec<String> {
    let mut prev = wrex::audit::GENESIS.to_string();
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut r: Value = serde_json::from_str(l).unwrap();
            change(i, &mut r);
            r["prev"] = Value::from(prev.clone());
            let text = serde_json::to_string(&r).unwrap();
            prev = wrex::audit::sha256_hex(text.as_bytes());
            format!("{text}\n")
        })
        .collect()
}

/// Rex's script-arguments file binding `root` to the sandbox's root.
fn args_file(sb: &Sandbox) -> std::path::PathBuf {
    let path = sb.path("args.json");
    let args = serde_json::json!({ "root": { "stringValue": sb.root } });
    std::fs::write(&path, args.to_string()).unwrap();
    path
}

fn wrex_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wrex"))
        .args(args)
        .output()
        .expect("run wrex")
}

/// With `--audit-key`, every summary is signed; `verify --key` accepts the log, and refuses a
/// log rewritten without the key (valid chain, no valid signature) or checked with another
/// key.
#[test]
fn signed_summaries_prove_the_log_is_this_hosts() {
    let sb = Sandbox::new();
    let key = sb.path("audit.key");
    let out = wrex_cli(&["audit", "keygen", key.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let public = sb.path("audit.key.pub");
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        printed.trim(),
        std::fs::read_to_string(&public).unwrap().trim()
    );
    let path = sb.path("audit.jsonl");
    let policy = sb.policy_file("rw");
    for _ in 0..2 {
        let flags = [
            "--audit",
            path.to_str().unwrap(),
            "--audit-key",
            key.to_str().unwrap(),
        ];
        let out = cli_run(&sb, "read_and_denied", &policy, &flags);
        assert_eq!(out["status"], "SUCCESS", "{out}");
    }
    let verify_cli = |log: &Path, key: &Path| {
        wrex_cli(&[
            "audit",
            "verify",
            log.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ])
    };
    let ok = verify_cli(&path, &public);
    assert!(ok.status.success(), "{ok:?}");
    assert!(records(&path).iter().any(|r| r["type"] == "signature"));

    // Rewritten without the key: the signature records dropped, the chain recomputed.
    let good = lines(&path);
    let unsigned: Vec<String> = good
        .iter()
        .filter(|l| !l.contains("\"signature\""))
        .cloned()
        .collect();
    // The forger renumbers every record and every reference to one.
    let new_seq: std::collections::HashMap<u64, u64> = unsigned
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let r: Value = serde_json::from_str(l).unwrap();
            (r["seq"].as_u64().unwrap(), i as u64 + 1)
        })
        .collect();
    let renumbered = rechain(&unsigned, |i, r| {
        r["seq"] = Value::from(i as u64 + 1);
        if let Some(d) = r.get_mut("decisions").and_then(Value::as_array_mut) {
            for s in d {
                *s = Value::from(new_seq[&s.as_u64().unwrap()]);
            }
        }
    });
    let forged = sb.path("forged.jsonl");
    std::fs::write(&forged, renumbered.concat()).unwrap();
    assert!(
        wrex_cli(&["audit", "verify", forged.to_str().unwrap()])
            .status
            .success(),
        "without a key, a rewritten chain is indistinguishable"
    );
    let refused = verify_cli(&forged, &public);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stdout).contains("not signed by the given key"));

    // Another host's key does not vouch for this log.
    let other = sb.path("other.key");
    assert!(
        wrex_cli(&["audit", "keygen", other.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(
        verify_cli(&path, &sb.path("other.key.pub")).status.code(),
        Some(1)
    );
}

/// A run killed with SIGKILL mid-run leaves a log that verifies up to its last decision;
/// `verify` reports the run as unfinished (exit status 3).
#[test]
fn a_killed_run_leaves_a_log_that_verifies() {
    let sb = Sandbox::new();
    let path = sb.path("audit.jsonl");
    let policy = sb.policy_file("rw");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wrex"))
        .args(run_args(
            &sb,
            "read_forever",
            &policy,
            &["--audit", path.to_str().unwrap()],
        ))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read(&path).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count()) < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "no decisions recorded"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = wrex_cli(&["audit", "verify", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("unfinished: run"), "{text}");
    // And the log takes more runs after it.
    let log = AuditLog::open(&path).unwrap();
    assert_success(&audited_run(&sb, &log, &[]));
    assert_eq!(
        verify(&std::fs::read(&path).unwrap(), None)
            .unwrap()
            .complete_runs,
        1
    );
}

/// Runs on several threads, through two handles on the file (as two processes would have),
/// append to one intact chain.
#[test]
fn concurrent_runs_append_to_one_chain() {
    let sb = Sandbox::new();
    let path = sb.path("audit.jsonl");
    let first = AuditLog::open(&path).unwrap();
    let second = AuditLog::open(&path).unwrap();
    std::thread::scope(|s| {
        for i in 0..6 {
            let log = if i % 2 == 0 { &first } else { &second };
            let sb = &sb;
            s.spawn(move || assert_success(&audited_run(sb, log, &[])));
        }
    });
    let v = verify(&std::fs::read(&path).unwrap(), None).unwrap();
    assert_eq!(v.complete_runs, 6, "{v:?}");
    assert!(v.unfinished.is_empty());
}

/// A log that cannot be written stops the run before anything happens (fail closed).
#[test]
fn an_unwritable_log_refuses_the_run() {
    let sb = Sandbox::new();
    let log = AuditLog::open("/dev/full").unwrap();
    let out = audited_run(&sb, &log, &[]);
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::InternalException),
        "{out:#?}"
    );
    assert!(crate::util::message(&out).contains("/dev/full"));
}

/// `--on-behalf-of` reaches policies as `context.on_behalf_of`; the same Rex-style policy
/// file still validates without it.
#[test]
fn policies_see_on_whose_behalf_the_run_acts() {
    let sb = Sandbox::new();
    let policy = sb.policy_file("for_alice");
    let run = |chain: &str| {
        let flags: &[&str] = if chain.is_empty() {
            &[]
        } else {
            &["--on-behalf-of", chain]
        };
        cli_run(&sb, "cat_a", &policy, flags)
    };
    assert_eq!(run("alice,triage-agent")["status"], "SUCCESS");
    let denied = run("bob,triage-agent");
    assert_eq!(denied["error"]["error_type"], "ACCESS_DENIED_EXCEPTION");
    assert_eq!(run("")["error"]["error_type"], "ACCESS_DENIED_EXCEPTION");
    let bad = wrex_cli(&[
        "run",
        "x.rhai",
        "--policy",
        "p.cedar",
        "--on-behalf-of",
        "a,,b",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
}

/// `wrex run` arguments for `tests/scripts/audit/<name>.rhai` under `policy`, with `root`
/// bound to the sandbox, then `flags`.
fn run_args(sb: &Sandbox, name: &str, policy: &Path, flags: &[&str]) -> Vec<String> {
    let script_path = crate::util::fixture("scripts", name, "rhai");
    let mut args: Vec<String> = vec![
        "run".into(),
        script_path.to_str().unwrap().into(),
        "--policy".into(),
        policy.to_str().unwrap().into(),
        "--args".into(),
        args_file(sb).to_str().unwrap().into(),
    ];
    args.extend(flags.iter().map(|f| f.to_string()));
    args
}

/// The result JSON is an access denial whose message names `needle`.
#[track_caller]
fn assert_denied_naming(out: &Value, needle: &str) {
    assert_eq!(
        out["error"]["error_type"], "ACCESS_DENIED_EXCEPTION",
        "{out}"
    );
    let message = out["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{out}");
}

/// Runs `tests/scripts/audit/<name>.rhai` through the CLI with `flags`; the result JSON.
fn cli_run(sb: &Sandbox, name: &str, policy: &Path, flags: &[&str]) -> Value {
    let args = run_args(sb, name, policy, flags);
    let out = wrex_cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{out:?}"))
}

fn decisions(path: &Path) -> Vec<String> {
    records(path)
        .iter()
        .filter(|r| r["type"] == "decision")
        .map(|r| r["decision"].as_str().unwrap().to_string())
        .collect()
}

/// Report-only run → suggested policy → the same script runs under it with no denial, and a
/// variant that reads one more file is denied.
#[test]
fn report_only_then_suggest_gives_a_least_privilege_policy() {
    let sb = Sandbox::new();
    sb.write("allowed/extra.txt", "extra\n");
    let none = sb.policy_file("none");
    let learn = sb.path("learn.jsonl");
    let out = cli_run(
        &sb,
        "task",
        &none,
        &[
            "--audit",
            learn.to_str().unwrap(),
            "--permissive",
            "--permissive-allow-writes",
        ],
    );
    assert_eq!(out["status"], "SUCCESS", "{out}");
    assert!(decisions(&learn).iter().all(|d| d == "would_deny"));

    let suggested = wrex_cli(&["policy", "suggest", learn.to_str().unwrap()]);
    assert!(suggested.status.success(), "{suggested:?}");
    let text = String::from_utf8(suggested.stdout).unwrap();
    assert!(text.contains("@id(\"suggested-1\")"), "{text}");
    let policy = sb.path("suggested.cedar");
    std::fs::write(&policy, &text).unwrap();
    assert!(
        wrex_cli(&["policy", "check", policy.to_str().unwrap()])
            .status
            .success()
    );

    let again = sb.path("again.jsonl");
    let out = cli_run(&sb, "task", &policy, &["--audit", again.to_str().unwrap()]);
    assert_eq!(out["status"], "SUCCESS", "{out}\n{text}");
    let seen = decisions(&again);
    assert!(
        !seen.is_empty() && seen.iter().all(|d| d == "allow"),
        "{seen:?}"
    );

    let out = cli_run(&sb, "task_plus", &policy, &[]);
    assert_denied_naming(&out, "extra.txt");
}

/// Without `--permissive-allow-writes`, report-only lets reads through but still applies a
/// denied write; the runtime's own state (here the audit log itself) stays out of reach.
#[test]
fn report_only_still_applies_denied_writes_and_the_built_in_deny() {
    let sb = Sandbox::new();
    let none = sb.policy_file("none");
    let log = sb.path("learn.jsonl");
    let out = cli_run(
        &sb,
        "task",
        &none,
        &["--audit", log.to_str().unwrap(), "--permissive"],
    );
    assert_denied_naming(&out, "report.txt");
    let seen = decisions(&log);
    assert!(seen.iter().any(|d| d == "would_deny"), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("deny"), "{seen:?}");
    assert!(!sb.exists("allowed/report.txt"));

    let mut sb_args = ScriptArgs::new();
    sb_args.insert("root", sb.root.as_str()).unwrap();
    let audit = AuditLog::open(&log).unwrap();
    let job = Job::new(
        format!("cat({:?})", log.to_str().unwrap()),
        sb.policy("none"),
    )
    .audit(Arc::clone(&audit))
    .protect(&log)
    .report_only(true);
    let out = runtime().run(job);
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
    assert!(crate::util::message(&out).contains("runtime's own state"));
}
