//! The `wrex` binary: output formats, exit codes, Rex's flags, and bad input files.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::util::{Sandbox, repo, wrex};

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

const HELLO: [&str; 6] = [
    "examples/hello/hello.rhai",
    "--policy",
    "examples/hello/policy.cedar",
    "--args",
    "examples/hello/args.json",
    "--output",
];

#[test]
fn hello_example_prints_rex_json() {
    let mut args = vec!["run"];
    args.extend(HELLO);
    args.push("json");
    let out = wrex(&args);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["output"], "Hello from wrex!");
    assert_eq!(v["status"], "SUCCESS");
    assert!(v.get("error").is_none() && v.get("alarms").is_none());
    assert!(
        v["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["metric_name"] == "RexRunnerScriptExecutionSuccessCount")
    );
    assert_eq!(v["logs"][0]["attributes"]["level"], "INFO");
    assert_eq!(v["logs"][0]["attributes"]["line_number"], "18");
    // Compact JSON on one line, no trailing newline (Rex's format).
    assert!(!out.stdout.contains(&b'\n'));
    assert_eq!(
        std::fs::read_to_string("/tmp/wrex-hello/hello.txt").unwrap(),
        "Hello from wrex!"
    );
}

#[test]
fn rex_flags_work_unchanged() {
    let out = wrex(&[
        "-s",
        "examples/hello/hello.rhai",
        "-p",
        "examples/hello/policy.cedar",
        "-a",
        "examples/hello/args.json",
        "-o",
        "pretty-json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\n  \"output\": \"Hello from wrex!\""));
    assert_eq!(json(&out)["status"], "SUCCESS");
    let long = wrex(&[
        "--script-file",
        "examples/hello/hello.rhai",
        "--policy-file",
        "examples/hello/policy.cedar",
        "--script-arguments-file",
        "examples/hello/args.json",
        "--output-format",
        "json",
    ]);
    assert_eq!(json(&long)["output"], "Hello from wrex!");
}

#[test]
fn human_output_and_verbose() {
    let mut args = vec!["run"];
    args.extend(HELLO);
    args.extend(["human", "-v"]);
    let out = wrex(&args);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("[INFO] wrote 16 bytes"), "{stdout}");
    assert!(
        stdout.contains("\nHello from wrex!\n--- metrics ---\n"),
        "{stdout}"
    );
}

#[test]
fn denial_exits_zero_with_access_denied() {
    let sb = Sandbox::new();
    let policy = sb.policy_file("ro");
    let script = repo().join("tests/scripts/fs/cat_allowed.rhai");
    // `root` is not set: an undefined variable is a compile error, exit 0.
    let out = wrex(&["-s", p(&script), "-p", p(&policy)]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["error"]["error_type"], "SCRIPT_EXCEPTION");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Undefined variable: root")
    );

    let denied = repo().join("tests/scripts/fs/cat_outside.rhai");
    let args = sb.path("args.json");
    std::fs::write(
        &args,
        format!("{{\"root\": {{\"stringValue\": \"{}\"}}}}", sb.root),
    )
    .unwrap();
    let out = wrex(&["-s", p(&denied), "-p", p(&policy), "-a", p(&args)]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["status"], "ERROR");
    assert_eq!(v["error"]["error_type"], "ACCESS_DENIED_EXCEPTION");
    assert_eq!(v["alarms"][0]["alarm_type"], "RexRunnerPrivilegeEscalation");

    let out = wrex(&[
        "-s",
        p(&denied),
        "-p",
        p(&policy),
        "-a",
        p(&args),
        "-o",
        "human",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: IoErrorKind: PermissionDenied")
    );
}

#[test]
fn usage_errors_exit_two() {
    for args in [
        vec!["-s", "examples/hello/hello.rhai"],
        vec!["-p", "examples/hello/policy.cedar"],
        vec!["--print-functions"],
        vec!["-s", "x", "-p", "y", "-o", "xml"],
        vec!["run", "examples/hello/hello.rhai"],
    ] {
        let out = wrex(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[track_caller]
fn assert_early(out: &Output, error_type: &str, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = json(out);
    assert_eq!(v["status"], "ERROR");
    assert_eq!(v["error"]["error_type"], error_type, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "expected `{needle}` in `{message}`"
    );
}

#[test]
fn missing_files_are_communication_errors() {
    let out = wrex(&[
        "-s",
        "/nonexistent/s.rhai",
        "-p",
        "examples/hello/policy.cedar",
    ]);
    assert_early(
        &out,
        "COMMUNICATION_EXCEPTION",
        "Failed to read script file: /nonexistent/s.rhai: No such file or directory",
    );
    let out = wrex(&[
        "-s",
        "examples/hello/hello.rhai",
        "-p",
        "/nonexistent/p.cedar",
    ]);
    assert_early(
        &out,
        "COMMUNICATION_EXCEPTION",
        "Failed to read policy file: /nonexistent/p.cedar",
    );
    let out = wrex(&[
        "-s",
        "examples/hello/hello.rhai",
        "-p",
        "examples/hello/policy.cedar",
        "-a",
        "/nonexistent/a.json",
        "-o",
        "human",
    ]);
    assert_early(
        &out,
        "COMMUNICATION_EXCEPTION",
        "Failed to read script arguments file: /nonexistent/a.json",
    );
}

#[test]
fn bad_policies_are_refused_with_location() {
    let out = wrex(&[
        "-s",
        "examples/hello/hello.rhai",
        "-p",
        "tests/policies/invalid/syntax.cedar",
    ]);
    assert_early(
        &out,
        "INTERNAL_EXCEPTION",
        "tests/policies/invalid/syntax.cedar:4:3",
    );
    let out = wrex(&[
        "-s",
        "examples/hello/hello.rhai",
        "-p",
        "tests/policies/invalid/typo_action.cedar",
        "-o",
        "human",
    ]);
    assert_early(&out, "INTERNAL_EXCEPTION", "raed");
}

/// A policy that nests 1,000 parentheses aborted wrex with a stack overflow (no JSON); it is
/// refused as a load error naming its place.
#[test]
fn a_deeply_nested_policy_is_refused_not_a_crash() {
    let out = wrex(&[
        "-s",
        "examples/hello/hello.rhai",
        "-p",
        "tests/policies/invalid/deep_nesting.cedar",
    ]);
    assert_early(
        &out,
        "INTERNAL_EXCEPTION",
        "tests/policies/invalid/deep_nesting.cedar:2:",
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("nesting deeper than 64"));
}

/// Script text reaches a terminal escaped: no escape sequence, carriage return or fake log
/// line of the script's is printed raw in human output.
#[test]
fn human_output_escapes_control_characters() {
    let out = wrex(&[
        "-s",
        "tests/scripts/host/terminal_tricks.rhai",
        "-p",
        "examples/hello/policy.cedar",
        "-o",
        "human",
        "-v",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\r'),
        "{stdout:?}"
    );
    assert!(stdout.contains("\\u{1b}]0;pwned"), "{stdout}");
    // The log entry stays on its line; no line of output starts like a log entry.
    assert!(stdout.contains("log\\n[ERROR] fake"), "{stdout}");
    assert!(
        !stdout.lines().any(|l| l.starts_with("[ERROR]")),
        "{stdout}"
    );
}

/// wrex's own diagnostics carry no colour codes when stderr is not a terminal.
#[test]
fn diagnostics_are_plain_text_when_captured() {
    let out = Command::new(env!("CARGO_BIN_EXE_wrex"))
        .arg("run")
        .args(HELLO)
        .arg("json")
        .env("WREX_LOG", "debug")
        .current_dir(repo())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("authorization decision"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn bad_arguments_are_refused() {
    let out = wrex(&[
        "-s",
        "tests/scripts/runner/hello_name.rhai",
        "-p",
        "examples/hello/policy.cedar",
        "-a",
        "tests/args/malformed.json",
    ]);
    assert_early(&out, "COMMUNICATION_EXCEPTION", "tests/args/malformed.json");
    let out = wrex(&[
        "-s",
        "tests/scripts/runner/hello_name.rhai",
        "-p",
        "examples/hello/policy.cedar",
        "-a",
        "tests/args/deep.json",
    ]);
    assert_early(
        &out,
        "VALIDATION_EXCEPTION",
        "Argument 'k': Maximum nesting depth of 2 exceeded",
    );
    assert_eq!(
        json(&out)["alarms"][0]["alarm_type"],
        "RexRunnerScriptArgumentValidationFailure"
    );
    let out = wrex(&[
        "-s",
        "tests/scripts/runner/hello_name.rhai",
        "-p",
        "examples/hello/policy.cedar",
        "-a",
        "tests/args/name.json",
        "-o",
        "human",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Alice\n");
}

#[test]
fn script_syntax_error_names_line_and_position() {
    let out = wrex(&[
        "-s",
        "tests/scripts/runner/syntax_error.rhai",
        "-p",
        "examples/hello/policy.cedar",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["error"]["error_type"], "SCRIPT_EXCEPTION");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(line 2, position 9)"),
        "{v}"
    );
    let alarms: Vec<&str> = v["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alarm_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        alarms,
        [
            "RexRunnerScriptCompilationFailure",
            "RexRunnerScriptExecutionFailure"
        ]
    );
}

#[test]
fn principal_flag_overrides_the_os_user() {
    let sb = Sandbox::new();
    let script = repo().join("tests/scripts/fs/cat_outside.rhai");
    let args = sb.path("args.json");
    std::fs::write(
        &args,
        format!("{{\"root\": {{\"stringValue\": \"{}\"}}}}", sb.root),
    )
    .unwrap();
    let policy = sb.policy_file("ro");
    let out = wrex(&[
        "-s",
        p(&script),
        "-p",
        p(&policy),
        "-a",
        p(&args),
        "--principal",
        "agent-7",
    ]);
    let v = json(&out);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("agent-7 unauthorized"),
        "{v}"
    );
}

#[test]
fn sigterm_stops_the_script_and_a_result_is_still_printed() {
    for signal in ["-TERM", "-INT"] {
        let child = Command::new(env!("CARGO_BIN_EXE_wrex"))
            .args([
                "-s",
                "tests/scripts/limits/infinite_loop.rhai",
                "-p",
                "examples/hello/policy.cedar",
            ])
            .args(["--max-operations", "0", "--timeout", "60"])
            .current_dir(repo())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(700));
        let started = std::time::Instant::now();
        let killed = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(0), "{signal}: {out:?}");
        let v = json(&out);
        assert_eq!(v["status"], "ERROR");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cancelled"),
            "{v}"
        );
    }
}

#[test]
fn limit_flags_reach_the_run() {
    let out = wrex(&[
        "-s",
        "tests/scripts/limits/infinite_loop.rhai",
        "-p",
        "examples/hello/policy.cedar",
        "--max-operations",
        "1000",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["error"]["error_type"], "LIMIT_EXCEEDED", "{v}");
    let out = wrex(&[
        "-s",
        "tests/scripts/limits/infinite_loop.rhai",
        "-p",
        "examples/hello/policy.cedar",
        "--timeout",
        "0.2",
        "--max-operations",
        "0",
    ]);
    assert_eq!(json(&out)["error"]["error_type"], "TIMEOUT_EXCEEDED");
    let out = wrex(&[
        "-s",
        "tests/scripts/limits/infinite_loop.rhai",
        "-p",
        "examples/hello/policy.cedar",
        "--timeout",
        "0",
    ]);
    assert_early(&out, "VALIDATION_EXCEPTION", "--timeout");
    let out = wrex(&[
        "-s",
        "tests/scripts/limits/infinite_loop.rhai",
        "-p",
        "examples/hello/policy.cedar",
        "--max-script-size",
        "10",
    ]);
    assert_early(&out, "LIMIT_EXCEEDED", "larger than 10 bytes");
}

#[test]
fn a_script_that_is_not_utf8_is_refused() {
    let sb = Sandbox::new();
    let path = sb.path("bad.rhai");
    std::fs::write(&path, b"let x = \"\xff\xfe\";").unwrap();
    let out = wrex(&["-s", p(&path), "-p", "examples/hello/policy.cedar"]);
    assert_early(&out, "COMMUNICATION_EXCEPTION", "valid UTF-8");
}

#[test]
fn redaction_dictionary_flag() {
    let sb = Sandbox::new();
    sb.write("allowed/app.log", "user=alice\npassword=hunter2\n");
    sb.write("dict/patterns", "^user=\n");
    let script = sb.path("cat.rhai");
    std::fs::write(&script, format!("cat(\"{}/allowed/app.log\")", sb.root)).unwrap();
    let policy = sb.policy_file("redacted");
    let dict = format!("{}/dict/patterns", sb.root);
    let out = wrex(&[
        "run",
        p(&script),
        "--policy",
        p(&policy),
        "--redaction-dictionary",
        &dict,
        "-o",
        "human",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "user=alice\n[REDACTED]\n\n"
    );
    let out = wrex(&[
        "run",
        p(&script),
        "--policy",
        p(&policy),
        "--redaction-dictionary",
        "rel",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an absolute path"));
}

/// A CLI run reports Rex's process-monitoring metrics (CPU use, average resident and virtual
/// memory).
#[test]
fn process_monitoring_metrics_are_reported() {
    let mut args = HELLO.to_vec();
    args.push("json");
    let mut full = vec!["run"];
    full.extend(args);
    let out = json(&wrex(&full));
    let names: Vec<&str> = out["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["metric_dimension"]["MetricInfo"] == "ProcessMonitoring")
        .map(|m| m["metric_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "RexRunnerProcessCpuUsage",
            "RexRunnerProcessRssMemoryUsageAverage",
            "RexRunnerProcessVirtualMemoryUsageAverage"
        ],
        "{out}"
    );
}
