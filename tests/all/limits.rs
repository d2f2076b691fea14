//! The guest cannot hurt the host: each hostile script is stopped with its own error type, no
//! limit error can be caught by the script, and the same runtime serves the next run.

use std::time::{Duration, Instant};

use wrex::{ErrorType, Job, Limits, Policy, RunOutcome};

use crate::util::{Sandbox, assert_error, runtime, script};

fn run_with(name: &str, limits: Limits) -> RunOutcome {
    runtime().run(Job::new(script(name), Policy::parse("").unwrap()).limits(limits))
}

/// The runtime still works after whatever the previous test did to its sandbox.
#[track_caller]
fn assert_runtime_healthy() {
    let sb = Sandbox::new();
    assert_eq!(sb.run("cat_allowed", "ro").output, "hello\n");
}

#[test]
fn an_infinite_loop_hits_the_deadline() {
    let limits = Limits {
        timeout: Duration::from_millis(300),
        max_operations: 0,
        ..Limits::default()
    };
    let started = Instant::now();
    let out = run_with("infinite_loop", limits);
    assert_error(
        &out,
        ErrorType::TimeoutExceeded,
        "timeout of 300ms exceeded",
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_runtime_healthy();
}

#[test]
fn an_infinite_loop_hits_the_operation_limit() {
    let limits = Limits {
        max_operations: 100_000,
        ..Limits::default()
    };
    assert_error(
        &run_with("infinite_loop", limits),
        ErrorType::LimitExceeded,
        "operations",
    );
}

#[test]
fn deep_recursion_hits_the_call_depth_limit_uncatchably() {
    let out = run_with("deep_recursion", Limits::default());
    assert_error(&out, ErrorType::LimitExceeded, "call depth");
    let out = run_with("catch_limit", Limits::default());
    assert_error(&out, ErrorType::LimitExceeded, "call depth");
}

#[test]
fn unbounded_recursion_traps_the_guest_not_the_host() {
    // Without Rhai's depth limit the guest's own stack runs out: a trap, reported as an
    // internal error, after which the runtime serves the next run.
    let limits = Limits {
        max_call_depth: 0,
        ..Limits::default()
    };
    let out = run_with("deep_recursion", limits);
    assert!(
        matches!(
            out.error_type(),
            Some(ErrorType::InternalException | ErrorType::MemoryExceeded)
        ),
        "{out:#?}"
    );
    assert_runtime_healthy();
}

#[test]
fn a_string_doubled_towards_a_gibibyte_is_stopped() {
    // By default the memory cap stops it.
    let out = run_with("string_doubling", Limits::default());
    assert_error(
        &out,
        ErrorType::MemoryExceeded,
        "memory limit of 268435456 bytes",
    );
    assert_runtime_healthy();
    // With a string limit, Rhai stops it first.
    let limits = Limits {
        max_string_size: 1 << 20,
        ..Limits::default()
    };
    assert_error(
        &run_with("string_doubling", limits),
        ErrorType::LimitExceeded,
        "string size",
    );
}

#[test]
fn an_array_of_a_hundred_million_elements_is_stopped() {
    assert_error(
        &run_with("huge_array", Limits::default()),
        ErrorType::MemoryExceeded,
        "memory limit",
    );
    let limits = Limits {
        max_array_size: 10_000,
        ..Limits::default()
    };
    assert_error(
        &run_with("huge_array", limits),
        ErrorType::LimitExceeded,
        "array size",
    );
}

#[test]
fn a_map_bomb_is_stopped() {
    assert_error(
        &run_with("map_bomb", Limits::default()),
        ErrorType::MemoryExceeded,
        "memory limit",
    );
    let limits = Limits {
        max_map_size: 10_000,
        ..Limits::default()
    };
    assert_error(
        &run_with("map_bomb", limits),
        ErrorType::LimitExceeded,
        "map size",
    );
}

#[test]
fn a_fifty_mebibyte_script_is_refused_before_it_runs() {
    let source = format!("let x = 1;\n{}", "// padding\n".repeat(50 << 20 >> 4));
    assert!(source.len() > 50 << 19);
    let out = runtime().run(Job::new(source, Policy::parse("").unwrap()));
    assert_error(&out, ErrorType::LimitExceeded, "script size");
}

#[test]
fn a_hundred_mebibytes_of_output_is_refused() {
    let limits = Limits {
        memory: 1 << 30,
        ..Limits::default()
    };
    let out = run_with("big_output", limits);
    assert_error(&out, ErrorType::LimitExceeded, "output");
    assert!(out.output.is_empty());
}

#[test]
fn ten_million_log_calls_hit_the_host_call_quota() {
    let limits = Limits {
        max_host_calls: 10_000,
        ..Limits::default()
    };
    let out = run_with("many_logs", limits);
    assert_error(&out, ErrorType::LimitExceeded, "host calls");
    // The log kept its bounded tail.
    assert!(out.logs.unwrap().len() <= wrex::log::MAX_ENTRIES + 1);
}

#[test]
fn bytes_read_and_written_are_capped() {
    let sb = Sandbox::new();
    let mut args = wrex::ScriptArgs::new();
    args.insert("root", sb.root.as_str()).unwrap();
    let limits = Limits {
        max_read_bytes: 100,
        max_write_bytes: 100,
        ..Limits::default()
    };
    let job = Job::new(script("many_reads"), sb.policy("rw"))
        .args(args.clone())
        .limits(limits.clone());
    assert_error(&runtime().run(job), ErrorType::LimitExceeded, "bytes read");
    let job = Job::new(script("many_writes"), sb.policy("rw"))
        .args(args)
        .limits(limits);
    assert_error(
        &runtime().run(job),
        ErrorType::LimitExceeded,
        "bytes written",
    );
    // The write that would have crossed the cap did not happen.
    assert_eq!(sb.read("allowed/out.txt").unwrap().len(), 100);
}

#[test]
fn ten_thousand_policies_load_and_decide() {
    let text: String = (0..10_000)
        .map(|i| {
            format!(
                "permit (principal, action == file_system::Action::\"read\", resource in file_system::Dir::\"/data/tenant{i}\");\n"
            )
        })
        .collect();
    let started = Instant::now();
    let policy = Policy::parse(&text).unwrap();
    let loaded = started.elapsed();
    assert_eq!(policy.len(), 10_000);
    let authz = wrex::authz::Authorizer::new(policy, "u", None);
    let started = Instant::now();
    let file = wrex::fs::cedar::FsResource::File("/data/tenant9999/x".into());
    assert!(
        authz
            .authorize(wrex::fs::cedar::action::Read, &file)
            .is_ok()
    );
    let other = wrex::fs::cedar::FsResource::File("/data/other/x".into());
    assert!(
        authz
            .authorize(wrex::fs::cedar::action::Read, &other)
            .is_err()
    );
    // Figures for docs/limits.md (debug build; not asserted).
    eprintln!(
        "10,000 policies: loaded in {loaded:?}, two decisions in {:?}",
        started.elapsed()
    );
}

#[test]
fn a_policy_file_over_the_size_limit_is_refused() {
    let tree = crate::util::TempTree::new();
    tree.write("big.cedar", " ".repeat(10 << 20));
    let path = tree.path("big.cedar");
    let err = Policy::from_file(&path).unwrap_err();
    assert!(matches!(err, wrex::PolicyError::TooLarge { .. }), "{err}");
}

#[test]
fn a_cancelled_run_stops_promptly() {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let setter = flag.clone();
    let limits = Limits {
        max_operations: 0,
        ..Limits::default()
    };
    let started = Instant::now();
    let handle = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        setter.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let job = Job::new(script("infinite_loop"), Policy::parse("").unwrap())
        .limits(limits)
        .cancel_flag(flag);
    let out = runtime().run(job);
    handle.join().unwrap();
    assert_error(&out, ErrorType::ScriptException, "cancelled");
    assert!(started.elapsed() < Duration::from_secs(5));
}
