//! The data layer: purpose, data labels (entities file and `user.wrex.*` extended
//! attributes, inherited from directories), per-label read budgets and lineage — each control
//! allowing and denying, through the real guest, with the example policies of
//! `policies/examples/` and its example entities file. Each run's `/` is a fresh tree, so the
//! examples' `/srv/records` paths are used as written.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use wrex::audit::AuditLog;
use wrex::{ErrorType, Job, LabelFile, Policy, RunOutcome, ScriptArgs};

use crate::util::{TempTree, assert_error, assert_success, message, repo, runtime, script};

/// The records tree of the examples, under a fresh `/`:
///
/// ```text
/// /srv/records/index.txt            classification: internal (entities file)
/// /srv/records/patients/p1.txt      ~40 KB, classification: phi from its directory
/// /srv/records/patients/p2.txt      ~40 KB
/// /srv/records/held/case.txt        legal_hold: true from its directory
/// /srv/us/, /srv/public/            unlabelled
/// ```
///
/// `/srv/records` itself is `jurisdiction: eu`.
struct Records {
    tree: TempTree,
}

const RECORD_LINE: &str = "patient 0001 | dob 1970-01-01 | dx J45.909 | ins ACME-12345\n";

impl Records {
    fn new() -> Self {
        let tree = TempTree::new();
        tree.write("srv/records/index.txt", "p1, p2\n");
        let record = RECORD_LINE.repeat(40_000 / RECORD_LINE.len());
        tree.write("srv/records/patients/p1.txt", &record);
        tree.write("srv/records/patients/p2.txt", &record);
        tree.write("srv/records/held/case.txt", "evidence\n");
        tree.write("srv/us/.keep", "");
        tree.write("srv/public/.keep", "");
        Self { tree }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tree.path(rel)
    }

    /// A job for `tests/scripts/labels/<name>.rhai` under the example policy `policy`, with
    /// the example entities file, confined to this tree.
    fn job(&self, name: &str, policy: &str) -> Job {
        self.bare_job(name, policy).entities(example_entities())
    }

    /// [`Self::job`] without the entities file.
    fn bare_job(&self, name: &str, policy: &str) -> Job {
        Job::new(script(name), policy_file(policy))
            .principal("billing-agent")
            .root(&self.tree.root)
    }
}

/// `policies/examples/<name>.cedar`, or `tests/policies/labels/<name>.cedar`.
fn policy_file(name: &str) -> Policy {
    let example = repo().join(format!("policies/examples/{name}.cedar"));
    let path = if example.is_file() {
        example
    } else {
        repo().join(format!("tests/policies/labels/{name}.cedar"))
    };
    Policy::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn example_entities() -> LabelFile {
    let path = repo().join("policies/examples/records.entities.json");
    LabelFile::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn args(pairs: &[(&str, wrex::ArgValue)]) -> ScriptArgs {
    let mut args = ScriptArgs::new();
    for (name, value) in pairs {
        args.insert(name, value.clone()).unwrap();
    }
    args
}

#[track_caller]
fn assert_denied_because(out: &RunOutcome, action: &str, resource: &str, why: &str) {
    assert_eq!(
        out.error_type(),
        Some(ErrorType::AccessDeniedException),
        "{out:#?}"
    );
    let m = message(out);
    assert!(
        m.contains(&format!("file_system::Action::\"{action}\""))
            && m.contains(resource)
            && m.contains(why),
        "wanted a denial of {action} on {resource} ({why}), got: {m}"
    );
}

fn set_xattr(path: &PathBuf, key: &str, value: &str) {
    let name = format!("user.wrex.{key}");
    rustix::fs::setxattr(
        path,
        &name,
        value.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap_or_else(|e| panic!("setting {name} on {}: {e}", path.display()));
}

fn get_xattr(path: &PathBuf, key: &str) -> Option<String> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::getxattr(path, format!("user.wrex.{key}"), &mut buf[..]).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn phi_is_read_only_for_its_purpose_and_lands_in_the_lineage() {
    let records = Records::new();
    let run = |purpose: Option<&str>| {
        let job = records.job("read_patient", "purpose_limitation");
        runtime().run(match purpose {
            Some(p) => job.purpose(p),
            None => job,
        })
    };
    // No purpose, or another one: the records' directory is PHI, so not even opened.
    for purpose in [None, Some("marketing")] {
        let out = run(purpose);
        assert_denied_because(&out, "open", "/srv/records/patients", "no permit matched");
        assert!(out.lineage.is_empty(), "{:?}", out.lineage);
    }
    // The purpose it was granted for: read, and the lineage says what was read.
    let out = run(Some("incident-4711"));
    assert_success(&out);
    let read: Vec<&str> = out.lineage.read.iter().map(String::as_str).collect();
    assert_eq!(
        read,
        [
            "classification:phi",
            "jurisdiction:eu",
            "owner:records-team"
        ]
    );
    assert!(out.lineage.written.is_empty());
    assert!(out.lineage.read_bytes["classification:phi"] >= 39_000);
    // Unlabelled-for-PHI data needs no purpose; the nearer label (`internal`) overrides.
    let out = runtime().run(records.job("read_index", "purpose_limitation"));
    assert_success(&out);
    assert!(out.lineage.read.contains("classification:internal"));
    assert!(!out.lineage.read.contains("classification:phi"));
}

#[test]
fn reading_past_a_labels_budget_is_denied_naming_the_label() {
    let records = Records::new();
    let job = |name: &str| {
        records
            .job(name, "minimum_necessary")
            .purpose("billing-review")
            .on_behalf_of(vec!["clerk-17".into()])
    };
    // One record (40 KB) is within the entities file's 64 KiB budget for classification:phi.
    let out = runtime().run(job("read_patient"));
    assert_success(&out);
    assert!(out.lineage.read.contains("classification:phi"));
    // The second is not: denied, naming the label, with the first record's bytes spent.
    let out = runtime().run(job("read_two_patients"));
    assert_denied_because(
        &out,
        "read",
        "/srv/records/patients/p2.txt",
        "the read budget of label \"classification:phi\" is exhausted",
    );
    assert!(
        message(&out).contains("65536 bytes per run"),
        "{}",
        message(&out)
    );
    // A budget given to the job (a bare value matches any key) overrides the file's.
    let out = runtime().run(job("read_patient").budget("phi", 1024));
    assert_denied_because(
        &out,
        "read",
        "/srv/records/patients/p1.txt",
        "\"classification:phi\"",
    );
    // The wrong purpose never reaches the budget.
    let out = runtime().run(
        records
            .job("read_patient", "minimum_necessary")
            .purpose("audit"),
    );
    assert_denied_because(&out, "open", "/srv/records/patients", "no permit matched");
}

#[test]
fn data_under_legal_hold_can_be_read_but_not_changed() {
    let records = Records::new();
    let run = |how: &str| {
        runtime().run(
            records
                .job("change_held", "legal_hold")
                .args(args(&[("how", how.into())])),
        )
    };
    // (`write` opens its file with `create`, the first change it is asked about.)
    for (how, action) in [("write", "create"), ("rm", "delete"), ("mv", "move")] {
        let out = run(how);
        assert_denied_because(
            &out,
            action,
            "/srv/records/held/case.txt",
            "forbidden by policy \"legal-hold-is-read-only\"",
        );
        assert_eq!(
            std::fs::read_to_string(records.path("srv/records/held/case.txt")).unwrap(),
            "evidence\n"
        );
    }
    let out = run("read");
    assert_success(&out);
    assert_eq!(out.output, "evidence\n");
    assert!(out.lineage.read.contains("legal_hold:true"));
    // Data not under hold stays writable.
    assert_success(&run("write-notes"));
    assert!(records.path("srv/records/notes.txt").exists());
}

#[test]
fn eu_data_cannot_be_written_outside_the_eu_once_read() {
    let records = Records::new();
    let run = |read_first: bool, dest: &str| {
        runtime().run(records.job("export_report", "jurisdiction").args(args(&[
            ("read_first", read_first.into()),
            ("dest", dest.into()),
        ])))
    };
    // Nothing read yet: writing anywhere under /srv is permitted.
    assert_success(&run(false, "/srv/us/plain.txt"));
    // After reading EU data, an unrestricted destination is refused, nothing written …
    let out = run(true, "/srv/us/report.txt");
    assert_denied_because(
        &out,
        "create",
        "/srv/us/report.txt",
        "forbidden by policy \"eu-data-stays-in-eu\"",
    );
    assert!(!records.path("srv/us/report.txt").exists());
    // The same holds when the same kind of write was permitted earlier in the run, before
    // the read: each request is judged with the lineage as it is then. (With a purpose, every
    // request has a context from the start, so the earlier write's is one the runtime keeps.)
    let out = runtime().run(
        records
            .job("export_after_write", "jurisdiction")
            .purpose("quarterly-report"),
    );
    assert_denied_because(
        &out,
        "create",
        "/srv/us/late.txt",
        "forbidden by policy \"eu-data-stays-in-eu\"",
    );
    assert!(records.path("srv/us/early.txt").exists());
    assert!(!records.path("srv/us/late.txt").exists());
    // … and an EU one is fine, with the labels it wrote in the lineage.
    let out = run(true, "/srv/records/report.txt");
    assert_success(&out);
    assert!(out.lineage.read.contains("jurisdiction:eu"));
    assert!(out.lineage.written.contains("jurisdiction:eu"));
}

#[test]
fn extended_attribute_labels_apply_and_directories_pass_them_down() {
    let records = Records::new();
    records.tree.write("srv/records/solo.txt", "solo\n");
    records.tree.write("srv/records/xdir/inner.txt", "inner\n");
    set_xattr(
        &records.path("srv/records/solo.txt"),
        "classification",
        "phi",
    );
    set_xattr(&records.path("srv/records/xdir"), "classification", "phi");
    // No entities file: the labels come from the attributes alone.
    let out = runtime().run(records.bare_job("read_labelled", "purpose_limitation"));
    assert_denied_because(&out, "open", "/srv/records/solo.txt", "no permit matched");
    let out = runtime().run(
        records
            .bare_job("read_labelled", "purpose_limitation")
            .purpose("incident-4711"),
    );
    assert_success(&out);
    assert_eq!(out.output, "solo\ninner\n");
    assert!(out.lineage.read.contains("classification:phi"));
    // The directory's label reaches the file below it (solo.txt made anew, unlabelled).
    std::fs::remove_file(records.path("srv/records/solo.txt")).unwrap();
    records.tree.write("srv/records/solo.txt", "solo\n");
    let out = runtime().run(records.bare_job("read_labelled", "purpose_limitation"));
    assert_denied_because(&out, "open", "/srv/records/xdir", "no permit matched");
    // An operator who does not use attributes can turn them off.
    let out = runtime().run(
        records
            .bare_job("read_labelled", "purpose_limitation")
            .xattr_labels(false),
    );
    assert_success(&out);
    assert!(out.lineage.is_empty());
}

/// Entity stores of unlabelled resources are shared by every run under a policy; a label
/// set between two runs still reaches the second (labels are read per run, first).
#[test]
fn a_label_set_between_runs_applies_to_the_next_run() {
    let records = Records::new();
    records.tree.write("srv/records/solo.txt", "solo\n");
    records.tree.write("srv/records/xdir/inner.txt", "inner\n");
    let policy = policy_file("purpose_limitation");
    let job = || {
        Job::new(script("read_labelled"), policy.clone())
            .principal("billing-agent")
            .root(&records.tree.root)
    };
    let out = runtime().run(job());
    assert_success(&out);
    assert!(out.lineage.is_empty());
    set_xattr(
        &records.path("srv/records/solo.txt"),
        "classification",
        "phi",
    );
    let out = runtime().run(job());
    assert_denied_because(&out, "open", "/srv/records/solo.txt", "no permit matched");
    let out = runtime().run(job().purpose("incident-4711"));
    assert_success(&out);
    assert!(out.lineage.read.contains("classification:phi"));
}

#[test]
fn labels_stay_with_the_data_and_scripts_cannot_set_them() {
    let records = Records::new();
    records.tree.write("srv/records/solo.txt", "solo\n");
    let solo = records.path("srv/records/solo.txt");
    set_xattr(&solo, "classification", "phi");
    // A rewrite replaces the file: the new file keeps the label; a copy carries it along.
    let out = runtime().run(records.bare_job("keep_labels", "srv_all"));
    assert_success(&out);
    assert_eq!(std::fs::read_to_string(&solo).unwrap(), "rewritten\n");
    assert_eq!(get_xattr(&solo, "classification").as_deref(), Some("phi"));
    let copy = records.path("srv/public/copy.txt");
    assert_eq!(get_xattr(&copy, "classification").as_deref(), Some("phi"));
    assert!(out.lineage.read.contains("classification:phi"));
    assert!(out.lineage.written.contains("classification:phi"));
    // Relabelling is the owner's: a script is refused, whatever the policy.
    let out = runtime().run(records.bare_job("set_label", "srv_all"));
    assert_error(&out, ErrorType::ScriptException, "is a data label");
    assert_eq!(get_xattr(&solo, "classification").as_deref(), Some("phi"));
}

/// A path's labels are cached for the run; moving labelled data onto a path already read
/// must not let it be read under the old path's (absent) labels.
#[test]
fn moving_labelled_data_onto_a_read_path_does_not_shed_its_labels() {
    let records = Records::new();
    records.tree.write("srv/public/doc.txt", "public\n");
    records.tree.write("srv/vault/secret.txt", "SECRET PHI\n");
    set_xattr(
        &records.path("srv/vault/secret.txt"),
        "classification",
        "phi",
    );
    let out = runtime().run(records.bare_job("swap_in", "srv_no_phi_reads"));
    assert_denied_because(
        &out,
        "read",
        "/srv/public/doc.txt",
        "forbidden by policy \"no-phi-reads\"",
    );
    assert!(!message(&out).contains("SECRET"));
}

#[test]
fn a_label_the_host_cannot_read_denies_instead_of_deciding_without_it() {
    let records = Records::new();
    let index = records.path("srv/records/index.txt");
    set_xattr(&index, "bad key", "x");
    let out = runtime().run(records.job("read_index", "purpose_limitation"));
    assert_denied_because(
        &out,
        "open",
        "/srv/records/index.txt",
        "label key `bad key`",
    );
}

#[test]
fn a_bad_purpose_is_refused_before_the_run() {
    let records = Records::new();
    for purpose in ["", "two\nlines", &"x".repeat(wrex::MAX_PURPOSE_BYTES + 1)] {
        let out = runtime().run(
            records
                .job("read_index", "purpose_limitation")
                .purpose(purpose),
        );
        assert_error(&out, ErrorType::ValidationException, "purpose");
    }
}

#[test]
fn the_audit_log_records_purpose_and_lineage() {
    let records = Records::new();
    let path = records.path("audit.jsonl");
    let log = AuditLog::open(&path).unwrap();
    let out = runtime().run(
        records
            .job("read_patient", "purpose_limitation")
            .purpose("incident-4711")
            .audit(Arc::clone(&log)),
    );
    assert_success(&out);
    let recs: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs[0]["type"], "run_start");
    assert_eq!(recs[0]["purpose"], "incident-4711");
    let reads: Vec<&Value> = recs
        .iter()
        .filter(|r| r["type"] == "decision" && r["action"].as_str().unwrap().ends_with("\"read\""))
        .collect();
    assert!(!reads.is_empty());
    for r in &reads {
        assert_eq!(r["context"]["purpose"], "incident-4711", "{r}");
    }
    let end = recs.iter().find(|r| r["type"] == "run_end").unwrap();
    assert_eq!(
        end["lineage"]["read"],
        serde_json::json!([
            "classification:phi",
            "jurisdiction:eu",
            "owner:records-team"
        ])
    );
    let verified = wrex::audit::verify(&std::fs::read(&path).unwrap(), None).unwrap();
    assert_eq!(verified.complete_runs, 1);
}

// --- The `wrex` binary ---

#[test]
fn cli_purpose_entities_and_budget_reach_the_run_and_lineage_the_result() {
    let records = Records::new();
    let root = records.tree.root.as_str();
    let policy = repo().join("policies/examples/minimum_necessary.cedar");
    let entities = repo().join("policies/examples/records.entities.json");
    let script = repo().join("tests/scripts/labels/read_patient.rhai");
    let argv = |extra: &[&str]| -> Vec<String> {
        let base = [
            "run",
            script.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--root",
            root,
            "--entities",
            entities.to_str().unwrap(),
            "--on-behalf-of",
            "clerk-17",
        ];
        base.iter().chain(extra).map(|a| a.to_string()).collect()
    };
    let wrex = |extra: &[&str]| {
        let args = argv(extra);
        crate::util::wrex(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let run = |extra: &[&str]| {
        let out = wrex(extra);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{e}: {text} {}", String::from_utf8_lossy(&out.stderr)));
        (out, json)
    };
    let (out, json) = run(&["--purpose", "billing-review"]);
    assert!(out.status.success());
    assert_eq!(json["status"], "SUCCESS", "{json}");
    assert_eq!(
        json["lineage"]["read"],
        serde_json::json!([
            "classification:phi",
            "jurisdiction:eu",
            "owner:records-team"
        ])
    );
    let (_, json) = run(&["--purpose", "billing-review", "--budget", "phi=1KiB"]);
    assert_eq!(
        json["error"]["error_type"], "ACCESS_DENIED_EXCEPTION",
        "{json}"
    );
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read budget of label \"classification:phi\""),
        "{json}"
    );
    // Human output names the labels on stderr.
    let out = wrex(&["--purpose", "billing-review", "-o", "human"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "lineage: read classification:phi, jurisdiction:eu, owner:records-team; written -"
        ),
        "{stderr}"
    );
    // Without the purpose: denied, and a result with no lineage is exactly Rex's shape.
    let (_, json) = run(&[]);
    assert_eq!(
        json["error"]["error_type"], "ACCESS_DENIED_EXCEPTION",
        "{json}"
    );
    assert!(json.get("lineage").is_none(), "{json}");
}

#[test]
fn cli_bad_label_input_is_refused_clearly() {
    let records = Records::new();
    let policy = repo().join("policies/examples/minimum_necessary.cedar");
    let script = repo().join("tests/scripts/labels/read_patient.rhai");
    let base = [
        "run",
        script.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ];
    let stderr = |extra: &[&str]| {
        let out = crate::util::wrex(&[&base[..], extra].concat());
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(stderr(&["--budget", "phi"]).contains("expected LABEL=SIZE"));
    assert!(stderr(&["--budget", "phi=12parsecs"]).contains("unknown unit"));
    assert!(stderr(&["--purpose", ""]).contains("the purpose"));
    // A bad entities file: a communication error naming the file and the entity.
    let bad = records.path("bad.entities.json");
    std::fs::write(
        &bad,
        r#"[{"uid": {"type": "file_system::Dir", "id": "relative"}}]"#,
    )
    .unwrap();
    let out = crate::util::wrex(&[&base[..], &["--entities", bad.to_str().unwrap()]].concat());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["error"]["error_type"], "COMMUNICATION_EXCEPTION",
        "{json}"
    );
    let m = json["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("bad.entities.json") && m.contains("entity 0") && m.contains("absolute path"),
        "{m}"
    );
}

#[test]
fn cli_explain_takes_purpose_and_entities() {
    let policy = repo().join("policies/examples/purpose_limitation.cedar");
    let entities = repo().join("policies/examples/records.entities.json");
    let ask = |purpose: Option<&str>| {
        let mut argv = vec![
            "explain",
            "--policy",
            policy.to_str().unwrap(),
            "--entities",
            entities.to_str().unwrap(),
            "--action",
            r#"file_system::Action::"read""#,
            "--resource",
            r#"file_system::File::"/srv/records/patients/p1.txt""#,
        ];
        if let Some(p) = purpose {
            argv.extend(["--purpose", p]);
        }
        crate::util::wrex(&argv)
    };
    let denied = ask(None);
    assert_eq!(denied.status.code(), Some(1));
    let allowed = ask(Some("incident-4711"));
    assert_eq!(allowed.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&allowed.stdout).contains("read-phi-for-incident-4711"),
        "{}",
        String::from_utf8_lossy(&allowed.stdout)
    );
}
