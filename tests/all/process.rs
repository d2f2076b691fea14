//! The process capability through the real guest: listing filtered per process, signals
//! through pidfds (allowed, denied, by name, the host never a target), fuser and lsof, ipcs,
//! CPU monitoring, and bad input. Every process a test looks at is one it started, under a
//! name of its own.

use wrex::{ArgValue, ErrorType};

use crate::util::{
    Sandbox, Spawned, assert_error, assert_success, fixture, process_name, run_with, script,
};

/// The policy `tests/policies/process/<name>.cedar` with `{{a}}`, `{{b}}` and `{{root}}`
/// filled in.
fn policy(name: &str, a: &str, b: &str, root: &str) -> String {
    std::fs::read_to_string(fixture("policies", name, "cedar"))
        .unwrap()
        .replace("{{a}}", a)
        .replace("{{b}}", b)
        .replace("{{root}}", root)
}

fn int(v: i64) -> ArgValue {
    v.into()
}

#[test]
fn ps_lists_only_the_processes_the_policy_permits_and_never_the_host() {
    let sb = Sandbox::new();
    let (a, b) = (process_name("psa"), process_name("psb"));
    let _pa = Spawned::start(&sb, "sleep", &a, &["300"]);
    let _pb = Spawned::start(&sb, "sleep", &b, &["300"]);
    let prefix = process_name("ps");
    let (out, decisions) = run_with(
        &script("list_names"),
        &policy("list_mine", &a, &b, &sb.root),
        vec![
            ("prefix", prefix.as_str().into()),
            ("host_pid", int(std::process::id().into())),
        ],
        None,
    );
    assert_success(&out);
    assert_eq!(
        out.output,
        format!("#{{\"host\": false, \"seen\": [\"{a}\"]}}")
    );
    // The process left out was asked about and refused: the audit trail has it.
    assert!(
        decisions.iter().any(|d| !d.allowed
            && d.action.ends_with("\"list\"")
            && d.resource.contains(&_pb.pid().to_string())),
        "{decisions:#?}"
    );
    // Under a policy that permits every process, the host is still not listed.
    let (out, _) = run_with(
        &script("list_names"),
        &policy("everything", &a, &b, &sb.root),
        vec![
            ("prefix", prefix.as_str().into()),
            ("host_pid", int(std::process::id().into())),
        ],
        None,
    );
    assert_success(&out);
    assert_eq!(
        out.output,
        format!("#{{\"host\": false, \"seen\": [\"{a}\", \"{b}\"]}}")
    );
}

#[test]
fn process_info_has_rex_fields() {
    let sb = Sandbox::new();
    let a = process_name("info");
    let p = Spawned::start(&sb, "sleep", &a, &["301"]);
    let (out, _) = run_with(
        &script("process_info"),
        &policy("everything", &a, &a, &sb.root),
        vec![("pid", int(p.pid()))],
        None,
    );
    assert_success(&out);
    let o = &out.output;
    assert!(o.contains(&format!("\"name\": \"{a}\"")), "{o}");
    assert!(o.contains(&format!("\"command\": \"{a} 301\"")), "{o}");
    assert!(
        o.contains(&format!("\"username\": \"{}\"", wrex::current_user())),
        "{o}"
    );
    // Asleep, or still running its start-up on a busy machine.
    assert!(
        o.contains("\"state\": \"Sleep\"") || o.contains("\"state\": \"Run\""),
        "{o}"
    );
    assert!(
        o.contains(&format!("\"ppid\": {}", std::process::id())),
        "{o}"
    );
    assert!(o.contains("\"ns\": \"PidNamespace\""), "{o}");
    for key in [
        "memory_percent",
        "historical_cpu_usage",
        "recent_cpu_usage",
        "pid_namespace",
    ] {
        assert!(o.contains(&format!("\"{key}\"")), "{key} missing: {o}");
    }
}

#[test]
fn kill_signals_a_permitted_process_and_refuses_another() {
    let sb = Sandbox::new();
    let (a, b) = (process_name("ka"), process_name("kb"));
    let mut pa = Spawned::start(&sb, "sleep", &a, &["300"]);
    let mut pb = Spawned::start(&sb, "sleep", &b, &["300"]);
    let rules = policy("signal_a", &a, &b, &sb.root);
    let (out, _) = run_with(
        &script("kill_pid"),
        &rules,
        vec![("pid", int(pa.pid()))],
        None,
    );
    assert_success(&out);
    assert_eq!(
        out.output,
        format!("[#{{\"name\": \"{a}\", \"pid\": {}}}]", pa.pid())
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(pa.ended().and_then(|s| s.signal()), Some(15), "SIGTERM");

    let (out, _) = run_with(
        &script("kill_pid"),
        &rules,
        vec![("pid", int(pb.pid()))],
        None,
    );
    assert_error(
        &out,
        ErrorType::AccessDeniedException,
        "process_system::Action::\"kill\"",
    );
    assert!(crate::util::message(&out).contains(&format!("process_system::Process::{}", pb.pid())));
    assert!(
        pb.child.try_wait().unwrap().is_none(),
        "a denied kill signals nothing"
    );

    // SIGHUP is `interrupt`, which only `{{a}}` has.
    let (out, _) = run_with(
        &script("kill_hup"),
        &rules,
        vec![("pid", int(pb.pid()))],
        None,
    );
    assert_error(
        &out,
        ErrorType::AccessDeniedException,
        "process_system::Action::\"interrupt\"",
    );
    assert!(pb.child.try_wait().unwrap().is_none());
}

#[test]
fn kill_by_name_skips_the_processes_the_policy_refuses() {
    let sb = Sandbox::new();
    let a = process_name("kn");
    let b = process_name("kn2");
    let mut first = Spawned::start(&sb, "sleep", &a, &["300"]);
    let mut second = Spawned::start(&sb, "sleep", &a, &["301"]);
    let other = Spawned::start(&sb, "sleep", &b, &["300"]);
    let (out, _) = run_with(
        &script("kill_by_name"),
        &policy("signal_a", &a, &b, &sb.root),
        vec![("name", a.as_str().into())],
        None,
    );
    assert_success(&out);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(first.ended().and_then(|s| s.signal()), Some(9));
    assert_eq!(second.ended().and_then(|s| s.signal()), Some(9));
    assert!(
        out.output.contains(&first.pid().to_string())
            && out.output.contains(&second.pid().to_string())
    );
    drop(other);

    // Every match refused: the denial is the error, and nothing was signalled.
    let mut third = Spawned::start(&sb, "sleep", &b, &["302"]);
    let (out, _) = run_with(
        &script("kill_by_name"),
        &policy("signal_a", &a, &b, &sb.root),
        vec![("name", b.as_str().into())],
        None,
    );
    assert_error(
        &out,
        ErrorType::AccessDeniedException,
        "process_system::Action::\"kill\"",
    );
    assert!(third.child.try_wait().unwrap().is_none());
}

#[test]
fn the_host_process_is_never_a_target_whatever_the_policy() {
    let sb = Sandbox::new();
    let host = i64::from(std::process::id());
    let (out, decisions) = run_with(
        &script("kill_pid"),
        &policy("everything", "", "", &sb.root),
        vec![("pid", int(host))],
        None,
    );
    assert_error(
        &out,
        ErrorType::AccessDeniedException,
        "wrex::runtime-state",
    );
    assert!(
        decisions
            .iter()
            .any(|d| d.policies.iter().any(|p| p == "wrex::runtime-state"))
    );
    // A thread of the host is the host too.
    let thread = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i64>().ok())
        .find(|t| *t != host)
        .expect("the test harness runs threads");
    let (out, _) = run_with(
        &script("kill_pid"),
        &policy("everything", "", "", &sb.root),
        vec![("pid", int(thread))],
        None,
    );
    assert_error(
        &out,
        ErrorType::AccessDeniedException,
        "wrex::runtime-state",
    );
}

#[test]
fn bad_kill_input_is_refused_with_clear_errors() {
    let sb = Sandbox::new();
    let (out, _) = run_with(
        &script("kill_bad_input"),
        &policy("everything", "", "", &sb.root),
        vec![],
        None,
    );
    assert_success(&out);
    let o = &out.output;
    assert!(o.contains("ValidationError: invalid PID -1"), "{o}");
    assert!(o.contains("ValidationError: invalid PID 0"), "{o}");
    assert!(o.contains("ValidationError: invalid PID 4294967296"), "{o}");
    assert!(o.contains("unsupported signal number 7"), "{o}");
    assert!(o.contains("`cat::number` is not a flag of `kill`"), "{o}");
    assert!(o.contains("KillOptions names no process"), "{o}");
    assert!(o.contains("`process_name` is empty"), "{o}");
    assert!(o.contains("ProcessNotFound"), "{o}");
    assert!(!o.contains("signalled"), "{o}");
}

#[test]
fn fuser_and_lsof_show_the_permitted_processes_that_use_a_file() {
    let sb = Sandbox::new();
    let (a, b) = (process_name("fa"), process_name("fb"));
    let file = sb.path("allowed/a.txt");
    let file = file.to_str().unwrap();
    let pa = Spawned::start(&sb, "tail", &a, &["-f", file]);
    let pb = Spawned::start(&sb, "tail", &b, &["-f", file]);
    let rules = policy("files", &a, &b, &sb.root);
    let (out, _) = run_with(&script("fuser"), &rules, vec![("path", file.into())], None);
    assert_success(&out);
    let o = &out.output;
    assert!(o.contains(&format!("\"pid\": {}", pa.pid())), "{o}");
    assert!(o.contains("\"access\": \"File descriptor\""), "{o}");
    assert!(
        !o.contains(&format!("\"pid\": {}", pb.pid())),
        "list_fds refused: left out: {o}"
    );

    // `stat` on the path is checked first: outside the sandbox, a denial.
    let (out, _) = run_with(
        &script("fuser"),
        &rules,
        vec![("path", "/etc/hostname".into())],
        None,
    );
    assert_error(
        &out,
        ErrorType::AccessDeniedException,
        "file_system::Action::\"stat\"",
    );

    let dir = sb.path("allowed");
    let (out, _) = run_with(
        &script("lsof"),
        &rules,
        vec![
            ("pid", int(pa.pid())),
            ("dir", dir.to_str().unwrap().into()),
        ],
        None,
    );
    assert_success(&out);
    let o = &out.output;
    assert!(o.contains(&format!("\"file_path\": \"{file}\"")), "{o}");
    assert!(o.contains("\"file_type\": \"REG\""), "{o}");
    assert!(o.contains(&format!("\"process_name\": \"{a}\"")), "{o}");
    assert!(
        o.contains(&format!("under: [\"{file}\""))
            || o.contains(&format!("\"under\": [\"{file}\"")),
        "{o}"
    );

    // lsof of a process whose descriptors are refused is the denial.
    let (out, _) = run_with(
        &script("lsof"),
        &rules,
        vec![
            ("pid", int(pb.pid())),
            ("dir", dir.to_str().unwrap().into()),
        ],
        None,
    );
    assert_error(
        &out,
        ErrorType::AccessDeniedException,
        "process_system::Action::\"list_fds\"",
    );
}

#[test]
fn ipcs_reads_the_sysvipc_tables_through_the_file_system_checks() {
    let sb = Sandbox::new();
    let (out, _) = run_with(
        &script("ipcs"),
        &policy("ipcs", "", "", &sb.root),
        vec![],
        None,
    );
    assert_success(&out);
    assert!(
        out.output.contains("Shared Memory Segments:"),
        "{}",
        out.output
    );
    assert!(
        out.output.contains("key"),
        "the tables' header line: {}",
        out.output
    );
    let (out, _) = run_with(
        &script("ipcs"),
        &policy("everything", "", "", &sb.root),
        vec![],
        None,
    );
    assert_error(&out, ErrorType::AccessDeniedException, "/proc/sysvipc");
}

#[test]
fn cpu_monitoring_samples_each_batch() {
    let sb = Sandbox::new();
    let a = process_name("mon");
    let p = Spawned::start(&sb, "sleep", &a, &["300"]);
    let (out, _) = run_with(
        &script("monitor"),
        &policy("everything", &a, &a, &sb.root),
        vec![("pid", int(p.pid()))],
        None,
    );
    assert_success(&out);
    assert_eq!(
        out.output,
        format!("[[[{0}, \"f64\"]], [[{0}, \"f64\"]]]", p.pid())
    );
}
