//! `fh.execute` through the real guest: the arguments and environment a policy allows, what
//! the child gets of the host (no descriptor, no environment, its own process group), output
//! above a pipe's 64 KiB and past the cap, timeouts and the run's deadline (the whole group
//! killed, SIGTERM ignored or not), running as another user, the working directory, bad
//! options; `elf_info`. Each program is a system binary linked into the test's sandbox.

use std::time::{Duration, Instant};

use wrex::{ArgValue, ErrorType, Limits, Scalar};

use crate::util::{
    Sandbox, assert_error, assert_success, copy_binary, process_name, run_with, running, script,
};

fn list(words: &[&str]) -> ArgValue {
    ArgValue::List(
        words
            .iter()
            .map(|w| Scalar::String(w.to_string()))
            .collect(),
    )
}

fn map(pairs: &[(&str, &str)]) -> ArgValue {
    ArgValue::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Scalar::String(v.to_string())))
            .collect(),
    )
}

/// Runs `run.rhai`: `<root>/bin/<name>` with `args` and the extra script arguments.
fn run(sb: &Sandbox, name: &str, args: &[&str], extra: Vec<(&str, ArgValue)>) -> wrex::RunOutcome {
    run_limited(sb, name, args, extra, None)
}

fn run_limited(
    sb: &Sandbox,
    name: &str,
    args: &[&str],
    extra: Vec<(&str, ArgValue)>,
    limits: Option<Limits>,
) -> wrex::RunOutcome {
    let mut vars = vec![
        ("root", sb.root.as_str().into()),
        ("name", name.into()),
        ("args", list(args)),
    ];
    for (key, default) in [
        ("env", map(&[])),
        ("user", "".into()),
        ("timeout", 0i64.into()),
        ("max_output", 0i64.into()),
    ] {
        let given = extra
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone());
        vars.push((key, given.unwrap_or(default)));
    }
    run_with(&script("run"), &sb.policy_text("bin"), vars, limits).0
}

#[test]
fn execute_runs_with_the_arguments_the_policy_allows() {
    let sb = Sandbox::new();
    copy_binary(&sb, "echo", "echo");
    let (out, decisions) = run_with(
        &script("echo_hello"),
        &sb.policy_text("echo_hello"),
        vec![("root", sb.root.as_str().into())],
        None,
    );
    assert_success(&out);
    assert!(
        out.output.contains(
            "\"hello\": #{\"exit_code\": 0, \"stderr\": \"\", \"stdout\": \"hello -n\\n\"}"
        ),
        "{}",
        out.output
    );
    assert!(
        out.output.contains("\"bye\": \"PermissionDenied: Permission denied: tester unauthorized to perform file_system::Action::\\\"execute\\\""),
        "{}",
        out.output
    );
    // The request carried Rex's context: the arguments entity and the user.
    let allowed = decisions
        .iter()
        .find(|d| d.allowed && d.action.ends_with("\"execute\""))
        .unwrap();
    let context = allowed.context.to_string();
    assert!(
        context.contains("file_system::Arguments") && context.contains("\"uid\":0"),
        "{context}"
    );
}

#[test]
fn the_environment_is_only_what_the_options_give() {
    let sb = Sandbox::new();
    copy_binary(&sb, "env", "env");
    let out = run(&sb, "env", &[], vec![("env", map(&[("GREETING", "hi")]))]);
    assert_success(&out);
    assert!(
        out.output.contains("\"stdout\": \"GREETING=hi\\n\""),
        "{}",
        out.output
    );
    let out = run(
        &sb,
        "env",
        &[],
        vec![("env", map(&[("LD_PRELOAD", "/tmp/evil.so")]))],
    );
    assert_error(
        &out,
        ErrorType::AccessDeniedException,
        "file_system::Action::\"execute\"",
    );
}

#[test]
fn the_child_inherits_no_descriptor_of_the_host() {
    let sb = Sandbox::new();
    copy_binary(&sb, "ls", "ls");
    // Descriptors the host holds right now (the test's runtime, compiled guest, sockets …).
    let held = std::fs::read_dir("/proc/self/fd").unwrap().count();
    assert!(held > 4, "the host holds descriptors of its own: {held}");
    let out = run(&sb, "ls", &["-l", "/proc/self/fd"], vec![]);
    assert_success(&out);
    let fds: Vec<&str> = out
        .output
        .split("\\n")
        .filter(|l| l.starts_with('l'))
        .collect();
    // stdin (/dev/null), stdout and stderr (the host's pipes), and `ls`'s own directory.
    assert_eq!(fds.len(), 4, "{fds:#?}");
    assert!(fds[0].ends_with(" 0 -> /dev/null"), "{fds:#?}");
    assert!(
        fds[1].contains(" 1 -> pipe:") && fds[2].contains(" 2 -> pipe:"),
        "{fds:#?}"
    );
    assert!(fds[3].contains(" 3 -> /proc/"), "{fds:#?}");
}

#[test]
fn output_above_a_pipe_buffer_is_read_and_the_cap_cuts_it() {
    let sb = Sandbox::new();
    copy_binary(&sb, "head", "head");
    let out = run(&sb, "head", &["-c", "300000", "/dev/zero"], vec![]);
    assert_success(&out);
    assert!(
        out.output.contains("\"stdout_len\": 300000"),
        "{}",
        &out.output[out.output.len() - 200..]
    );
    assert!(out.output.contains("\"stdout_truncated\": false"));
    let out = run(
        &sb,
        "head",
        &["-c", "300000", "/dev/zero"],
        vec![("max_output", 1000i64.into())],
    );
    assert_success(&out);
    assert!(
        out.output.contains("\"stdout_len\": 1000"),
        "{}",
        &out.output[out.output.len() - 200..]
    );
    assert!(out.output.contains("\"stdout_truncated\": true"));
    assert!(
        out.output.contains("\"exit_code\": 0"),
        "the rest was read and dropped, not left to block the child"
    );
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_with_its_group_at_its_timeout() {
    let sb = Sandbox::new();
    copy_binary(&sb, "bash", "bash");
    let sleeper = process_name("stub");
    let sleep = copy_binary(&sb, "sleep", &sleeper);
    let command = format!("trap '' TERM; {} 30; echo survived", sleep.display());
    crate::util::runtime(); // the guest is compiled before the clock starts
    let started = Instant::now();
    let out = run(
        &sb,
        "bash",
        &["-c", &command],
        vec![("timeout", 1i64.into())],
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_error(
        &out,
        ErrorType::ScriptException,
        "did not finish within 1000 ms and was killed",
    );
    assert!(
        !running(&sleeper),
        "the grandchild in the same group is killed too"
    );
}

#[test]
fn a_child_that_outlives_the_run_is_killed_with_it() {
    let sb = Sandbox::new();
    copy_binary(&sb, "bash", "bash");
    let sleeper = process_name("late");
    let sleep = copy_binary(&sb, "sleep", &sleeper);
    let limits = Limits {
        timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    crate::util::runtime();
    let started = Instant::now();
    let command = format!("{} 60", sleep.display());
    let out = run_limited(&sb, "bash", &["-c", &command], vec![], Some(limits));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        out.error_type(),
        Some(ErrorType::TimeoutExceeded),
        "{out:#?}"
    );
    assert!(!running(&sleeper));
}

#[test]
fn bad_options_are_refused_before_anything_runs() {
    let sb = Sandbox::new();
    copy_binary(&sb, "echo", "echo");
    let many: Vec<String> = (0..5000).map(|i| format!("a{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (out, _) = run_with(
        &script("bad_options"),
        &sb.policy_text("bin"),
        vec![
            ("root", sb.root.as_str().into()),
            ("nul", "\0".into()),
            ("many", list(&many)),
        ],
        None,
    );
    assert_success(&out);
    let o = &out.output;
    for expected in [
        "ValidationError: Argument at index 0 contains a NUL byte",
        "ValidationError: Argument key at index 0 cannot be empty",
        "ValidationError: Argument value for key 'k' at index 0 cannot be empty",
        "argument 0 must be [key] or [key, value], got 3 elements",
        "argument 0 must be a string, [key] or [key, value], got a i64",
        "ValidationError: Environment variable at index 0: a name holds no `=`",
        "ValidationError: Environment variable at index 0 should have non-empty key and value",
        "ValidationError: ExecuteOptions: no user named `no-such-user-wrex`",
        "ValidationError: ExecuteOptions: 5000 arguments; at most 4096",
        "UnsupportedOperationError: ExecuteOptions: `capabilities` is not supported",
        "UnsupportedOperationError: ExecuteOptions: `namespace` is not supported",
        "ValidationError: ExecuteOptions: `timeout` must not be negative",
        "InvalidFileMode: File must be opened read-only to execute it",
    ] {
        assert!(o.contains(expected), "missing `{expected}` in {o}");
    }
    assert!(!o.contains("\"ran\""), "{o}");
}

#[test]
fn a_program_runs_as_the_user_the_options_name() {
    let sb = Sandbox::new();
    copy_binary(&sb, "id", "id");
    let out = run(&sb, "id", &["-u"], vec![("user", "nobody".into())]);
    assert_success(&out);
    assert!(
        out.output.contains("\"stdout\": \"65534\\n\""),
        "{}",
        out.output
    );
    // The policy lets `id` run only as nobody.
    let out = run(&sb, "id", &["-u"], vec![]);
    assert_error(
        &out,
        ErrorType::AccessDeniedException,
        "file_system::Action::\"execute\"",
    );
}

#[test]
fn the_working_directory_is_the_runs_root_or_a_directory_handle() {
    let sb = Sandbox::new();
    copy_binary(&sb, "pwd", "pwd");
    let (out, _) = run_with(
        &script("cwd"),
        &sb.policy_text("bin"),
        vec![("root", sb.root.as_str().into())],
        None,
    );
    assert_success(&out);
    assert!(
        out.output.contains("\"run_root\": \"/\\n\""),
        "{}",
        out.output
    );
    assert!(
        out.output
            .contains(&format!("\"given\": \"{}/allowed\\n\"", sb.root)),
        "{}",
        out.output
    );
}

#[test]
fn elf_info_reads_the_program_header() {
    let sb = Sandbox::new();
    copy_binary(&sb, "echo", "echo");
    let (out, _) = run_with(
        &script("elf"),
        &sb.policy_text("bin"),
        vec![("root", sb.root.as_str().into())],
        None,
    );
    assert_success(&out);
    assert!(out.output.contains("\"is_64bit\": true"), "{}", out.output);
    assert!(
        out.output.contains("\"interpreter\": \"/lib"),
        "{}",
        out.output
    );
    assert!(out.output.contains("\"execfn\": ()"), "{}", out.output);
    assert!(out.output.contains("not an ELF file"), "{}", out.output);
}

/// A set-user-id program runs as the user the request named: `no_new_privs` keeps `exec` from
/// granting more than the policy authorized.
#[test]
fn a_set_user_id_program_gains_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    // A real copy (never a link to the system's binary), set-user-id root.
    let dir = sb.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let id = dir.join("id");
    std::fs::copy("/usr/bin/id", &id).unwrap();
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let mut out = run(&sb, "id", &["-u"], vec![("user", "nobody".into())]);
    // A test thread forking while the copy was open for writing holds it until its `exec`.
    for _ in 0..20 {
        if !crate::util::message(&out).contains("Text file busy") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        out = run(&sb, "id", &["-u"], vec![("user", "nobody".into())]);
    }
    assert_success(&out);
    assert!(
        out.output.contains("\"stdout\": \"65534\\n\""),
        "{}",
        out.output
    );
}

/// Cancelling the run (SIGTERM to `wrex run`, a cancelled MCP call) kills a running program
/// and its group at once.
#[test]
fn cancelling_the_run_kills_the_program() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let sb = Sandbox::new();
    copy_binary(&sb, "bash", "bash");
    let sleeper = process_name("cncl");
    let sleep = copy_binary(&sb, "sleep", &sleeper);
    let command = format!("{} 60", sleep.display());
    let mut args = wrex::ScriptArgs::new();
    for (name, value) in [
        ("root", ArgValue::from(sb.root.as_str())),
        ("name", "bash".into()),
        ("args", list(&["-c", &command])),
        ("env", map(&[])),
        ("user", "".into()),
        ("timeout", 0i64.into()),
        ("max_output", 0i64.into()),
    ] {
        args.insert(name, value).unwrap();
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let job = wrex::Job::new(
        script("run"),
        wrex::Policy::parse(&sb.policy_text("bin")).unwrap(),
    )
    .args(args)
    .cancel_flag(cancel.clone());
    crate::util::runtime();
    let flag = cancel;
    let name = sleeper.clone();
    let canceller = std::thread::spawn(move || {
        // Once the program runs, cancel.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !running(&name) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        flag.store(true, Ordering::Relaxed);
        Instant::now()
    });
    let out = crate::util::runtime().run(job);
    let ended = Instant::now();
    let cancelled_at = canceller.join().unwrap();
    assert!(
        ended.duration_since(cancelled_at) < Duration::from_secs(2),
        "{:?}",
        ended.duration_since(cancelled_at)
    );
    assert!(crate::util::message(&out).contains("cancelled"), "{out:#?}");
    assert!(!running(&sleeper));
}

/// A program that ends on the timeout's SIGTERM still timed out: the script is told so, not
/// given its exit status as if it had finished.
#[test]
fn a_program_ended_by_its_timeout_is_a_timeout() {
    let sb = Sandbox::new();
    copy_binary(&sb, "sleep", "sleep");
    crate::util::runtime();
    let started = Instant::now();
    let out = run(&sb, "sleep", &["30"], vec![("timeout", 1i64.into())]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_error(
        &out,
        ErrorType::ScriptException,
        "did not finish within 1000 ms and was killed",
    );
}
